package devicemanager

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"qdhcp/model"
)

// Health is what Check found.
type Health struct {
	Healthy bool
	// Reason says what is wrong when not healthy.
	Reason string
}

// Check reports whether the network's DHCP device is healthy: namespace
// present, device in it up with carrier, no device of the same name in the
// root namespace, and its OVS port present. After ovs-vswitchd restarts the
// namespaced tap loses carrier and a new one appears in the root namespace
// (quirk 3); OVS's own link_state is not used (it always says down for a
// namespaced tap, quirk 2). Check changes nothing.
func (m *Manager) Check(ctx context.Context, net *model.Network, port *model.Port) (Health, error) {
	p := m.Plan(net, port)
	defer m.lock(net.ID)()
	return m.check(ctx, p)
}

func (m *Manager) check(ctx context.Context, p *Plan) (Health, error) {
	if !namespaceExists(p.Namespace) {
		return Health{Reason: "namespace " + p.Namespace + " missing"}, nil
	}
	h, err := nsHandle(p.Namespace)
	if err != nil {
		return Health{}, err
	}
	defer h.Close()
	l, err := linkByName(h, p.Device)
	if err != nil {
		return Health{}, err
	}
	if l == nil {
		return Health{Reason: "device " + p.Device + " missing from " + p.Namespace}, nil
	}
	if l.Attrs().RawFlags&unix.IFF_UP == 0 {
		return Health{Reason: "device " + p.Device + " down"}, nil
	}
	if !hasCarrier(l) {
		return Health{Reason: "device " + p.Device + " has no carrier"}, nil
	}
	root, err := rootHandle()
	if err != nil {
		return Health{}, err
	}
	defer root.Close()
	if orphan, err := linkByName(root, p.Device); err != nil {
		return Health{}, err
	} else if orphan != nil && !p.Veth {
		return Health{Reason: "a new " + p.Device + " waits in the root namespace"}, nil
	}
	c, err := m.ovs.client(ctx)
	if err != nil {
		return Health{}, err
	}
	port, err := m.ovs.lookupPort(ctx, c, p.OVSPort)
	if err != nil {
		return Health{}, err
	}
	if port == nil {
		return Health{Reason: "OVS port " + p.OVSPort + " missing"}, nil
	}
	if p.Veth {
		if end, err := linkByName(root, p.OVSPort); err != nil {
			return Health{}, err
		} else if end == nil || end.Type() != "veth" {
			return Health{Reason: "veth end " + p.OVSPort + " missing from the root namespace"}, nil
		}
		if attachFailed(port.iface) {
			// ovs-vswitchd could not open the root end (an internal
			// port's tap would be missing instead)
			return Health{Reason: "OVS could not attach " + p.OVSPort + ": " + deref(port.iface.Error)}, nil
		}
	}
	return Health{Healthy: true}, nil
}

// Repair re-plugs the network's DHCP device when Check finds it unhealthy:
// the dead device in the namespace is deleted, the tap ovs-vswitchd made
// anew (or a recreated OVS port's tap) is moved in, and MAC, MTU,
// addresses, routes and checksum rules are applied again. dnsmasq, bound
// with --bind-dynamic, picks the new device up by itself. It is a no-op on
// a healthy device, and on a network this Manager has not set up or has
// destroyed since (a repair loop racing with a teardown must not bring the
// namespace and OVS port back), and reports whether it repaired anything.
func (m *Manager) Repair(ctx context.Context, net *model.Network, port *model.Port) (bool, error) {
	p := m.Plan(net, port)
	defer m.lock(net.ID)()
	if !m.isLive(net.ID) {
		return false, nil // not set up by this Manager, or destroyed since
	}
	hl, err := m.check(ctx, p)
	if err != nil {
		return false, fmt.Errorf("check %s: %w", p.Device, err)
	}
	if hl.Healthy {
		return false, nil
	}
	start := time.Now()
	m.log.Warn("DHCP device unhealthy, re-plugging", "network", net.ID, "device", p.Device, "reason", hl.Reason)
	if err := m.apply(ctx, p, true); err != nil {
		return false, fmt.Errorf("repair %s for network %s: %w", p.Device, net.ID, err)
	}
	m.log.Info("DHCP device repaired", "network", net.ID, "device", p.Device, "took", time.Since(start))
	return true, nil
}

// WaitAddressReady waits until addr on the network's device has finished
// IPv6 duplicate address detection (IPv4 addresses are ready at once), e.g.
// before binding the metadata proxy to fe80::a9fe:a9fe.
func (m *Manager) WaitAddressReady(ctx context.Context, networkID, devName string, addr netip.Addr) error {
	h, err := nsHandle(NamespaceName(networkID))
	if err != nil {
		return err
	}
	defer h.Close()
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		if ready, err := addressReady(h, devName, addr); ready || err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("address %s on %s not ready: %w", addr, devName, ctx.Err())
		case <-t.C:
		}
	}
}

// AddressReady is WaitAddressReady without the wait: whether addr on the
// network's device is usable now. An address that failed duplicate address
// detection is an error.
func (m *Manager) AddressReady(networkID, devName string, addr netip.Addr) (bool, error) {
	h, err := nsHandle(NamespaceName(networkID))
	if err != nil {
		return false, err
	}
	defer h.Close()
	return addressReady(h, devName, addr)
}

func addressReady(h *netlink.Handle, devName string, addr netip.Addr) (bool, error) {
	l, err := linkByName(h, devName)
	if err != nil || l == nil {
		return false, err
	}
	present, tentative, failed, err := addressState(h, l, addr)
	if err != nil {
		return false, err
	}
	if failed {
		return false, fmt.Errorf("address %s on %s failed duplicate address detection", addr, devName)
	}
	return present && !tentative, nil
}
