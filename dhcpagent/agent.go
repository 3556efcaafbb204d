// Package dhcpagent is the agent: it keeps every network scheduled to this
// host served by the DHCP driver, from a full sync at start, periodic
// resyncs and the server's notifications. It orchestrates; it never touches
// the system itself (the driver and the device manager do).
package dhcpagent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"qdhcp/dhcpagent/config"
	"qdhcp/model"
)

// Agent is one DHCP agent.
type Agent struct {
	conf   *config.Config
	plugin model.PluginAPI
	driver Driver
	log    *slog.Logger

	cache *cache
	queue *queue
	ready *readyPorts

	resyncMu      sync.Mutex
	resyncReasons map[string][]string // network id ("" = all) -> reasons
	resyncKick    chan struct{}
	readyKick     chan struct{}

	bulkMu      sync.Mutex
	bulkPending map[string]bool

	stats Stats
	// Observer, when set, is told about every finished batch (metrics).
	Observer func(BatchResult)
	// OnSync, when set, is told about every finished sync (metrics).
	OnSync func(d time.Duration, networks int, err error)
}

// Stats counts what the agent did; read with Agent.Stats.
type Stats struct {
	Events, Batches, Enables, Restarts, Reloads, Disables, Errors, Syncs atomic.Int64
	// PortsRejected counts ports from the server left out as malformed.
	PortsRejected atomic.Int64
}

// StatsSnapshot is a copy of the counters.
type StatsSnapshot struct {
	Events, Batches, Enables, Restarts, Reloads, Disables, Errors, Syncs int64
	PortsRejected                                                        int64
}

// BatchResult describes one processed batch of events for a network.
type BatchResult struct {
	NetworkID string
	Events    int
	Action    string
	Duration  time.Duration
	Err       error
}

// New returns an agent serving the networks plugin reports for this host.
func New(conf *config.Config, plugin model.PluginAPI, driver Driver, log *slog.Logger) *Agent {
	if log == nil {
		log = slog.Default()
	}
	return &Agent{
		conf:          conf,
		plugin:        plugin,
		driver:        driver,
		log:           log,
		cache:         newCache(),
		ready:         newReadyPorts(),
		resyncReasons: map[string][]string{},
		resyncKick:    make(chan struct{}, 1),
		readyKick:     make(chan struct{}, 1),
		bulkPending:   map[string]bool{},
	}
}

// Stats returns the agent's counters.
func (a *Agent) Stats() StatsSnapshot {
	s := &a.stats
	return StatsSnapshot{s.Events.Load(), s.Batches.Load(), s.Enables.Load(), s.Restarts.Load(),
		s.Reloads.Load(), s.Disables.Load(), s.Errors.Load(), s.Syncs.Load(), s.PortsRejected.Load()}
}

// Counts returns the numbers of cached networks, subnets and ports (the
// agent state report's configurations).
func (a *Agent) Counts() (networks, subnets, ports int) { return a.cache.counts() }

// Networks returns the ids of the networks the agent serves.
func (a *Agent) Networks() []string { return a.cache.ids() }

// Network returns a copy of a served network, or nil.
func (a *Agent) Network(id string) *model.Network { return a.cache.get(id) }

// QueueDepth is the number of events waiting to be processed.
func (a *Agent) QueueDepth() int {
	if a.queue == nil {
		return 0
	}
	return a.queue.depth()
}

// Run starts the agent and blocks until ctx is cancelled: cache the state
// dirs left by a previous run, full sync, then the resync, ready-port and
// bulk-reload loops. dnsmasq processes are left running when it returns.
func (a *Agent) Run(ctx context.Context) error {
	if a.conf.ResyncThrottle > a.conf.ResyncInterval {
		return fmt.Errorf("resync_throttle (%d) must not exceed resync_interval (%d)",
			a.conf.ResyncThrottle, a.conf.ResyncInterval)
	}
	qctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	a.queue = newQueue(qctx, a.conf.NumSyncThreads, a.processBatch)
	defer func() {
		cancel()
		a.queue.close()
	}()

	a.cacheStateDirs()
	if err := a.SyncState(ctx, nil); err != nil {
		a.log.Error("initial sync failed, will retry", "err", err)
		a.ScheduleResync("initial sync failed: "+err.Error(), "")
	}

	var wg sync.WaitGroup
	for _, loop := range []func(context.Context){a.resyncLoop, a.readyLoop, a.bulkReloadLoop} {
		wg.Add(1)
		go func(f func(context.Context)) { defer wg.Done(); f(ctx) }(loop)
	}
	<-ctx.Done()
	wg.Wait()
	a.log.Info("agent stopped; dnsmasq processes keep serving")
	return nil
}

// cacheStateDirs caches every UUID-named dir under dhcp_confs as an empty
// network, so that the first sync tears down networks that vanished while
// the agent was away (as neutron does).
func (a *Agent) cacheStateDirs() {
	entries, err := os.ReadDir(a.conf.DHCPConfs)
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			a.log.Warn("cannot read state dirs", "dir", a.conf.DHCPConfs, "err", err)
		}
		return
	}
	for _, e := range entries {
		if e.IsDir() && model.IsUUID(e.Name()) {
			a.cache.putEmpty(e.Name())
		}
	}
}

// ownDeviceID is this agent's DHCP port device_id on a network.
func (a *Agent) ownDeviceID(netID string) string { return model.DHCPDeviceID(a.conf.Host, netID) }
