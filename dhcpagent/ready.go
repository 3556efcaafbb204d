package dhcpagent

import (
	"context"
	"maps"
	"slices"
	"sync"
	"time"
)

// readyBatch is how many port ids one dhcp_ready_on_ports call carries.
const readyBatch = 64

// readyInterval is how often pending ready ports are sent.
const readyInterval = 100 * time.Millisecond

// readyPorts collects the ports whose DHCP is configured, to report them to
// the server (which then lifts their provisioning block). Ports named by a
// notification go first.
type readyPorts struct {
	mu   sync.Mutex
	prio map[string]bool
	norm map[string]bool
}

func newReadyPorts() *readyPorts {
	return &readyPorts{prio: map[string]bool{}, norm: map[string]bool{}}
}

func (r *readyPorts) add(priority bool, ids ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, id := range ids {
		if priority {
			r.prio[id] = true
			delete(r.norm, id)
		} else if !r.prio[id] {
			r.norm[id] = true
		}
	}
}

// take removes and returns up to n ids, priority ones first.
func (r *readyPorts) take(n int) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, set := range []map[string]bool{r.prio, r.norm} {
		for _, id := range slices.Sorted(maps.Keys(set)) {
			if len(out) == n {
				return out
			}
			out = append(out, id)
			delete(set, id)
		}
	}
	return out
}

func (r *readyPorts) len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.prio) + len(r.norm)
}

// kickReady has the ready loop send the pending ports now rather than at
// its next tick (the end of a sync: the server is waiting for all of them).
func (a *Agent) kickReady() {
	select {
	case a.readyKick <- struct{}{}:
	default:
	}
}

// readyLoop sends pending ready ports every 100 ms (and when kicked), 64
// per call. Ids of a failed call are put back.
func (a *Agent) readyLoop(ctx context.Context) {
	t := time.NewTicker(readyInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-a.readyKick:
		}
		for a.ready.len() > 0 && ctx.Err() == nil {
			ids := a.ready.take(readyBatch)
			if err := a.plugin.DHCPReadyOnPorts(ctx, ids); err != nil {
				a.log.Warn("dhcp_ready_on_ports failed, will retry", "ports", len(ids), "err", err)
				a.ready.add(false, ids...)
				break
			}
		}
	}
}
