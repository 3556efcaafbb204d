package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"qdhcp/dhcpagent"
	"qdhcp/dhcpagent/config"
)

// Scenario numbers keep the ids of the scenarios apart.
const (
	scenColdSync     = 1
	scenEvents       = 2
	scenStorm        = 3
	scenColdSyncVeth = 4
)

// coldSync is the cold_sync scenario: N network files of P ports each in a
// fresh file-source directory, then the agent starts; measured from the
// start to every network's dnsmasq running and every port reported ready
// (dhcp_ready_on_ports) to the source.
func (e *benchEnv) coldSync(ctx context.Context) (res benchResult, err error) {
	return e.coldSyncWith(ctx, "cold_sync", scenColdSync, false)
}

// coldSyncVeth is the cold_sync_veth scenario: cold_sync with
// ovs_use_veth = True (veth pairs made in place: no device is moved
// between namespaces).
func (e *benchEnv) coldSyncVeth(ctx context.Context) (res benchResult, err error) {
	return e.coldSyncWith(ctx, "cold_sync_veth", scenColdSyncVeth, true)
}

func (e *benchEnv) coldSyncWith(ctx context.Context, name string, scen int, veth bool) (res benchResult, err error) {
	a, err := e.newAgent(name, func(c *config.Config) { c.OVSUseVeth = c.OVSUseVeth || veth })
	if err != nil {
		return nil, err
	}
	defer func() {
		if serr := a.stop(); serr != nil {
			err = errors.Join(err, fmt.Errorf("cleanup: %w", serr))
			res = nil
		}
	}()
	n, p := e.f.networks, e.f.ports
	ids := make([]string, 0, n)
	want := map[string]bool{}
	for i := 0; i < n; i++ {
		bn := e.newBenchNet(scen, i, 24)
		for j := 0; j < p; j++ {
			want[bn.addPort().ID] = true
		}
		if err := a.writeNet(bn.net); err != nil {
			return nil, err
		}
		ids = append(ids, bn.net.ID)
	}

	var bmu sync.Mutex
	var batches []time.Duration
	a.observe(func(r dhcpagent.BatchResult) {
		bmu.Lock()
		batches = append(batches, r.Duration)
		bmu.Unlock()
	})
	cpu := takeCPU()
	start := time.Now()
	if err := a.start(ctx); err != nil {
		return nil, err
	}
	var syncDur time.Duration
	select {
	case <-a.synced:
		syncDur = time.Since(start)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	seen := 0
	ready := map[string]bool{}
	allReady := func() bool {
		got := a.src.Server().ReadyPorts()
		for _, id := range got[seen:] {
			if want[id] {
				ready[id] = true
			}
		}
		seen = len(got)
		if len(ready) < len(want) {
			return false
		}
		for _, id := range ids {
			if !a.serving(id) {
				return false
			}
		}
		return true
	}
	if err := waitFor(ctx, 2*time.Millisecond, "every network served and every port ready", allReady); err != nil {
		return nil, err
	}
	total := time.Since(start)
	e.noteRSS("cold_sync")
	ds, as := a.st.Driver.Stats(), a.st.Agent.Stats()
	defer func() { cpu.add(res) }()
	bmu.Lock()
	per := slices.Clone(batches)
	bmu.Unlock()
	return benchResult{
		"network_setup_median_ms": ms(percentile(per, 50)),
		"network_setup_p95_ms":    ms(percentile(per, 95)),
		"networks":                n,
		"ports_per_network":       p,
		"seconds":                 round3(total.Seconds()),
		"networks_per_s":          round3(float64(n) / total.Seconds()),
		"sync_seconds":            round3(syncDur.Seconds()),
		"spawns":                  ds.Spawns,
		"renders":                 ds.Renders,
		"hups":                    ds.HUPs,
		"enables":                 as.Enables,
		"errors":                  as.Errors,
		"num_sync_threads":        a.conf.NumSyncThreads,
		"ovs_use_veth":            a.conf.OVSUseVeth,
	}, nil
}
