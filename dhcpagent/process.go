package dhcpagent

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"qdhcp/model"
)

// action is what a batch finally does to a network, weakest first.
type action int

const (
	actNone action = iota
	actReload
	actRefresh
	actConfigure
	actRecreate // own DHCP port deleted: full disable, then configure
	actDisable
)

func (a action) String() string {
	return [...]string{"none", "reload", "refresh", "configure", "recreate", "disable"}[a]
}

// plan folds a batch (sorted by priority) into one action, applying the
// port changes to the cache on the way. syncNet is the network a full sync
// delivered (no need to fetch it again).
type plan struct {
	act     action
	syncNet *model.Network
	ready   []string // port ids to report ready (priority) when done
	now     bool     // reload at once even with bulk_reload_interval
}

func (a *Agent) planBatch(netID string, batch []*event) plan {
	var p plan
	raise := func(to action) {
		if p.act != actDisable && to > p.act {
			p.act = to
		}
	}
	for _, ev := range batch {
		switch ev.kind {
		case evConfigure:
			// the last network-level decision wins
			p.act, p.syncNet = actConfigure, ev.net
		case evDisable:
			p.act, p.syncNet = actDisable, nil
		case evRefresh:
			if !a.cache.has(netID) {
				raise(actConfigure)
			} else {
				raise(actRefresh)
			}
		case evReloadNow:
			raise(actReload)
			p.now = true
		case evPort:
			if p.act == actDisable {
				continue
			}
			if a.cache.isStale(ev.port) {
				a.log.Debug("dropping stale port update", "network", netID, "port", ev.port.ID,
					"revision", ev.port.RevisionNumber)
				continue
			}
			if ev.create && a.duplicateIP(netID, ev.port) {
				a.log.Warn("duplicate IP in port create, resyncing network", "network", netID, "port", ev.port.ID)
				raise(actRefresh)
			}
			if !a.cache.putPort(ev.port) {
				continue // network not served here
			}
			raise(actReload)
			p.ready = append(p.ready, ev.port.ID)
		case evPortDelete:
			removed := a.cache.removePort(ev.portID)
			if removed == nil || p.act == actDisable {
				continue
			}
			if removed.DeviceID == a.ownDeviceID(netID) {
				a.log.Warn("this agent's DHCP port was deleted, recreating", "network", netID, "port", ev.portID)
				raise(actRecreate)
				continue
			}
			raise(actReload)
		}
	}
	return p
}

// duplicateIP reports whether another cached port of the network holds one
// of port's IPs (the cache is then out of sync with the server).
func (a *Agent) duplicateIP(netID string, port *model.Port) bool {
	return a.cache.ipTaken(netID, port)
}

// processBatch runs one coalesced batch of events for a network.
func (a *Agent) processBatch(ctx context.Context, netID string, batch []*event) {
	start := time.Now()
	a.stats.Batches.Add(1)
	p := a.planBatch(netID, batch)
	err := a.execute(ctx, netID, p)
	if err != nil {
		a.stats.Errors.Add(1)
		if !errors.Is(err, context.Canceled) {
			a.log.Error("network action failed, resync scheduled", "network", netID, "action", p.act.String(), "err", err)
			a.ScheduleResync(fmt.Sprintf("%s failed: %v", p.act, err), netID)
		}
	} else if p.act != actNone {
		a.ready.add(true, p.ready...)
		a.log.Debug("network processed", "network", netID, "action", p.act.String(), "events", len(batch),
			"duration", time.Since(start))
	}
	for _, ev := range batch {
		ev.finish(err)
	}
	if a.Observer != nil {
		a.Observer(BatchResult{NetworkID: netID, Events: len(batch), Action: p.act.String(),
			Duration: time.Since(start), Err: err})
	}
}

func (a *Agent) execute(ctx context.Context, netID string, p plan) error {
	switch p.act {
	case actDisable:
		return a.disable(ctx, netID)
	case actRecreate:
		if err := a.driver.Disable(ctx, netID, false); err != nil {
			return fmt.Errorf("disable %s: %w", netID, err)
		}
		a.stats.Disables.Add(1)
		return a.configure(ctx, netID, nil)
	case actConfigure:
		return a.configure(ctx, netID, p.syncNet)
	case actRefresh:
		return a.refresh(ctx, netID)
	case actReload:
		if a.conf.BulkReloadInterval > 0 && !p.now {
			a.bulkMu.Lock()
			a.bulkPending[netID] = true
			a.bulkMu.Unlock()
			return nil
		}
		return a.reload(ctx, netID)
	}
	return nil
}

// disable tears a network down if this agent serves it.
func (a *Agent) disable(ctx context.Context, netID string) error {
	if !a.cache.has(netID) {
		return nil
	}
	if err := a.driver.Disable(ctx, netID, false); err != nil {
		return fmt.Errorf("disable %s: %w", netID, err)
	}
	a.stats.Disables.Add(1)
	a.cache.remove(netID)
	a.log.Info("network disabled", "network", netID)
	return nil
}

// configure serves net (fetched from the server and checked when nil; a
// caller that passes one, sync or refresh, has checked it already):
// neutron's configure_dhcp_for_network. A network that is admin down or
// has no DHCP subnet is not served (and torn down if it was).
func (a *Agent) configure(ctx context.Context, netID string, net *model.Network) error {
	if net == nil {
		var err error
		if net, err = a.plugin.GetNetworkInfo(ctx, netID); err != nil {
			return fmt.Errorf("get_network_info %s: %w", netID, err)
		}
		if net == nil {
			a.log.Info("network not found on the server", "network", netID)
			return a.disable(ctx, netID)
		}
		if net, err = a.checkNetwork(net); err != nil {
			return err
		}
	}
	if !net.IsAdminUp() || !net.HasDHCPSubnet() {
		return a.disable(ctx, netID)
	}
	net = net.Clone()
	if err := a.driver.Enable(ctx, net); err != nil {
		return fmt.Errorf("enable %s: %w", netID, err)
	}
	a.stats.Enables.Add(1)
	a.cache.put(net)
	ids := make([]string, 0, len(net.Ports))
	for _, p := range net.Ports {
		ids = append(ids, p.ID)
	}
	a.ready.add(false, ids...)
	return nil
}

// checkNetwork validates a network from the server. A port that fails the
// checks is left out and reported, so that one tenant's hostile port (an
// option value that would inject a dnsmasq directive, say) does not take
// DHCP away from every other port of a shared network; a problem with the
// network itself, or with this agent's own DHCP port, rejects it.
func (a *Agent) checkNetwork(net *model.Network) (*model.Network, error) {
	net, bad := net.WithoutInvalidPorts()
	own := a.ownDeviceID(net.ID)
	for _, b := range bad {
		if b.Port != nil && b.Port.DeviceID == own {
			return nil, fmt.Errorf("network %s from the server: its DHCP port is malformed: %w", net.ID, b.Err)
		}
	}
	if err := net.Validate(); err != nil {
		return nil, fmt.Errorf("network %s from the server is malformed: %w", net.ID, err)
	}
	for _, b := range bad {
		portID := ""
		if b.Port != nil {
			portID = b.Port.ID
		}
		a.stats.PortsRejected.Add(1)
		a.log.Error("port left out: malformed", "network", net.ID, "port", portID, "err", b.Err)
	}
	return net, nil
}

// refresh is neutron's refresh_dhcp_helper: re-read the network; reload
// when the DHCP CIDRs are unchanged, restart when they changed.
func (a *Agent) refresh(ctx context.Context, netID string) error {
	old := a.cache.get(netID)
	net, err := a.plugin.GetNetworkInfo(ctx, netID)
	if err != nil {
		return fmt.Errorf("get_network_info %s: %w", netID, err)
	}
	if net == nil {
		return a.disable(ctx, netID)
	}
	if net, err = a.checkNetwork(net); err != nil {
		return err
	}
	if old == nil || len(old.Subnets) == 0 {
		return a.configure(ctx, netID, net)
	}
	if !net.HasDHCPSubnet() || !net.IsAdminUp() {
		return a.disable(ctx, netID)
	}
	// keep the agent's DHCP port as the driver set it up: the server's
	// copy is the same port, but carry it over if the server omitted it.
	if slices.Equal(old.DHCPCIDRs(), net.DHCPCIDRs()) {
		if err := a.driver.ReloadAllocations(ctx, net); err != nil {
			return fmt.Errorf("reload %s: %w", netID, err)
		}
		a.stats.Reloads.Add(1)
	} else {
		if err := a.driver.Restart(ctx, net); err != nil {
			return fmt.Errorf("restart %s: %w", netID, err)
		}
		a.stats.Restarts.Add(1)
		a.log.Info("network restarted, DHCP subnets changed", "network", netID,
			"cidrs", net.DHCPCIDRs())
	}
	a.cache.put(net)
	return nil
}

// reload rewrites a served network's allocations from the cache.
func (a *Agent) reload(ctx context.Context, netID string) error {
	net := a.cache.get(netID)
	if net == nil || len(net.Subnets) == 0 {
		return nil
	}
	if err := a.driver.ReloadAllocations(ctx, net); err != nil {
		return fmt.Errorf("reload %s: %w", netID, err)
	}
	a.stats.Reloads.Add(1)
	return nil
}
