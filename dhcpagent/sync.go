package dhcpagent

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// SyncState is neutron's sync_state: fetch every network active on this
// host, tear down cached networks that are gone, and configure the networks
// that are new, unknown, or requested in ids (all of them when ids is nil).
// Networks are configured in parallel (num_sync_threads) through the
// per-network queue, so a sync never races an event for the same network.
// It returns once every network is done.
func (a *Agent) SyncState(ctx context.Context, ids []string) error {
	start := time.Now()
	a.stats.Syncs.Add(1)
	active, err := a.plugin.GetActiveNetworksInfo(ctx, false)
	if err != nil {
		return fmt.Errorf("get_active_networks_info: %w", err)
	}
	want := map[string]bool{}
	for _, id := range ids {
		want[id] = true
	}
	activeIDs := map[string]bool{}
	var wg sync.WaitGroup
	var done, failed atomic.Int64
	total := 0
	finish := func(err error) {
		if err != nil {
			failed.Add(1)
		}
		n := done.Add(1)
		if n%100 == 0 {
			a.log.Info(fmt.Sprintf("synced %d/%d networks", n, total))
		}
		wg.Done()
	}
	var work []func()
	for _, net := range active {
		if net == nil {
			continue
		}
		clean, err := a.checkNetwork(net)
		if err != nil {
			a.log.Error("skipping malformed network from the server", "network", net.ID, "err", err)
			continue
		}
		net = clean
		activeIDs[net.ID] = true
		if ids != nil && !want[net.ID] && a.cache.has(net.ID) {
			continue
		}
		n := net
		total++
		work = append(work, func() {
			a.queue.add(n.ID, &event{kind: evConfigure, prio: prioResync, method: "sync", net: n, done: finish})
		})
	}
	for _, id := range a.cache.ids() {
		if !activeIDs[id] {
			total++
			netID := id
			work = append(work, func() {
				a.queue.add(netID, &event{kind: evDisable, prio: prioResync, method: "sync", done: finish})
			})
		}
	}
	wg.Add(len(work))
	for _, w := range work {
		w()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	a.ready.add(false, a.cache.portIDs()...)
	a.kickReady()
	a.log.Info("sync done", "networks", total, "failed", failed.Load(), "duration", time.Since(start).Round(time.Millisecond))
	if failed.Load() > 0 {
		err = fmt.Errorf("%d of %d networks failed", failed.Load(), total)
	}
	if a.OnSync != nil {
		a.OnSync(time.Since(start), total, err)
	}
	return err
}

// ScheduleResync asks for a resync of one network (or of all, with "").
func (a *Agent) ScheduleResync(reason, networkID string) {
	a.resyncMu.Lock()
	a.resyncReasons[networkID] = append(a.resyncReasons[networkID], reason)
	a.resyncMu.Unlock()
	select {
	case a.resyncKick <- struct{}{}:
	default:
	}
}

// takeResync returns the pending resync request: all (nil ids, full=true)
// or some network ids.
func (a *Agent) takeResync() (ids []string, full bool, reasons string, any bool) {
	a.resyncMu.Lock()
	defer a.resyncMu.Unlock()
	if len(a.resyncReasons) == 0 {
		return nil, false, "", false
	}
	var rs []string
	for id, r := range a.resyncReasons {
		if id == "" {
			full = true
		} else {
			ids = append(ids, id)
		}
		rs = append(rs, r...)
	}
	a.resyncReasons = map[string][]string{}
	sort.Strings(ids)
	if full {
		ids = nil
	}
	return ids, full, strings.Join(rs, "; "), true
}

// resyncLoop runs the scheduled resyncs: at most one every resync_throttle
// seconds, and a check at least every resync_interval seconds.
func (a *Agent) resyncLoop(ctx context.Context) {
	interval := time.Duration(a.conf.ResyncInterval) * time.Second
	throttle := time.Duration(a.conf.ResyncThrottle) * time.Second
	if interval <= 0 {
		interval = time.Second
	}
	var last time.Time
	t := time.NewTimer(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-a.resyncKick:
		case <-t.C:
			t.Reset(interval)
		}
		if wait := throttle - time.Since(last); wait > 0 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
		}
		ids, full, reasons, ok := a.takeResync()
		if !ok {
			continue
		}
		last = time.Now()
		a.log.Info("resync", "full", full, "networks", len(ids), "reasons", reasons)
		if err := a.SyncState(ctx, ids); err != nil && ctx.Err() == nil {
			a.log.Error("resync failed, will retry", "err", err)
			if full {
				a.ScheduleResync("previous resync failed", "")
			} else {
				for _, id := range ids {
					a.ScheduleResync("previous resync failed", id)
				}
			}
		}
	}
}

// bulkReloadLoop performs the reloads deferred by bulk_reload_interval: one
// per network every interval.
func (a *Agent) bulkReloadLoop(ctx context.Context) {
	if a.conf.BulkReloadInterval <= 0 {
		return
	}
	t := time.NewTicker(time.Duration(a.conf.BulkReloadInterval) * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		a.bulkMu.Lock()
		pending := a.bulkPending
		a.bulkPending = map[string]bool{}
		a.bulkMu.Unlock()
		for id := range pending {
			a.queue.add(id, &event{kind: evReloadNow, prio: prioPort, method: "bulk_reload"})
		}
	}
}
