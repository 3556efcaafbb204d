// Package devicemanager owns every change qdhcp makes to the host's
// networking for a network's DHCP service, as neutron's DeviceManager and
// OVSInterfaceDriver do: the DHCP port on the server (SetupDHCPPort), the
// qdhcp-<network> namespace, the DHCP device, the device's MAC, MTU,
// addresses and default routes (netlink) and the DHCP checksum-fill rules
// (go-iptables). The device is the OVS internal port tap<port-id[:11]>,
// created through OVSDB (libovsdb) and moved into the namespace; with
// ovs_use_veth it is the end ns-<port-id[:11]> of a veth pair made in place,
// whose root end tap<port-id[:11]> is the OVS port. It runs no `ip`,
// `ovs-vsctl` or `iptables` command itself.
//
// Calls for one network are serialised by the Manager; different networks
// are handled concurrently.
package devicemanager

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"qdhcp/dhcpagent/config"
	"qdhcp/model"
)

// Manager plugs, configures, repairs and removes DHCP devices.
type Manager struct {
	conf    *config.Config
	log     *slog.Logger
	ovs     *ovsDB
	ipv6    bool
	timeout time.Duration

	mu    sync.Mutex
	locks map[string]*netLock
	// live holds the networks set up and not destroyed since: only those
	// are repaired (a repair racing with a teardown must not plug the
	// device of a network that is gone again).
	live map[string]bool
}

type netLock struct {
	mu   sync.Mutex
	refs int
}

// Option adjusts a Manager.
type Option func(*Manager)

// WithOVSDBEndpoints replaces the OVSDB endpoints (OVSDB connection format:
// unix:/path, tcp:host:port), tried in order.
func WithOVSDBEndpoints(endpoints ...string) Option {
	return func(m *Manager) { m.ovs.endpoints = append([]string(nil), endpoints...) }
}

// WithIPv6 overrides the kernel's IPv6 detection.
func WithIPv6(enabled bool) Option { return func(m *Manager) { m.ipv6 = enabled } }

// WithTimeout sets how long an OVSDB call, ovs-vswitchd applying a change
// or a new device appearing may take (default [OVS] ovsdb_timeout, 10 s).
func WithTimeout(d time.Duration) Option {
	return func(m *Manager) { m.timeout = d; m.ovs.timeout = d }
}

// New returns a Manager. OVSDB is reached at [OVS] ovsdb_connection
// (neutron's default tcp:127.0.0.1:6640), falling back to the local unix
// socket unix:/var/run/openvswitch/db.sock when that does not answer. The
// connection is made on first use and remade after it drops.
func New(conf *config.Config, log *slog.Logger, opts ...Option) (*Manager, error) {
	if log == nil {
		log = slog.Default()
	}
	timeout := time.Duration(conf.OVS.OVSDBTimeout) * time.Second
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	var endpoints []string
	if c := strings.TrimSpace(conf.OVS.OVSDBConnection); c != "" {
		endpoints = append(endpoints, c)
	}
	if len(endpoints) == 0 || endpoints[0] != DefaultOVSDBSocket {
		endpoints = append(endpoints, DefaultOVSDBSocket)
	}
	if conf.LinuxBridgeDriver() {
		return nil, fmt.Errorf("devicemanager: interface_driver %q is not supported: qdhcp plugs DHCP ports into Open vSwitch (openvswitch, with or without ovs_use_veth)", conf.InterfaceDriver)
	}
	log = log.With("component", "devicemanager")
	m := &Manager{
		conf:    conf,
		log:     log,
		ovs:     newOVSDB(endpoints, timeout, log),
		ipv6:    kernelIPv6Enabled(),
		timeout: timeout,
		locks:   map[string]*netLock{},
		live:    map[string]bool{},
	}
	for _, o := range opts {
		o(m)
	}
	if len(m.ovs.endpoints) == 0 {
		return nil, errors.New("devicemanager: no OVSDB endpoint")
	}
	return m, nil
}

// Close drops the OVSDB connection.
func (m *Manager) Close() { m.ovs.close() }

// IPv6Enabled reports whether the kernel has IPv6 enabled
// (/proc/sys/net/ipv6/conf/default/disable_ipv6 is 0), unless overridden.
func (m *Manager) IPv6Enabled() bool { return m.ipv6 }

// Plan computes what Setup applies for net and its DHCP port.
func (m *Manager) Plan(net *model.Network, port *model.Port) *Plan {
	return NewPlan(m.conf, net, port, m.ipv6)
}

// setLive records whether the network's device is wanted (Setup) or gone
// (Destroy).
func (m *Manager) setLive(networkID string, live bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if live {
		m.live[networkID] = true
	} else {
		delete(m.live, networkID)
	}
}

func (m *Manager) isLive(networkID string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.live[networkID]
}

// lock serialises the calls for one network.
func (m *Manager) lock(networkID string) func() {
	m.mu.Lock()
	l := m.locks[networkID]
	if l == nil {
		l = &netLock{}
		m.locks[networkID] = l
	}
	l.refs++
	m.mu.Unlock()
	l.mu.Lock()
	return func() {
		l.mu.Unlock()
		m.mu.Lock()
		if l.refs--; l.refs == 0 {
			delete(m.locks, networkID)
		}
		m.mu.Unlock()
	}
}

// Setup makes the network's DHCP device ready, as neutron's
// DeviceManager.setup does after setup_dhcp_port: namespace qdhcp-<net>
// (with ip_nonlocal_bind=1 and, with IPv6, default accept_ra=0), the device
// plugged unless it is already there with carrier (then only its MTU is
// re-applied), the checksum-fill rules after a fresh plug, init_l3
// addresses, default routes, and every other device in the namespace
// unplugged. It returns the device name.
//
// When plugging fails the device is unplugged again and the error wraps
// ErrPlug; releasing the DHCP port (as neutron does then) is the caller's
// decision.
func (m *Manager) Setup(ctx context.Context, net *model.Network, port *model.Port) (string, error) {
	p := m.Plan(net, port)
	defer m.lock(net.ID)()
	m.setLive(net.ID, true)
	if err := m.apply(ctx, p, false); err != nil {
		return "", fmt.Errorf("set up DHCP device %s for network %s: %w", p.Device, net.ID, err)
	}
	return p.Device, nil
}

// Update re-applies the addresses and default routes of the network's DHCP
// device (after a reload: neutron's DeviceManager.update).
func (m *Manager) Update(ctx context.Context, net *model.Network, port *model.Port) error {
	p := m.Plan(net, port)
	defer m.lock(net.ID)()
	h, err := nsHandle(p.Namespace)
	if err != nil {
		return fmt.Errorf("update %s: %w", p.Device, err)
	}
	defer h.Close()
	l, err := linkByName(h, p.Device)
	if err != nil {
		return fmt.Errorf("update %s: %w", p.Device, err)
	}
	if l == nil {
		return fmt.Errorf("update %s: no such device in %s", p.Device, p.Namespace)
	}
	if err := applyAddresses(h, l, p.Addresses); err != nil {
		return fmt.Errorf("update %s: %w", p.Device, err)
	}
	if err := applyRoutes(h, l, p.Routes, p.IPv6); err != nil {
		return fmt.Errorf("update %s: %w", p.Device, err)
	}
	return nil
}

// apply runs the whole Setup sequence for a plan. When repairing, a failed
// plug leaves the OVS port in place (ovs-vswitchd, once back, recreates its
// tap for the next attempt) and is not an ErrPlug: the DHCP port must not
// be released for it.
//
// A network without a namespace yet has no device either: its OVS port is
// created, and ovs-vswitchd's work on it awaited, while the namespace is
// made and prepared (a fresh network's setup is mostly these two waits).
func (m *Manager) apply(ctx context.Context, p *Plan, repair bool) (err error) {
	var early chan ovsPlugged
	if !p.Veth && !namespaceExists(p.Namespace) {
		early = make(chan ovsPlugged, 1)
		go func() { early <- m.plugOVS(ctx, nil, p) }()
		defer func() {
			if early == nil {
				return // consumed by the plug
			}
			// failed before the plug: take an OVS port made early away
			// again (a repair keeps it, as a failed plug does)
			o := <-early
			if o.root != nil {
				o.root.Close()
			}
			if o.created && !repair {
				if uerr := m.unplug(ctx, nil, p.Namespace, p.Device); uerr != nil {
					m.log.Warn("unplug after a failed setup", "device", p.Device, "err", uerr)
				}
			}
		}()
	}
	freshNS, err := ensureNamespace(p.Namespace)
	if err != nil {
		return err
	}
	if err := m.writeSysctls(p); err != nil {
		return err
	}
	mac, err := net.ParseMAC(p.MAC)
	if err != nil {
		return fmt.Errorf("port %s: MAC %q: %w", p.PortID, p.MAC, err)
	}
	h, err := nsHandle(p.Namespace)
	if err != nil {
		return err
	}
	defer h.Close()
	if err := loopbackUp(h); err != nil {
		return fmt.Errorf("namespace %s: %w", p.Namespace, err)
	}

	ready := false
	if early == nil {
		if ready, err = m.deviceReady(h, p); err != nil {
			return err
		}
	}
	if ready {
		m.log.Debug("reusing existing device", "device", p.Device, "namespace", p.Namespace)
		l, err := linkByName(h, p.Device)
		if err != nil {
			return err
		}
		if l == nil {
			return fmt.Errorf("device %s vanished from %s", p.Device, p.Namespace)
		}
		if err := configureLink(h, l, nil, p.MTU); err != nil {
			return err
		}
		if p.Veth {
			// the veth outlives its OVS port: make sure it is there
			if err := m.ensureVethPort(ctx, p, false); err != nil {
				return err
			}
		}
	} else {
		// the checksum rules do not depend on the device: they are added
		// while the plug waits for ovs-vswitchd, and both are done before
		// Setup returns
		rules := make(chan error, 1)
		go func() { rules <- ensureChecksumRules(p.Namespace, p.ChecksumRules, freshNS) }()
		var err error
		switch {
		case p.Veth:
			err = m.plugVeth(ctx, h, p, mac)
		case early != nil:
			o := <-early
			early = nil
			err = m.plugMove(o, h, p, mac)
		default:
			err = m.plug(ctx, h, p, mac)
		}
		if err != nil {
			<-rules
			if repair {
				return err
			}
			m.log.Error("unable to plug DHCP port, unplugging", "network", p.NetworkID, "device", p.Device, "err", err)
			if uerr := m.unplug(ctx, h, p.Namespace, p.Device); uerr != nil {
				m.log.Warn("unplug after failed plug", "device", p.Device, "err", uerr)
			}
			return fmt.Errorf("%w: %w", ErrPlug, err)
		}
		if err := <-rules; err != nil {
			return err
		}
	}

	l, err := linkByName(h, p.Device)
	if err != nil {
		return err
	}
	if l == nil {
		return fmt.Errorf("device %s not in %s after plugging", p.Device, p.Namespace)
	}
	if err := applyAddresses(h, l, p.Addresses); err != nil {
		return err
	}
	if err := applyRoutes(h, l, p.Routes, p.IPv6); err != nil {
		return err
	}
	return m.cleanupStaleDevices(ctx, h, p.Namespace, p.Device)
}

// writeSysctls sets the plan's sysctls in the namespace. ip_nonlocal_bind
// falls back to the root namespace on kernels where it is not per namespace.
func (m *Manager) writeSysctls(p *Plan) error {
	for _, s := range p.Sysctls {
		err := writeSysctls(p.Namespace, []Sysctl{s})
		if err != nil && s.Key == "net.ipv4.ip_nonlocal_bind" {
			m.log.Warn("ip_nonlocal_bind not settable in the namespace, setting it in the root namespace", "namespace", p.Namespace, "err", err)
			err = writeRootSysctl(s)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// deviceReady reports whether the device is in the namespace with carrier
// and no device of the same name waits in the root namespace (after an
// ovs-vswitchd restart the namespaced tap is dead and a new one appears in
// the root namespace, quirk 3). An administratively down device is brought
// up first.
func (m *Manager) deviceReady(h *netlink.Handle, p *Plan) (bool, error) {
	l, err := linkByName(h, p.Device)
	if err != nil || l == nil {
		return false, err
	}
	if l.Attrs().RawFlags&unix.IFF_UP == 0 {
		if err := h.LinkSetUp(l); err != nil {
			return false, nil
		}
		if l, err = linkByName(h, p.Device); err != nil || l == nil {
			return false, err
		}
	}
	if !hasCarrier(l) {
		return false, nil
	}
	root, err := rootHandle()
	if err != nil {
		return false, err
	}
	defer root.Close()
	if p.Veth {
		// the namespace end has carrier only while its peer is up; the
		// peer must also be the root end the OVS port names
		end, err := linkByName(root, p.OVSPort)
		if err != nil {
			return false, err
		}
		return end != nil && end.Type() == "veth" && hasCarrier(end), nil
	}
	orphan, err := linkByName(root, p.Device)
	if err != nil {
		return false, err
	}
	return orphan == nil, nil
}
