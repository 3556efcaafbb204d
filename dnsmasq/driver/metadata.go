package driver

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"qdhcp/dnsmasq"
	"qdhcp/metadataproxy"
	"qdhcp/model"
	"qdhcp/procmon"
)

// proxyStopGrace is how long haproxy gets between SIGTERM and SIGKILL.
const proxyStopGrace = 5 * time.Second

// proxyDADTimeout bounds the wait for fe80::a9fe:a9fe to leave the
// tentative state before haproxy binds it.
const proxyDADTimeout = 10 * time.Second

// pidSuffix ends the pid file of every metadata proxy in external_pids.
const pidSuffix = ".pid." + ServiceHaproxy

// updateMetadataProxy runs or stops the isolated-metadata haproxy after an
// enable or reload, as neutron's update_isolated_metadata_proxy: started
// (restarted the first time in this agent run) when the network needs it,
// stopped and its files removed when not. A changed configuration (bind
// device, router) restarts it.
//
// haproxy cannot bind fe80::a9fe:a9fe while the address is tentative, and
// duplicate address detection takes a second or two: while it runs, a
// proxy that binds the address is started in the background once it is
// usable (or with IPv4 only if it is not), so that a sync is never held up
// by it. dnsmasq already serves the network meanwhile. Once the address is
// settled (every reload of a served network) the update is made at once.
// If DAD fails (another DHCP agent of the network holds fe80::a9fe:a9fe)
// or does not end, the proxy serves IPv4 only rather than nothing; a later
// update retries. The caller holds st.mu.
func (d *Driver) updateMetadataProxy(ctx context.Context, st *netState, net *model.Network) error {
	cfg, err := dnsmasq.MetadataProxy(net, d.conf, d.env())
	if err != nil {
		return fmt.Errorf("metadata proxy: %w", err)
	}
	d.cancelProxyWait(st)
	if cfg == nil {
		return d.stopMetadataProxy(st, net.ID)
	}
	if cfg.BindAddressV6 == "" {
		return d.applyMetadataProxy(ctx, st, net.ID, cfg)
	}
	addr := netip.MustParseAddr(model.MetadataLinkLocalV6)
	if ready, err := d.devices.AddressReady(net.ID, cfg.BindInterface, addr); ready || err != nil {
		d.bindV6OrNot(cfg, net.ID, err)
		return d.applyMetadataProxy(ctx, st, net.ID, cfg)
	}
	wctx, cancel := context.WithTimeout(context.Background(), proxyDADTimeout)
	w := &proxyWait{cancel: cancel, done: make(chan struct{})}
	st.proxyWait = w
	go func() {
		defer close(w.done)
		defer cancel()
		werr := d.devices.WaitAddressReady(wctx, net.ID, cfg.BindInterface, addr)
		st.mu.Lock()
		defer st.mu.Unlock()
		if st.proxyWait != w {
			return // superseded by a later update, or the network went
		}
		st.proxyWait = nil
		d.bindV6OrNot(cfg, net.ID, werr)
		if err := d.applyMetadataProxy(context.Background(), st, net.ID, cfg); err != nil {
			d.log.Error("metadata proxy failed", "network", net.ID, "err", err)
			if d.onAsyncError != nil {
				d.onAsyncError(net.ID, err)
			}
		}
	}()
	return nil
}

// bindV6OrNot drops the proxy's IPv6 bind when its address is not usable
// (err from the address check).
func (d *Driver) bindV6OrNot(cfg *metadataproxy.Config, netID string, err error) {
	if err == nil {
		return
	}
	d.log.Warn("metadata proxy: IPv6 address not usable, serving IPv4 only", "network", netID, "device", cfg.BindInterface, "err", err)
	cfg.BindAddressV6, cfg.BindInterface = "", ""
}

// proxyWait is a metadata proxy update waiting in the background for its
// IPv6 address.
type proxyWait struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// cancelProxyWait drops the network's pending background proxy update.
// The caller holds st.mu.
func (d *Driver) cancelProxyWait(st *netState) {
	if st.proxyWait != nil {
		st.proxyWait.cancel()
		st.proxyWait = nil
	}
}

// WaitMetadataProxy waits until no metadata proxy update of the network
// waits in the background (its haproxy then runs, or not, as configured).
func (d *Driver) WaitMetadataProxy(ctx context.Context, networkID string) error {
	d.mu.Lock()
	st := d.nets[networkID]
	d.mu.Unlock()
	if st == nil {
		return nil
	}
	st.mu.Lock()
	w := st.proxyWait
	st.mu.Unlock()
	if w == nil {
		return nil
	}
	select {
	case <-w.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// applyMetadataProxy makes the proxy run with cfg. The caller holds st.mu.
func (d *Driver) applyMetadataProxy(ctx context.Context, st *netState, netID string, cfg *metadataproxy.Config) error {
	if st.proxyUUID != "" && st.proxyUUID != cfg.UUID() {
		// keyed differently now (a router came or went on a metadata network)
		if err := d.stopMetadataProxy(st, netID); err != nil {
			return err
		}
	}
	if !st.proxySwept {
		// first time in this agent run: a proxy an earlier run left in
		// this namespace under another id would hold 169.254.169.254:80
		if err := d.stopStrayProxies(netID, cfg.UUID()); err != nil {
			return err
		}
		st.proxySwept = true
	}
	data, err := cfg.Render()
	if err != nil {
		return fmt.Errorf("metadata proxy: %w", err)
	}
	old, _ := readFileIfExists(cfg.ConfigPath())
	if err := writeProxyConfig(cfg, data); err != nil {
		return err
	}
	pid, running := procmon.Active(cfg.PidFile(), cfg.UUID())
	if running && st.proxyActive && slices.Equal(old, data) {
		return nil
	}
	if running {
		d.mon.Unregister(cfg.UUID(), ServiceHaproxy)
		if err := d.killer.Stop(ServiceHaproxy, pid, proxyStopGrace); err != nil {
			return fmt.Errorf("metadata proxy: %w", err)
		}
		d.log.Info("metadata proxy stopped for restart", "network", netID, "uuid", cfg.UUID(), "pid", pid)
	}
	if err := startProxy(ctx, netID, cfg); err != nil {
		return err
	}
	st.proxyActive, st.proxyUUID = true, cfg.UUID()
	pid, _ = procmon.Active(cfg.PidFile(), cfg.UUID())
	d.log.Info("metadata proxy started", "network", netID, "uuid", cfg.UUID(), "pid", pid, "ipv6", cfg.BindAddressV6 != "")
	return d.mon.Register(procmon.Service{UUID: cfg.UUID(), Name: ServiceHaproxy, PidFile: cfg.PidFile(),
		Respawn: d.respawnProxy(netID, cfg, data)})
}

// writeProxyConfig writes the haproxy config (and makes the pid dir).
func writeProxyConfig(cfg *metadataproxy.Config, data []byte) error {
	for _, dir := range []string{filepath.Dir(cfg.ConfigPath()), filepath.Dir(cfg.PidFile())} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("metadata proxy: %w", err)
		}
	}
	if err := writeFileAtomic(cfg.ConfigPath(), data, 0o644); err != nil {
		return fmt.Errorf("metadata proxy: %w", err)
	}
	return nil
}

// startProxy runs haproxy -f <config> in the network's namespace; haproxy
// daemonises and writes its pid file before the started parent exits.
func startProxy(ctx context.Context, netID string, cfg *metadataproxy.Config) error {
	if err := procmon.Daemon(ctx, namespace(netID), cfg.Argv()); err != nil {
		return fmt.Errorf("start haproxy for %s: %w", cfg.UUID(), err)
	}
	return nil
}

// respawnProxy is the monitor's respawn of a dead haproxy: under the
// network's lock, unless the proxy was unregistered meanwhile (stopped on
// purpose), with its config written again in case it was lost.
func (d *Driver) respawnProxy(netID string, cfg *metadataproxy.Config, data []byte) func(context.Context) error {
	return func(ctx context.Context) error {
		st := d.state(netID)
		st.mu.Lock()
		defer st.mu.Unlock()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err := writeProxyConfig(cfg, data); err != nil {
			return err
		}
		return startProxy(ctx, netID, cfg)
	}
}

// stopMetadataProxy stops a network's haproxy if one runs and removes its
// config and pid files. The proxy is keyed by the network id, or by a
// router id on a metadata network (st.proxyUUID). The first time in an
// agent run, proxies an earlier run left in the network's namespace under
// any other id (a router this run never saw) are stopped too.
func (d *Driver) stopMetadataProxy(st *netState, netID string) error {
	d.cancelProxyWait(st)
	uuid := netID
	if st.proxyUUID != "" {
		uuid = st.proxyUUID
	}
	st.proxyActive, st.proxyUUID = false, ""
	errs := []error{d.stopProxy(netID, uuid)}
	if !st.proxySwept {
		err := d.stopStrayProxies(netID, uuid)
		st.proxySwept = err == nil
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// stopProxy unregisters and stops the haproxy for uuid (SIGTERM, SIGKILL
// after proxyStopGrace) and removes its config and pid files.
func (d *Driver) stopProxy(netID, uuid string) error {
	cfg := d.proxyFiles(uuid)
	d.mon.Unregister(uuid, ServiceHaproxy)
	var errs []error
	if pid, ok := procmon.Active(cfg.PidFile(), uuid); ok {
		start := time.Now()
		if err := d.killer.Stop(ServiceHaproxy, pid, proxyStopGrace); err != nil {
			errs = append(errs, fmt.Errorf("stop haproxy %d for %s: %w", pid, uuid, err))
		} else {
			d.log.Info("metadata proxy stopped", "network", netID, "uuid", uuid, "pid", pid, "took", time.Since(start).Round(time.Millisecond))
		}
	}
	for _, p := range []string{cfg.ConfigPath(), cfg.PidFile()} {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, fmt.Errorf("metadata proxy: %w", err))
		}
	}
	return errors.Join(errs...)
}

// stopStrayProxies stops every haproxy with a pid file in external_pids
// that runs in the network's namespace under an id other than keep: one
// an earlier agent run started for a router that is gone, or for the
// network before a router made it a metadata network.
func (d *Driver) stopStrayProxies(netID, keep string) error {
	ns := namespace(netID)
	if _, err := os.Stat("/var/run/netns/" + ns); err != nil {
		return nil // no namespace, no proxy in it
	}
	dir := d.proxyFiles(keep).PidFile()
	dir = dir[:strings.LastIndexByte(dir, '/')+1]
	entries, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("metadata proxy: %w", err)
	}
	var errs []error
	for _, e := range entries {
		uuid, ok := strings.CutSuffix(e.Name(), pidSuffix)
		if !ok || uuid == keep || !model.IsUUID(uuid) {
			continue
		}
		pid, alive := procmon.Active(dir+e.Name(), uuid)
		if !alive || !sameNetns(pid, ns) {
			continue
		}
		d.log.Info("metadata proxy left in the namespace under another id", "network", netID, "uuid", uuid, "pid", pid)
		errs = append(errs, d.stopProxy(netID, uuid))
	}
	return errors.Join(errs...)
}

// proxyFiles is enough of a proxy's config to name its files.
func (d *Driver) proxyFiles(uuid string) *metadataproxy.Config {
	return &metadataproxy.Config{NetworkID: uuid, StatePath: d.conf.StatePath, ExternalPids: d.conf.ExternalPids}
}
