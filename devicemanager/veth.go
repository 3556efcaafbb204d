package devicemanager

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	vs "qdhcp/devicemanager/ovsdb"
)

// Device name prefixes: an OVS port (internal, or a veth's root end) and a
// veth's end in the namespace (ovs_use_veth).
const (
	tapPrefix  = "tap"
	vethPrefix = "ns-"
)

// ovsPortOf is the OVS port behind a device found in a namespace: the
// veth's root end tap... for an ns-... device (neutron's _get_tap_name),
// the device itself otherwise.
func ovsPortOf(dev string) string {
	if rest, ok := strings.CutPrefix(dev, vethPrefix); ok {
		return tapPrefix + rest
	}
	return dev
}

// plugVeth is the ovs_use_veth plug: a veth pair whose end in the
// namespace (p.Device) is created there directly, with the port's MAC and
// the network's MTU (so no device is ever moved between namespaces), and
// whose root end (p.OVSPort: IPv6 off, same MTU, up) becomes a system port
// on the bridge with the external ids the OVS agent binds it by. Leftovers
// of an earlier plug (either end) are removed first. The namespace end is
// brought up last.
func (m *Manager) plugVeth(ctx context.Context, nsh *netlink.Handle, p *Plan, mac net.HardwareAddr) error {
	root, err := rootHandle()
	if err != nil {
		return err
	}
	defer root.Close()
	for _, d := range []struct {
		h    *netlink.Handle
		name string
	}{{nsh, p.Device}, {root, p.OVSPort}} {
		l, err := linkByName(d.h, d.name)
		if err != nil {
			return err
		}
		if l != nil {
			if err := d.h.LinkDel(l); err != nil && !errors.Is(err, unix.ENODEV) {
				return fmt.Errorf("delete stale %s: %w", d.name, err)
			}
		}
	}
	fd, err := netns.GetFromPath(nsPath(p.Namespace))
	if err != nil {
		return fmt.Errorf("open namespace %s: %w", p.Namespace, err)
	}
	defer fd.Close()
	veth := netlink.NewVeth(netlink.LinkAttrs{Name: p.OVSPort})
	veth.PeerName = p.Device
	veth.PeerNamespace = netlink.NsFd(fd)
	veth.PeerHardwareAddr = mac
	if p.MTU > 0 {
		veth.MTU = p.MTU
		veth.PeerMTU = uint32(p.MTU)
	}
	if err := root.LinkAdd(veth); err != nil {
		return fmt.Errorf("add veth %s with peer %s in %s: %w", p.OVSPort, p.Device, p.Namespace, err)
	}
	if p.IPv6 {
		// the root end carries no addresses: no link-local address, no
		// DAD or router solicitations on the bridge
		if err := disableIPv6(p.OVSPort); err != nil {
			return err
		}
	}
	if err := root.LinkSetUp(veth); err != nil {
		return fmt.Errorf("set %s up: %w", p.OVSPort, err)
	}
	if err := m.ensureVethPort(ctx, p, true); err != nil {
		return err
	}
	m.log.Info("plugging DHCP device", "device", p.Device, "ovs_port", p.OVSPort, "bridge", p.Bridge,
		"namespace", p.Namespace, "mac", p.MAC, "mtu", p.MTU, "veth", true)
	in, err := linkByName(nsh, p.Device)
	if err != nil {
		return err
	}
	if in == nil {
		return fmt.Errorf("%s vanished from %s", p.Device, p.Namespace)
	}
	return configureLink(nsh, in, mac, p.MTU)
}

// ensureVethPort makes the veth's root end an OVS port. An existing port
// row is replaced when fresh (the pair was just made: ovs-vswitchd would
// keep its socket on the device of the old pair) or when ovs-vswitchd
// reports it could not attach it.
func (m *Manager) ensureVethPort(ctx context.Context, p *Plan, fresh bool) error {
	c, err := m.ovs.client(ctx)
	if err != nil {
		return err
	}
	have, err := m.ovs.lookupPort(ctx, c, p.OVSPort)
	if err != nil {
		return err
	}
	if have != nil && (fresh || attachFailed(have.iface)) {
		m.log.Info("replacing OVS port", "port", p.OVSPort, "new_veth", fresh, "error", deref(have.iface.Error))
		if _, err := m.ovs.deletePort(ctx, p.OVSPort); err != nil {
			return err
		}
	}
	_, err = m.ovs.ensurePort(ctx, m.ovsPort(p))
	return err
}

// attachFailed reports an interface row ovs-vswitchd could not open.
func attachFailed(i *vs.Interface) bool {
	return i != nil && (deref(i.Error) != "" || (i.Ofport != nil && *i.Ofport < 0))
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// disableIPv6 sets net.ipv6.conf.<dev>.disable_ipv6 in the root namespace.
func disableIPv6(dev string) error {
	path := filepath.Join("/proc/sys/net/ipv6/conf", dev, "disable_ipv6")
	if err := os.WriteFile(path, []byte("1"), 0o644); err != nil {
		return fmt.Errorf("disable IPv6 on %s: %w", dev, err)
	}
	return nil
}

// deleteRootVeth deletes the root namespace's device name if it is a veth
// (with its peer).
func deleteRootVeth(name string) error {
	return deleteRootLinkIf(name, func(l netlink.Link) bool { return l.Type() == "veth" })
}

// deleteRootLink deletes a device of the root namespace if it exists.
func deleteRootLink(name string) error {
	return deleteRootLinkIf(name, func(netlink.Link) bool { return true })
}

func deleteRootLinkIf(name string, pred func(netlink.Link) bool) error {
	root, err := rootHandle()
	if err != nil {
		return err
	}
	defer root.Close()
	l, err := linkByName(root, name)
	if err != nil || l == nil || !pred(l) {
		return err
	}
	if err := root.LinkDel(l); err != nil && !errors.Is(err, unix.ENODEV) {
		return fmt.Errorf("delete %s: %w", name, err)
	}
	return nil
}
