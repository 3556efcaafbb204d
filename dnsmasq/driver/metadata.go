package driver

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"time"

	"qdhcp/dnsmasq"
	"qdhcp/metadataproxy"
	"qdhcp/model"
	"qdhcp/procmon"
)

// proxyStopGrace is how long haproxy gets between SIGTERM and SIGKILL.
const proxyStopGrace = 5 * time.Second

// updateMetadataProxy runs or stops the isolated-metadata haproxy after an
// enable or reload, as neutron's update_isolated_metadata_proxy: started
// (restarted the first time in this agent run) when the network needs it,
// stopped and its files removed when not.
func (d *Driver) updateMetadataProxy(ctx context.Context, st *netState, net *model.Network) error {
	env := d.env()
	cfg, err := dnsmasq.MetadataProxy(net, d.conf, env)
	if err != nil {
		return fmt.Errorf("metadata proxy: %w", err)
	}
	if cfg == nil || (st.proxyUUID != "" && st.proxyUUID != cfg.UUID()) {
		if err := d.stopMetadataProxy(st, net.ID); err != nil || cfg == nil {
			return err
		}
	}
	if cfg.BindAddressV6 != "" {
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := d.devices.WaitAddressReady(wctx, net.ID, cfg.BindInterface, netip.MustParseAddr(model.MetadataLinkLocalV6))
		cancel()
		if err != nil {
			return fmt.Errorf("metadata proxy: %w", err)
		}
	}
	data, err := cfg.Render()
	if err != nil {
		return fmt.Errorf("metadata proxy: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(cfg.ConfigPath()), 0o755); err != nil {
		return fmt.Errorf("metadata proxy: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(cfg.PidFile()), 0o755); err != nil {
		return fmt.Errorf("metadata proxy: %w", err)
	}
	old, _ := readFileIfExists(cfg.ConfigPath())
	if err := writeFileAtomic(cfg.ConfigPath(), data, 0o644); err != nil {
		return fmt.Errorf("metadata proxy: %w", err)
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
	}
	argv := cfg.Argv()
	ns := namespace(net.ID)
	start := func(ctx context.Context) error {
		if err := procmon.Daemon(ctx, ns, argv); err != nil {
			return fmt.Errorf("start haproxy: %w", err)
		}
		return nil
	}
	if err := start(ctx); err != nil {
		return err
	}
	st.proxyActive, st.proxyUUID = true, cfg.UUID()
	d.log.Info("metadata proxy started", "network", net.ID, "uuid", cfg.UUID())
	return d.mon.Register(procmon.Service{UUID: cfg.UUID(), Name: ServiceHaproxy, PidFile: cfg.PidFile(), Respawn: start})
}

// stopMetadataProxy stops a network's haproxy if one runs and removes its
// config and pid files. The proxy is keyed by the network id, or by a
// router id on a metadata network (st.proxyUUID).
func (d *Driver) stopMetadataProxy(st *netState, netID string) error {
	uuid := netID
	if st.proxyUUID != "" {
		uuid = st.proxyUUID
	}
	cfg := &metadataproxy.Config{NetworkID: uuid, StatePath: d.conf.StatePath, ExternalPids: d.conf.ExternalPids}
	d.mon.Unregister(uuid, ServiceHaproxy)
	st.proxyActive, st.proxyUUID = false, ""
	var errs []error
	if pid, ok := procmon.Active(cfg.PidFile(), uuid); ok {
		if err := d.killer.Stop(ServiceHaproxy, pid, proxyStopGrace); err != nil {
			errs = append(errs, err)
		} else {
			d.log.Info("metadata proxy stopped", "network", netID, "pid", pid)
		}
	}
	for _, p := range []string{cfg.ConfigPath(), cfg.PidFile()} {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
