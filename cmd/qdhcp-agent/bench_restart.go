package main

import (
	"context"
	"time"

	"qdhcp/procmon"
)

const scenRestart = 5

// restartSync is the restart_sync scenario: an agent serves N networks of
// P ports, stops as on SIGTERM (dnsmasq keeps serving), and a new agent
// starts on the same state: measured from its start to every network
// adopted (served by the same dnsmasq, reloaded, not respawned) and every
// port reported ready. This is an agent upgrade or restart on a network
// node.
func (e *benchEnv) restartSync(ctx context.Context) (res benchResult, err error) {
	first, err := e.newAgent("restart_sync")
	if err != nil {
		return nil, err
	}
	second := first // stopped (and everything torn down) at the end
	defer func() { second.stopInto(&res, &err) }()
	n, p := e.f.networks, e.f.ports
	ids, want, err := e.writeBenchNets(first, scenRestart)
	if err != nil {
		return nil, err
	}
	if err := first.start(ctx); err != nil {
		return nil, err
	}
	if err := first.waitServed(ctx, ids, want); err != nil {
		return nil, err
	}
	pids := map[string]int{}
	for _, id := range ids {
		pid, _ := procmon.Active(first.paths(id).Pid, id)
		pids[id] = pid
	}
	first.detach()

	second, err = e.newAgent("restart_sync")
	if err != nil {
		second = first
		return nil, err
	}
	for _, id := range ids {
		second.track(id)
	}
	cpu := takeCPU()
	start := time.Now()
	if err := second.start(ctx); err != nil {
		return nil, err
	}
	if err := second.waitServed(ctx, ids, want); err != nil {
		return nil, err
	}
	total := time.Since(start)
	same := 0
	for _, id := range ids {
		if pid, ok := procmon.Active(second.paths(id).Pid, id); ok && pid == pids[id] {
			same++
		}
	}
	ds, as := second.st.Driver.Stats(), second.st.Agent.Stats()
	defer func() { cpu.add(res) }()
	return benchResult{
		"networks":          n,
		"ports_per_network": p,
		"seconds":           round3(total.Seconds()),
		"networks_per_s":    round3(float64(n) / total.Seconds()),
		"adoptions":         ds.Adoptions,
		"spawns":            ds.Spawns,
		"hups":              ds.HUPs,
		"same_dnsmasq":      same,
		"errors":            as.Errors,
		"what":              "agent restarted on the same state: every network adopted (same dnsmasq) and every port reported ready",
	}, nil
}

// waitServed waits until every network's dnsmasq runs and every wanted
// port was reported ready to the agent's source.
func (a *benchAgent) waitServed(ctx context.Context, ids []string, want map[string]bool) error {
	select {
	case <-a.synced:
	case <-ctx.Done():
		return ctx.Err()
	}
	seen := 0
	ready := map[string]bool{}
	return waitFor(ctx, 2*time.Millisecond, "every network served and every port ready", func() bool {
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
	})
}

// detach stops the agent as SIGTERM does: its dnsmasq processes, devices
// and state stay for the next agent.
func (a *benchAgent) detach() {
	if a.cancel != nil {
		a.cancel()
		<-a.done
		a.cancel = nil
	}
	a.src.Close()
	a.st.Close()
}
