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

// plugVeth is the ovs_use_veth plug: a veth pair made from inside the
// namespace, so that no device is ever moved between namespaces. Its end
// there (p.Device) is born with the port's MAC, the network's MTU and up;
// its peer, the root end (p.OVSPort: same MTU, IPv6 off), is brought up and
// becomes a system port on the bridge with the external ids the OVS agent
// binds it by. Leftovers of an earlier plug (either end) are removed first.
// ovs-vswitchd reacts to every change of a device in the root namespace,
// at a cost that grows with the number of devices there: the root end
// changes only twice (created, then up with carrier at once).
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
	rootNS, err := netns.Get()
	if err != nil {
		return fmt.Errorf("open the root namespace: %w", err)
	}
	defer rootNS.Close()
	veth := netlink.NewVeth(netlink.LinkAttrs{Name: p.Device, HardwareAddr: mac, Flags: net.FlagUp})
	veth.PeerName = p.OVSPort
	veth.PeerNamespace = netlink.NsFd(rootNS)
	if p.MTU > 0 {
		veth.MTU = p.MTU
		veth.PeerMTU = uint32(p.MTU)
	}
	if err := nsh.LinkAdd(veth); err != nil {
		return fmt.Errorf("add veth %s in %s with peer %s: %w", p.Device, p.Namespace, p.OVSPort, err)
	}
	end, err := linkByName(root, p.OVSPort)
	if err != nil {
		return err
	}
	if end == nil {
		return fmt.Errorf("veth end %s missing from the root namespace", p.OVSPort)
	}
	if p.IPv6 {
		// the root end carries no addresses: no link-local address, no
		// DAD or router solicitations on the bridge
		if err := disableIPv6(p.OVSPort); err != nil {
			return err
		}
	}
	if err := root.LinkSetUp(end); err != nil {
		return fmt.Errorf("set %s up: %w", p.OVSPort, err)
	}
	if err := m.ensureVethPort(ctx, p, true); err != nil {
		return err
	}
	m.log.Info("plugging DHCP device", "device", p.Device, "ovs_port", p.OVSPort, "bridge", p.Bridge,
		"namespace", p.Namespace, "mac", p.MAC, "mtu", p.MTU, "veth", true)
	return nil
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
		ovsErr := ""
		if have.iface != nil {
			ovsErr = deref(have.iface.Error)
		}
		m.log.Info("replacing OVS port", "port", p.OVSPort, "new_veth", fresh, "error", ovsErr)
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
