// Package driver runs dnsmasq for networks: neutron's Dnsmasq driver. It
// sets the DHCP port and device up through the device manager, writes the
// files the dnsmasq package renders (atomically), spawns dnsmasq in the
// network's namespace, reloads it with SIGHUP, releases stale leases, keeps
// it alive through the process monitor, and runs the isolated-metadata
// haproxy next to it.
//
// One deliberate difference from neutron: enabling a network whose dnsmasq
// already runs with the same argv (a full resync, a network_update_end, an
// agent restart) reloads it instead of killing it, so clients keep their
// server and leases.
package driver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"qdhcp/internal/pypath"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"qdhcp/devicemanager"
	"qdhcp/dhcpagent/config"
	"qdhcp/dnsmasq"
	"qdhcp/model"
	"qdhcp/procmon"
)

// Service names in the process monitor (neutron's).
const (
	ServiceDnsmasq = "dnsmasq"
	ServiceHaproxy = "haproxy"
)

// Devices is the device manager as the driver uses it
// (*devicemanager.Manager).
type Devices interface {
	Setup(ctx context.Context, net *model.Network, port *model.Port) (string, error)
	Update(ctx context.Context, net *model.Network, port *model.Port) error
	Destroy(ctx context.Context, networkID, devName string, plugin model.PluginAPI) error
	IPv6Enabled() bool
	WaitAddressReady(ctx context.Context, networkID, devName string, addr netip.Addr) error
	AddressReady(networkID, devName string, addr netip.Addr) (bool, error)
}

// Options tune a Driver; zero values are fine.
type Options struct {
	// DnsmasqPath is the dnsmasq binary for the host-tag probe (default
	// "dnsmasq" on PATH); the spawned argv always starts with "dnsmasq".
	DnsmasqPath string
	// HostTagSupport overrides the probe of the installed dnsmasq.
	HostTagSupport *bool
	// Now is the clock for initial lease expiries (default time.Now).
	Now func() time.Time
	// Logger (default slog.Default()).
	Logger *slog.Logger
	// OnAsyncError is told about a failure of work the driver finished in
	// the background (a metadata proxy started once its IPv6 address was
	// usable), e.g. to schedule a resync of the network.
	OnAsyncError func(networkID string, err error)
}

// Stats counts the driver's work, for metrics and benchmarks.
type Stats struct {
	Renders, Spawns, HUPs, Adoptions, Kills, Releases int64
}

// Driver is neutron's Dnsmasq driver for every network of the agent.
type Driver struct {
	conf    *config.Config
	plugin  model.PluginAPI
	devices Devices
	mon     *procmon.Monitor
	killer  procmon.Killer
	log     *slog.Logger
	now     func() time.Time
	hostTag bool

	onAsyncError func(networkID string, err error)

	mu   sync.Mutex
	nets map[string]*netState

	renders, spawns, hups, adoptions, kills, releases atomic.Int64
}

// netState is what the driver knows of one network.
type netState struct {
	mu          sync.Mutex
	port        *model.Port
	dev         string
	argv        []string
	proxyActive bool       // the metadata proxy was (re)started by this agent run
	proxyUUID   string     // the id the proxy runs under (network or router id)
	proxySwept  bool       // proxies of earlier runs in the namespace were looked for
	proxyWait   *proxyWait // a proxy update waiting for its IPv6 address
}

// New returns a driver. mon supervises dnsmasq and haproxy; plugin is the
// server (DHCP port setup and release).
func New(conf *config.Config, plugin model.PluginAPI, devices Devices, mon *procmon.Monitor, opts Options) *Driver {
	d := &Driver{
		conf:    conf,
		plugin:  plugin,
		devices: devices,
		mon:     mon,
		killer:  procmon.Killer{ScriptsPath: conf.Agent.KillScriptsPath},
		log:     opts.Logger,
		now:     opts.Now,
		nets:    map[string]*netState{},

		onAsyncError: opts.OnAsyncError,
	}
	if d.log == nil {
		d.log = slog.Default()
	}
	if d.now == nil {
		d.now = time.Now
	}
	if opts.HostTagSupport != nil {
		d.hostTag = *opts.HostTagSupport
	} else {
		path := opts.DnsmasqPath
		if path == "" {
			path = "dnsmasq"
		}
		d.hostTag = dnsmasq.SupportsHostTags(path)
	}
	return d
}

// Stats returns the driver's counters.
func (d *Driver) Stats() Stats {
	return Stats{d.renders.Load(), d.spawns.Load(), d.hups.Load(), d.adoptions.Load(), d.kills.Load(), d.releases.Load()}
}

func (d *Driver) state(netID string) *netState {
	d.mu.Lock()
	defer d.mu.Unlock()
	s, ok := d.nets[netID]
	if !ok {
		s = &netState{}
		d.nets[netID] = s
	}
	return s
}

func (d *Driver) forget(netID string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.nets, netID)
}

func (d *Driver) env() dnsmasq.Env {
	return dnsmasq.Env{HostTagSupport: d.hostTag, IPv6Enabled: d.devices.IPv6Enabled(), Now: d.now()}
}

func namespace(netID string) string { return devicemanager.NamespaceName(netID) }

// Enable makes net served. net.Ports gets this agent's DHCP port.
func (d *Driver) Enable(ctx context.Context, net *model.Network) error {
	if err := model.ValidateID("network id", net.ID); err != nil {
		return err
	}
	if !net.HasDHCPSubnet() {
		return d.Disable(ctx, net.ID, false)
	}
	st := d.state(net.ID)
	st.mu.Lock()
	defer st.mu.Unlock()
	return d.enableLocked(ctx, st, net)
}

func (d *Driver) enableLocked(ctx context.Context, st *netState, net *model.Network) error {
	paths := dnsmasq.ConfPaths(d.conf, net.ID)
	port, err := devicemanager.SetupDHCPPort(ctx, d.plugin, d.conf, net)
	if err != nil {
		return fmt.Errorf("set up DHCP port: %w", err)
	}
	// render (and, when no dnsmasq runs for the network, write its files)
	// while the device is being set up: neither needs the other
	prepared := make(chan *prepared, 1)
	go func() { prepared <- d.prepare(paths, net, model.DeviceName(d.conf.DeviceNamePrefix(), port.ID)) }()
	dev, err := d.devices.Setup(ctx, net, port)
	pre := <-prepared
	if err != nil {
		if pre.madeDir {
			// leave no state dir behind for a network that is not served
			os.RemoveAll(paths.Dir)
		}
		if errors.Is(err, devicemanager.ErrPlug) {
			// neutron releases the port when plugging failed
			if rerr := d.plugin.ReleaseDHCPPort(ctx, net.ID, model.DHCPDeviceID(d.conf.Host, net.ID)); rerr != nil {
				d.log.Warn("release DHCP port after failed plug", "network", net.ID, "err", rerr)
			}
		}
		return err
	}
	st.port, st.dev = port.Clone(), dev
	if pre.err == nil && pre.files.Interface != dev {
		pre = d.prepare(paths, net, dev) // not the device name foreseen
	}
	if pre.err != nil {
		return pre.err
	}
	d.renders.Add(1)
	files := pre.files

	pid, running := procmon.Active(paths.Pid, net.ID)
	if running && d.sameProcess(pid, files.Argv, net.ID) {
		// adopt: same argv in the same namespace; a reload is enough
		first := st.argv == nil
		st.argv = files.Argv
		if err := d.reloadRunning(ctx, st, net, paths, files, pid); err != nil {
			return err
		}
		if first {
			d.adoptions.Add(1)
			d.log.Info("dnsmasq adopted", "network", net.ID, "pid", pid)
		}
		return d.afterConfigure(ctx, st, net)
	}
	if running {
		d.log.Info("dnsmasq argv changed, restarting", "network", net.ID, "pid", pid)
		if err := d.stopDnsmasq(net.ID, paths, pid); err != nil {
			return err
		}
	}
	if !pre.wrote || running {
		if err := writeSpawnFiles(paths, files); err != nil {
			return err
		}
	}
	if d.conf.DnsmasqBaseLogDir != "" {
		if err := os.MkdirAll(pypath.Join(pypath.AbsNorm(d.conf.DnsmasqBaseLogDir), net.ID), 0o755); err != nil {
			return fmt.Errorf("dnsmasq log dir: %w", err)
		}
	}
	st.argv = files.Argv
	if err := d.spawn(ctx, net.ID, files.Argv); err != nil {
		return err
	}
	return d.afterConfigure(ctx, st, net)
}

// prepared is a network's render before dnsmasq is (re)started.
type prepared struct {
	files   *dnsmasq.Files
	wrote   bool // leases, host, addn_hosts and opts are written
	madeDir bool // the state dir did not exist before
	err     error
}

// prepare creates the network's state dir, writes its interface file,
// renders its files for device dev and, when no dnsmasq runs for the
// network (none can read them meanwhile: dnsmasq is only started by the
// caller, which holds the network's lock), writes the files a spawn needs.
func (d *Driver) prepare(paths dnsmasq.Paths, net *model.Network, dev string) *prepared {
	p := &prepared{}
	if _, err := os.Stat(paths.Dir); errors.Is(err, os.ErrNotExist) {
		p.madeDir = true
	}
	if err := os.MkdirAll(paths.Dir, 0o755); err != nil {
		p.err = fmt.Errorf("state dir: %w", err)
		return p
	}
	if err := writeFileAtomic(paths.Interface, []byte(dev), 0o644); err != nil {
		p.err = err
		return p
	}
	prev, err := readFileIfExists(paths.Leases)
	if err != nil {
		p.err = fmt.Errorf("read leases: %w", err)
		return p
	}
	p.files, err = dnsmasq.Render(&dnsmasq.Input{Network: net, Conf: d.conf, Env: d.env(), DeviceName: dev, PrevLeases: prev})
	if err != nil {
		p.err = fmt.Errorf("render: %w", err)
		return p
	}
	if _, running := procmon.Active(paths.Pid, net.ID); !running {
		if err := writeSpawnFiles(paths, p.files); err != nil {
			p.err = err
			return p
		}
		p.wrote = true
	}
	return p
}

// writeSpawnFiles writes the files dnsmasq reads at start: leases, host,
// addn_hosts and opts (each atomically, all at once).
func writeSpawnFiles(paths dnsmasq.Paths, files *dnsmasq.Files) error {
	return writeFilesAtomic([]fileContent{{paths.Leases, files.Leases}, {paths.Host, files.Host},
		{paths.AddnHosts, files.AddnHosts}, {paths.Opts, files.Opts}}, 0o644)
}

// afterConfigure registers dnsmasq with the monitor and updates the
// metadata proxy.
func (d *Driver) afterConfigure(ctx context.Context, st *netState, net *model.Network) error {
	d.register(net.ID, st.argv)
	return d.updateMetadataProxy(ctx, st, net)
}

// sameProcess reports whether pid runs argv inside the network's namespace.
func (d *Driver) sameProcess(pid int, argv []string, netID string) bool {
	cmd, err := procmon.Cmdline(pid)
	if err != nil || !slices.Equal(cmd, argv) {
		return false
	}
	return sameNetns(pid, namespace(netID))
}

// sameNetns compares the network namespace of pid with the named one.
func sameNetns(pid int, ns string) bool {
	a, err := os.Stat(fmt.Sprintf("/proc/%d/ns/net", pid))
	if err != nil {
		return false
	}
	b, err := os.Stat("/var/run/netns/" + ns)
	if err != nil {
		return false
	}
	sa, ok1 := a.Sys().(*syscall.Stat_t)
	sb, ok2 := b.Sys().(*syscall.Stat_t)
	return ok1 && ok2 && sa.Ino == sb.Ino && sa.Dev == sb.Dev
}

// spawn starts dnsmasq in the network's namespace and waits for its pid.
func (d *Driver) spawn(ctx context.Context, netID string, argv []string) error {
	start := time.Now()
	if err := procmon.Daemon(ctx, namespace(netID), argv); err != nil {
		return fmt.Errorf("spawn dnsmasq: %w", err)
	}
	paths := dnsmasq.ConfPaths(d.conf, netID)
	pid, ok := procmon.Active(paths.Pid, netID)
	for i := 0; !ok && i < 100; i++ {
		time.Sleep(10 * time.Millisecond)
		pid, ok = procmon.Active(paths.Pid, netID)
	}
	if !ok {
		return fmt.Errorf("spawn dnsmasq: no live dnsmasq behind %s", paths.Pid)
	}
	d.spawns.Add(1)
	d.log.Info("dnsmasq spawned", "network", netID, "pid", pid, "duration", time.Since(start).Round(time.Microsecond))
	return nil
}

// register (re-)registers dnsmasq with the monitor; a respawn reruns argv.
func (d *Driver) register(netID string, argv []string) {
	argv = slices.Clone(argv)
	err := d.mon.Register(procmon.Service{
		UUID:    netID,
		Name:    ServiceDnsmasq,
		PidFile: dnsmasq.ConfPaths(d.conf, netID).Pid,
		Respawn: func(ctx context.Context) error {
			st := d.state(netID)
			st.mu.Lock()
			defer st.mu.Unlock()
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return d.spawn(ctx, netID, argv)
		},
	})
	if err != nil {
		d.log.Error("register dnsmasq with the monitor", "network", netID, "err", err)
	}
}

// stopDnsmasq unregisters and kills (-9) a network's dnsmasq and removes
// its pid file.
func (d *Driver) stopDnsmasq(netID string, paths dnsmasq.Paths, pid int) error {
	d.mon.Unregister(netID, ServiceDnsmasq)
	if pid > 0 {
		if err := d.killer.Stop(ServiceDnsmasq, pid, 0); err != nil {
			return fmt.Errorf("kill dnsmasq %d: %w", pid, err)
		}
		d.kills.Add(1)
	}
	if err := os.Remove(paths.Pid); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove pid file: %w", err)
	}
	return nil
}

// Restart stops dnsmasq, keeping the port, and enables again.
func (d *Driver) Restart(ctx context.Context, net *model.Network) error {
	st := d.state(net.ID)
	st.mu.Lock()
	defer st.mu.Unlock()
	paths := dnsmasq.ConfPaths(d.conf, net.ID)
	pid, running := procmon.Active(paths.Pid, net.ID)
	if !running {
		pid = 0
	}
	if err := d.stopDnsmasq(net.ID, paths, pid); err != nil {
		return err
	}
	st.argv = nil
	if !net.HasDHCPSubnet() {
		return nil
	}
	return d.enableLocked(ctx, st, net)
}

// ReloadAllocations rewrites host/addn_hosts/opts, releases stale leases
// and HUPs dnsmasq (spawning it if it is not running).
func (d *Driver) ReloadAllocations(ctx context.Context, net *model.Network) error {
	if !net.HasDHCPSubnet() {
		return d.Disable(ctx, net.ID, false)
	}
	st := d.state(net.ID)
	st.mu.Lock()
	defer st.mu.Unlock()
	paths := dnsmasq.ConfPaths(d.conf, net.ID)
	devb, err := readFileIfExists(paths.Interface)
	if err != nil || len(devb) == 0 {
		d.log.Warn("reload skipped: network has no interface file (not enabled)", "network", net.ID)
		return nil
	}
	dev := string(devb)
	files, err := dnsmasq.RenderReload(&dnsmasq.Input{Network: net, Conf: d.conf, Env: d.env(), DeviceName: dev})
	if err != nil {
		if errors.Is(err, dnsmasq.ErrNoDHCPPort) {
			// the cached network lost our port: set it up again
			return d.enableLocked(ctx, st, net)
		}
		return fmt.Errorf("render: %w", err)
	}
	d.renders.Add(1)
	pid, running := procmon.Active(paths.Pid, net.ID)
	if !running {
		d.log.Warn("dnsmasq not running at reload, spawning", "network", net.ID)
		return d.enableLocked(ctx, st, net)
	}
	if err := d.reloadRunning(ctx, st, net, paths, files, pid); err != nil {
		return err
	}
	if st.argv == nil {
		st.argv, _ = procmon.Cmdline(pid)
	}
	d.register(net.ID, st.argv)
	if port := net.DHCPPortOf(d.conf.Host); port != nil {
		if err := d.devices.Update(ctx, net, port); err != nil {
			return err
		}
	}
	return d.updateMetadataProxy(ctx, st, net)
}

// reloadRunning releases stale leases, writes host/addn_hosts/opts and
// HUPs the running dnsmasq; a dnsmasq that dies of the HUP (quirk: it may
// segfault after serving a tagged host) is respawned at once by the monitor.
func (d *Driver) reloadRunning(ctx context.Context, st *netState, net *model.Network, paths dnsmasq.Paths, files *dnsmasq.Files, pid int) error {
	dev := files.Interface
	if err := d.releaseStaleLeases(ctx, net, paths, dev); err != nil {
		d.log.Warn("stale lease release failed", "network", net.ID, "err", err)
	}
	if err := writeFilesAtomic([]fileContent{{paths.Host, files.Host}, {paths.AddnHosts, files.AddnHosts},
		{paths.Opts, files.Opts}}, 0o644); err != nil {
		return err
	}
	if err := d.killer.Signal(ServiceDnsmasq, pid, syscall.SIGHUP); err != nil {
		return fmt.Errorf("reload dnsmasq %d: %w", pid, err)
	}
	d.hups.Add(1)
	d.log.Info("dnsmasq reloaded", "network", net.ID, "pid", pid)
	if !d.mon.CheckNow(net.ID, ServiceDnsmasq) {
		d.log.Warn("dnsmasq died after reload, respawning", "network", net.ID, "pid", pid)
	}
	return nil
}

// Disable stops dnsmasq and the metadata proxy; unless retainPort it also
// destroys the device and namespace, releases the DHCP port and removes the
// state dir.
func (d *Driver) Disable(ctx context.Context, networkID string, retainPort bool) error {
	if err := model.ValidateID("network id", networkID); err != nil {
		return err
	}
	st := d.state(networkID)
	st.mu.Lock()
	defer st.mu.Unlock()
	paths := dnsmasq.ConfPaths(d.conf, networkID)
	pid, running := procmon.Active(paths.Pid, networkID)
	if !running {
		pid = 0
	}
	var errs []error
	errs = append(errs, d.stopDnsmasq(networkID, paths, pid))
	st.argv = nil
	if !retainPort {
		errs = append(errs, d.stopMetadataProxy(st, networkID))
		dev := st.dev
		if b, err := readFileIfExists(paths.Interface); err == nil && len(b) > 0 {
			dev = string(b)
		}
		errs = append(errs, d.devices.Destroy(ctx, networkID, dev, d.plugin))
		if err := os.RemoveAll(paths.Dir); err != nil {
			errs = append(errs, fmt.Errorf("remove %s: %w", paths.Dir, err))
		}
		d.forget(networkID)
		d.log.Info("network torn down", "network", networkID)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("disable %s: %w", networkID, err)
	}
	return nil
}
