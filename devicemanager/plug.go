package devicemanager

import (
	"context"
	"errors"
	"fmt"
	"net"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// plug creates (or reuses) the OVS internal port, waits for ovs-vswitchd to
// create its tap in the root namespace and moves it into the plan's
// namespace with the port's MAC, the network's MTU, up. A dead device of the
// same name in the namespace (left by an ovs-vswitchd restart) is replaced.
func (m *Manager) plug(ctx context.Context, nsh *netlink.Handle, p *Plan, mac net.HardwareAddr) error {
	return m.plugMove(m.plugOVS(ctx, nsh, p), nsh, p, mac)
}

// ovsPort is the OVS port of the plan's device: an internal port named
// like it, or with ovs_use_veth the veth's root end as a system port.
func (m *Manager) ovsPort(p *Plan) portSpec {
	typ := "internal"
	if p.Veth {
		typ = ""
	}
	// a veth works without ovs-vswitchd's help: its attachment is not
	// awaited (Check reports a port ovs-vswitchd could not attach)
	return portSpec{Bridge: p.Bridge, Name: p.OVSPort, Type: typ, ExternalIDs: p.ExternalIDs, MTU: p.MTU, NoWait: p.Veth}
}

// ovsPlugged is the first half of a plug: the OVS port's device, in the
// root namespace.
type ovsPlugged struct {
	root    *netlink.Handle // the root namespace (to close)
	link    netlink.Link
	created bool // the OVS port was created (not reused)
	err     error
}

// plugOVS creates (or reuses) the OVS internal port and waits for
// ovs-vswitchd to create its tap in the root namespace. nsh is the plan's
// namespace, nil when it does not exist yet (it then holds no device).
func (m *Manager) plugOVS(ctx context.Context, nsh *netlink.Handle, p *Plan) (res ovsPlugged) {
	// the root end of an ovs_use_veth plug has the internal port's name:
	// it must go before the port is (re)typed internal
	if err := deleteRootVeth(p.OVSPort); err != nil {
		return ovsPlugged{err: err}
	}
	created, err := m.ovs.ensurePort(ctx, m.ovsPort(p))
	if err != nil {
		return ovsPlugged{err: err}
	}
	m.log.Info("plugging DHCP device", "device", p.Device, "bridge", p.Bridge, "namespace", p.Namespace,
		"mac", p.MAC, "mtu", p.MTU, "ovs_port_created", created)

	res.created = created
	root, err := rootHandle()
	if err != nil {
		res.err = err
		return res
	}
	res.root = root
	if !created {
		// the row existed; if its device is nowhere (the namespace holding
		// it was deleted, quirk 4), ovs-vswitchd will not make a new one:
		// recreate the row
		inRoot, err := linkByName(root, p.Device)
		if err != nil {
			res.err = err
			return res
		}
		var inNS netlink.Link
		if nsh != nil {
			if inNS, err = linkByName(nsh, p.Device); err != nil {
				res.err = err
				return res
			}
		}
		if inRoot == nil && inNS == nil {
			m.log.Info("OVS port has no device, recreating it", "device", p.Device)
			if _, err := m.ovs.deletePort(ctx, p.Device); err != nil {
				res.err = err
				return res
			}
			if _, err := m.ovs.ensurePort(ctx, m.ovsPort(p)); err != nil {
				res.err = err
				return res
			}
		}
	}
	wctx, cancel := context.WithTimeout(ctx, m.timeout)
	defer cancel()
	res.link, res.err = waitLink(wctx, root, p.Device)
	return res
}

// plugMove is the second half of a plug: the device moves into the
// namespace (nsh) and is configured there.
func (m *Manager) plugMove(o ovsPlugged, nsh *netlink.Handle, p *Plan, mac net.HardwareAddr) error {
	if o.root != nil {
		defer o.root.Close()
	}
	if o.err != nil {
		return o.err
	}
	return moveIntoNamespace(o.root, nsh, p.Namespace, o.link, mac, p.MTU)
}

// unplug removes a device: its OVS port if there is one (ovs-vswitchd then
// destroys an internal port's tap wherever it is), and the device itself if
// it is still in the namespace (a veth, or a device OVS does not know).
func (m *Manager) unplug(ctx context.Context, nsh *netlink.Handle, ns, dev string) error {
	return m.unplugKeep(ctx, nsh, ns, dev, "")
}

// unplugKeep is unplug leaving the OVS port keepPort alone (the current
// device's port, when a stale device of the other plug flavour maps to it).
func (m *Manager) unplugKeep(ctx context.Context, nsh *netlink.Handle, ns, dev, keepPort string) error {
	var errs []error
	if port := ovsPortOf(dev); port != keepPort {
		if _, err := m.ovs.deletePort(ctx, port); err != nil {
			errs = append(errs, err)
		}
		if port != dev {
			// a veth's root end, left when its namespace end is gone
			errs = append(errs, deleteRootLink(port))
		}
	}
	if nsh != nil {
		l, err := linkByName(nsh, dev)
		if err != nil {
			errs = append(errs, err)
		} else if l != nil {
			if err := nsh.LinkDel(l); err != nil && !errors.Is(err, unix.ENODEV) {
				errs = append(errs, fmt.Errorf("delete %s in %s: %w", dev, ns, err))
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("unplug %s: %w", dev, err)
	}
	m.log.Info("unplugged device", "device", dev, "namespace", ns)
	return nil
}

// cleanupStaleDevices unplugs every device in the namespace except lo and
// keep (neutron's _cleanup_stale_devices). Failures are logged, not
// returned.
func (m *Manager) cleanupStaleDevices(ctx context.Context, nsh *netlink.Handle, ns, keep string) error {
	links, err := retryDump(nsh.LinkList)
	if err != nil {
		return fmt.Errorf("list devices in %s: %w", ns, err)
	}
	for _, l := range links {
		name := l.Attrs().Name
		if name == "lo" || name == keep {
			continue
		}
		keepPort := ""
		if keep != "" {
			keepPort = ovsPortOf(keep)
		}
		m.log.Info("found stale device, deleting", "device", name, "namespace", ns)
		if err := m.unplugKeep(ctx, nsh, ns, name, keepPort); err != nil {
			m.log.Warn("stale device cleanup", "device", name, "namespace", ns, "err", err)
		}
	}
	return nil
}
