package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"time"

	"github.com/fsnotify/fsnotify"

	"qdhcp/dhcpagent"
	"qdhcp/model"
	"qdhcp/source/filesource"
	"qdhcp/source/memory"
)

// eventGoalP95Ms is the goal for the injected single-port event.
const eventGoalP95Ms = 20.0

// batchDone is a processed batch and when the observer saw it.
type batchDone struct {
	r  dhcpagent.BatchResult
	at time.Time
}

// servedNet starts an agent for a scenario with one network of `ports`
// ports on a /20 and waits until its dnsmasq runs.
func (e *benchEnv) servedNet(ctx context.Context, scenario string, num, ports int) (*benchAgent, *benchNet, error) {
	a, err := e.newAgent(scenario)
	if err != nil {
		return nil, nil, err
	}
	bn := e.newBenchNet(num, 0, 20)
	for j := 0; j < ports; j++ {
		bn.addPort()
	}
	if err := a.writeNet(bn.net); err != nil {
		return a, nil, err
	}
	if err := a.start(ctx); err != nil {
		return a, nil, err
	}
	if err := waitFor(ctx, 5*time.Millisecond, "network served", func() bool { return a.serving(bn.net.ID) }); err != nil {
		return a, nil, err
	}
	select {
	case <-a.synced:
	case <-ctx.Done():
		return a, nil, ctx.Err()
	}
	return a, bn, nil
}

// hostWatch notes when the network's host file is first seen holding an
// expected MAC address.
type hostWatch struct {
	w      *fsnotify.Watcher
	path   string
	expect atomic.Pointer[string]
	seenAt atomic.Int64 // unix ns, 0: not yet
	done   chan struct{}
}

func watchHost(path string) (*hostWatch, error) {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, err
	}
	if err := w.Add(filepath.Dir(path)); err != nil {
		w.Close()
		return nil, err
	}
	h := &hostWatch{w: w, path: path, done: make(chan struct{})}
	go func() {
		defer close(h.done)
		for {
			select {
			case ev, ok := <-w.Events:
				if !ok {
					return
				}
				if ev.Name != path || !ev.Has(fsnotify.Create) && !ev.Has(fsnotify.Write) {
					continue
				}
				at := time.Now()
				if mac := h.expect.Load(); mac != nil && h.seenAt.Load() == 0 {
					if b, err := os.ReadFile(path); err == nil && bytes.Contains(b, []byte(*mac)) {
						h.seenAt.Store(at.UnixNano())
					}
				}
			case _, ok := <-w.Errors:
				if !ok {
					return
				}
			}
		}
	}()
	return h, nil
}

// arm starts looking for mac.
func (h *hostWatch) arm(mac string) {
	h.seenAt.Store(0)
	h.expect.Store(&mac)
}

func (h *hostWatch) close() {
	h.w.Close()
	<-h.done
}

// latencies are event -> host file holding the port, and event -> the
// batch done (host, addn_hosts, opts written and dnsmasq HUPed).
type latencies struct{ host, hup []time.Duration }

// eventLatency is the event_latency scenario: single-port creates on a
// served network, one at a time, through two paths: injected straight
// into the agent as the port_create_end notification the source would
// send, and written into the network file (through the file source's
// watch and debounce). Each measures event -> host file holds the port and
// event -> HUP sent.
func (e *benchEnv) eventLatency(ctx context.Context) (res benchResult, err error) {
	a, bn, err := e.servedNet(ctx, "event_latency", scenEvents, 10)
	defer a.stopInto(&res, &err)
	if err != nil {
		return nil, err
	}
	id := bn.net.ID
	paths := a.paths(id)
	hw, err := watchHost(paths.Host)
	if err != nil {
		return nil, err
	}
	defer hw.close()
	done := make(chan batchDone, 1024)
	a.observe(func(r dhcpagent.BatchResult) {
		if r.NetworkID == id {
			select {
			case done <- batchDone{r, time.Now()}:
			default:
			}
		}
	})

	spawns0 := a.st.Driver.Stats().Spawns
	one := func(send func(*model.Port) error, lat *latencies) error {
		for len(done) > 0 {
			<-done
		}
		prevHUPs := a.st.Driver.Stats().HUPs
		p := bn.addPort()
		hw.arm(p.MACAddress)
		start := time.Now()
		if err := send(p); err != nil {
			return err
		}
		deadline := time.After(10 * time.Second)
		for {
			select {
			case b := <-done:
				if b.r.Err != nil {
					return fmt.Errorf("batch failed: %w", b.r.Err)
				}
				if a.st.Driver.Stats().HUPs <= prevHUPs || !fileHas(paths.Host, p.MACAddress) {
					continue
				}
				lat.hup = append(lat.hup, b.at.Sub(start))
				if err := waitFor(ctx, time.Millisecond, "host file event", func() bool { return hw.seenAt.Load() != 0 }); err != nil {
					return err
				}
				lat.host = append(lat.host, time.Unix(0, hw.seenAt.Load()).Sub(start))
				return nil
			case <-deadline:
				return fmt.Errorf("port %s not served within 10 s", p.ID)
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}

	var injected, file latencies
	for k := 0; k < e.f.events; k++ {
		if err := one(func(*model.Port) error { return a.writeNet(bn.net) }, &file); err != nil {
			return nil, fmt.Errorf("file event %d: %w", k, err)
		}
	}
	for k := 0; k < e.f.events; k++ {
		if err := one(func(p *model.Port) error {
			prev := bn.net.Clone()
			prev.Ports = prev.Ports[:len(prev.Ports)-1]
			notes := memory.Diff(prev, bn.net)
			if len(notes) != 1 || notes[0].Method != "port_create_end" {
				return fmt.Errorf("expected one port_create_end, got %d notifications", len(notes))
			}
			a.st.Notify(notes[0])
			return nil
		}, &injected); err != nil {
			return nil, fmt.Errorf("injected event %d: %w", k, err)
		}
	}
	p95 := percentile(injected.hup, 95)
	debounce := a.src.Debounce
	if debounce == 0 {
		debounce = filesource.DefaultDebounce
	}
	return benchResult{
		"events":                   e.f.events,
		"injected_hup_median_ms":   ms(percentile(injected.hup, 50)),
		"injected_hup_p95_ms":      ms(p95),
		"injected_host_median_ms":  ms(percentile(injected.host, 50)),
		"injected_host_p95_ms":     ms(percentile(injected.host, 95)),
		"file_hup_median_ms":       ms(percentile(file.hup, 50)),
		"file_hup_p95_ms":          ms(percentile(file.hup, 95)),
		"file_host_median_ms":      ms(percentile(file.host, 50)),
		"file_host_p95_ms":         ms(percentile(file.host, 95)),
		"file_debounce_ms":         ms(debounce),
		"dnsmasq_restarts":         a.st.Driver.Stats().Spawns - spawns0,
		"ports_on_network_at_end":  len(bn.net.Ports),
		"goal_injected_hup_p95_ms": eventGoalP95Ms,
		"ok":                       ms(p95) < eventGoalP95Ms,
	}, nil
}

// fileHas reports whether the file contains s.
func fileHas(path, s string) bool {
	b, err := os.ReadFile(path)
	return err == nil && bytes.Contains(b, []byte(s))
}

// percentile is the nearest-rank percentile of ds.
func percentile(ds []time.Duration, pct int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := (len(s)*pct + 99) / 100
	if i < 1 {
		i = 1
	}
	return s[i-1]
}
