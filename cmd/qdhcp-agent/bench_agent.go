package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"sync"
	"time"

	"qdhcp/devicemanager"
	"qdhcp/dhcpagent"
	"qdhcp/dhcpagent/config"
	"qdhcp/dnsmasq"
	"qdhcp/internal/stack"
	"qdhcp/model"
	"qdhcp/procmon"
	"qdhcp/source/filesource"
)

// benchAgent is a whole agent in this process, wired as `qdhcp-agent run`
// wires it (internal/stack), on a file source in its own state directory.
type benchAgent struct {
	e    *benchEnv
	conf *config.Config
	dir  string
	src  *filesource.Source
	st   *stack.Stack

	cancel context.CancelFunc
	done   chan error

	mu     sync.Mutex
	ids    map[string]bool // every network it was given (torn down at stop)
	obs    func(dhcpagent.BatchResult)
	synced chan struct{}
}

// newAgent prepares an agent for a scenario; write its network files, then
// start it. adjust, when given, changes the configuration first.
func (e *benchEnv) newAgent(scenario string, adjust ...func(*config.Config)) (*benchAgent, error) {
	conf, err := e.conf(scenario)
	if err != nil {
		return nil, err
	}
	for _, fn := range adjust {
		fn(conf)
	}
	dir := filepath.Join(conf.StatePath, "networks")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	a := &benchAgent{e: e, conf: conf, dir: dir, ids: map[string]bool{}, synced: make(chan struct{})}
	a.src = stack.NewFileSource(conf, dir, e.log)
	a.st, err = stack.New(conf, a.src, stack.Options{OVSDB: e.f.ovsdb, Logger: e.log})
	if err != nil {
		return nil, err
	}
	var once sync.Once
	a.st.Agent.OnSync = func(time.Duration, int, error) { once.Do(func() { close(a.synced) }) }
	a.st.Agent.Observer = func(r dhcpagent.BatchResult) {
		a.mu.Lock()
		fn := a.obs
		a.mu.Unlock()
		if fn != nil {
			fn(r)
		}
	}
	return a, nil
}

// observe sets the function told about every processed batch (nil: none).
func (a *benchAgent) observe(fn func(dhcpagent.BatchResult)) {
	a.mu.Lock()
	a.obs = fn
	a.mu.Unlock()
}

// track remembers a network id to tear down at stop.
func (a *benchAgent) track(id string) {
	a.mu.Lock()
	a.ids[id] = true
	a.mu.Unlock()
}

// writeNet writes a network file the way an editor saves: a temporary
// file renamed over.
func (a *benchAgent) writeNet(n *model.Network) error {
	a.track(n.ID)
	b, err := json.Marshal(n)
	if err != nil {
		return err
	}
	tmp := filepath.Join(a.dir, "."+n.ID+".tmp")
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(a.dir, n.ID+".json"))
}

// start starts the file source and the agent (full sync, then events).
func (a *benchAgent) start(ctx context.Context) error {
	actx, cancel := context.WithCancel(ctx)
	a.cancel = cancel
	a.st.StartMonitor(actx)
	if err := a.src.Start(actx, a.st.Notify); err != nil {
		cancel()
		return err
	}
	a.done = make(chan error, 1)
	go func() { a.done <- a.st.Run(actx) }()
	return nil
}

// paths are a network's dnsmasq files.
func (a *benchAgent) paths(netID string) dnsmasq.Paths { return dnsmasq.ConfPaths(a.conf, netID) }

// serving reports whether the network's dnsmasq runs.
func (a *benchAgent) serving(netID string) bool {
	_, ok := procmon.Active(a.paths(netID).Pid, netID)
	return ok
}

// waitFor polls cond every interval until it holds or ctx ends.
func waitFor(ctx context.Context, interval time.Duration, what string, cond func() bool) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w", what, ctx.Err())
		case <-t.C:
		}
	}
	return nil
}

// stop stops the agent and tears down every network it was given:
// dnsmasq, metadata proxy, OVS port, namespace, state; then removes the
// scenario's state directory. It runs to the end whatever fails.
func (a *benchAgent) stop() error {
	if a.cancel != nil {
		a.cancel()
		<-a.done
	}
	a.src.Close()
	defer a.st.Close()
	a.mu.Lock()
	ids := slices.Sorted(maps.Keys(a.ids))
	a.mu.Unlock()
	var errs []error
	// profile samples of the teardown are not the scenario's
	pprof.Do(context.Background(), pprof.Labels("phase", "teardown"), func(context.Context) {
		errs = teardownNetworks(a.st, a.src, ids)
	})
	if err := os.RemoveAll(a.conf.StatePath); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// stopInto is stop for a scenario's deferred cleanup: a failure joins the
// scenario's error and drops its result. A nil agent (not made) is fine.
func (a *benchAgent) stopInto(res *benchResult, err *error) {
	if a == nil {
		return
	}
	if serr := a.stop(); serr != nil {
		*err = errors.Join(*err, fmt.Errorf("cleanup: %w", serr))
		*res = nil
	}
}

// teardownNetworks disables every network (four at a time), then makes
// sure the OVS port of its DHCP device is gone even if the state dir that
// names it was not written yet.
func teardownNetworks(st *stack.Stack, src *filesource.Source, ids []string) []error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var mu sync.Mutex
	var errs []error
	work := make(chan string)
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range work {
				tap := ""
				if src != nil {
					if n := src.Server().Network(id); n != nil {
						if p := n.DHCPPortOf(st.Conf.Host); p != nil {
							tap = model.DeviceName(st.Conf.DeviceNamePrefix(), p.ID)
						}
					}
				}
				err := st.Driver.Disable(ctx, id, false)
				if tap != "" && ctx.Err() == nil {
					err = errors.Join(err, st.Devices.Destroy(ctx, id, tap, nil))
				}
				if _, serr := os.Stat("/run/netns/" + devicemanager.NamespaceName(id)); serr == nil {
					err = errors.Join(err, fmt.Errorf("namespace of %s still there", id))
				}
				if err != nil {
					mu.Lock()
					errs = append(errs, fmt.Errorf("tear down %s: %w", id, err))
					mu.Unlock()
				}
			}
		}()
	}
	for _, id := range ids {
		work <- id
	}
	close(work)
	wg.Wait()
	return errs
}
