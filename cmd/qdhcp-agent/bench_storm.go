package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"qdhcp/dhcpagent"
	"qdhcp/model"
	"qdhcp/source/memory"
)

// Goals of the storm.
const (
	stormGoalSeconds = 1.0
	stormGoalHUPs    = 10
)

// storm is the storm scenario: M port_create_end notifications for one
// served network handed to the agent in a burst (as the source would
// deliver them); measured until the host file holds every new port, with
// the renders and HUPs it took, then until every port was reported ready.
func (e *benchEnv) storm(ctx context.Context) (res benchResult, err error) {
	a, bn, err := e.servedNet(ctx, "storm", scenStorm, 10)
	defer a.stopInto(&res, &err)
	if err != nil {
		return nil, err
	}
	id := bn.net.ID
	paths := a.paths(id)

	// one port_create_end per port, as the server casts them
	m := e.f.storm
	notes := make([]model.Notification, 0, m)
	macs := make([][]byte, 0, m)
	want := make(map[string]bool, m)
	empty := &model.Network{ID: id, AdminStateUp: bn.net.AdminStateUp, MTU: bn.net.MTU, Subnets: bn.net.Subnets}
	for k := 0; k < m; k++ {
		p := bn.addPort()
		one := *empty
		one.Ports = []*model.Port{p}
		d := memory.Diff(empty, &one)
		if len(d) != 1 {
			return nil, fmt.Errorf("expected one notification per port, got %d", len(d))
		}
		notes = append(notes, d[0])
		macs = append(macs, []byte(p.MACAddress))
		want[p.ID] = true
	}

	done := make(chan batchDone, 4*m)
	a.observe(func(r dhcpagent.BatchResult) {
		if r.NetworkID == id {
			select {
			case done <- batchDone{r, time.Now()}:
			default:
			}
		}
	})
	ds0, as0 := a.st.Driver.Stats(), a.st.Agent.Stats()
	readySeen := len(a.src.Server().ReadyPorts())

	cpu := takeCPU()
	start := time.Now()
	for _, n := range notes {
		a.st.Notify(n)
	}
	burst := time.Since(start)
	var all time.Duration
	for all == 0 {
		select {
		case b := <-done:
			if b.r.Err != nil {
				return nil, fmt.Errorf("batch failed: %w", b.r.Err)
			}
			if hostHasAll(paths.Host, macs) {
				all = b.at.Sub(start)
			}
		case <-time.After(30 * time.Second):
			return nil, errors.New("the storm's ports did not all reach the host file within 30 s")
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	// every port reported ready (the ready loop sends every 100 ms)
	ready := map[string]bool{}
	if err := waitFor(ctx, 2*time.Millisecond, "storm ports ready", func() bool {
		got := a.src.Server().ReadyPorts()
		for _, pid := range got[readySeen:] {
			if want[pid] {
				ready[pid] = true
			}
		}
		readySeen = len(got)
		return len(ready) == len(want)
	}); err != nil {
		return nil, err
	}
	readyAt := time.Since(start)
	// let the queue drain before counting
	if err := waitFor(ctx, 5*time.Millisecond, "queue drained", func() bool { return a.st.Agent.QueueDepth() == 0 }); err != nil {
		return nil, err
	}
	time.Sleep(50 * time.Millisecond)
	e.noteRSS("storm")
	ds, as := a.st.Driver.Stats(), a.st.Agent.Stats()
	hups := ds.HUPs - ds0.HUPs
	defer func() { cpu.add(res) }()
	return benchResult{
		"ports":             m,
		"burst_ms":          ms(burst),
		"seconds":           round3(all.Seconds()),
		"ready_seconds":     round3(readyAt.Seconds()),
		"renders":           ds.Renders - ds0.Renders,
		"hups":              hups,
		"batches":           as.Batches - as0.Batches,
		"dnsmasq_restarts":  ds.Spawns - ds0.Spawns,
		"goal_seconds":      stormGoalSeconds,
		"goal_hups":         stormGoalHUPs,
		"ports_on_network":  len(bn.net.Ports),
		"host_file_entries": countLines(paths.Host),
		"ok":                all.Seconds() <= stormGoalSeconds && hups <= stormGoalHUPs,
	}, nil
}

// hostHasAll reports whether the host file holds every MAC (each line
// starts with one).
func hostHasAll(path string, macs [][]byte) bool {
	b, err := os.ReadFile(path)
	if err != nil {
		return false
	}
	have := map[string]bool{}
	for _, line := range bytes.Split(b, []byte("\n")) {
		if mac, _, ok := bytes.Cut(line, []byte(",")); ok {
			have[string(mac)] = true
		}
	}
	for _, m := range macs {
		if !have[string(m)] {
			return false
		}
	}
	return true
}

func countLines(path string) int {
	b, _ := os.ReadFile(path)
	return bytes.Count(b, []byte("\n"))
}
