package main

import (
	"context"
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
	defer a.stopInto(&res, &err)
	n, p := e.f.networks, e.f.ports
	ids, want, err := e.writeBenchNets(a, scen)
	if err != nil {
		return nil, err
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
	if err := a.waitServed(ctx, ids, want); err != nil {
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

// writeBenchNets writes the scenario's N network files of P VM ports each
// for the agent; it returns their ids and the set of port ids.
func (e *benchEnv) writeBenchNets(a *benchAgent, scen int) (ids []string, want map[string]bool, err error) {
	want = map[string]bool{}
	for i := 0; i < e.f.networks; i++ {
		bn := e.newBenchNet(scen, i, 24)
		for j := 0; j < e.f.ports; j++ {
			want[bn.addPort().ID] = true
		}
		if err := a.writeNet(bn.net); err != nil {
			return nil, nil, err
		}
		ids = append(ids, bn.net.ID)
	}
	return ids, want, nil
}
