package devicemanager

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// nsHandle opens a netlink handle whose sockets live in the named namespace.
func nsHandle(ns string) (*netlink.Handle, error) {
	h, err := netns.GetFromPath(nsPath(ns))
	if err != nil {
		return nil, fmt.Errorf("open namespace %s: %w", ns, err)
	}
	defer h.Close()
	nh, err := netlink.NewHandleAt(h)
	if err != nil {
		return nil, fmt.Errorf("netlink in %s: %w", ns, err)
	}
	return nh, nil
}

// rootHandle is a netlink handle in the agent's own (root) namespace.
func rootHandle() (*netlink.Handle, error) {
	h, err := netlink.NewHandle()
	if err != nil {
		return nil, fmt.Errorf("netlink: %w", err)
	}
	return h, nil
}

// linkByName returns the link, nil when there is none.
func linkByName(h *netlink.Handle, name string) (netlink.Link, error) {
	l, err := h.LinkByName(name)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) || errors.Is(err, unix.ENODEV) {
			return nil, nil
		}
		return nil, fmt.Errorf("link %s: %w", name, err)
	}
	return l, nil
}

// retryDump repeats a netlink dump the kernel reported as interrupted (the
// table changed while it was read).
func retryDump[T any](f func() (T, error)) (T, error) {
	var v T
	var err error
	for range 5 {
		v, err = f()
		if !errors.Is(err, netlink.ErrDumpInterrupted) {
			return v, err
		}
	}
	return v, err
}

// hasCarrier reports an administratively up link with carrier (IFF_LOWER_UP).
// A namespaced OVS tap loses its carrier when ovs-vswitchd closes it.
func hasCarrier(l netlink.Link) bool {
	f := l.Attrs().RawFlags
	return f&unix.IFF_UP != 0 && f&unix.IFF_LOWER_UP != 0
}

// waitLink polls the handle's namespace until a link called name appears:
// after 1 ms, then twice as long each time up to every 10 ms (a device
// usually appears within a few milliseconds of its OVS port).
func waitLink(ctx context.Context, h *netlink.Handle, name string) (netlink.Link, error) {
	wait := time.Millisecond
	t := time.NewTimer(wait)
	defer t.Stop()
	for {
		l, err := linkByName(h, name)
		if err != nil || l != nil {
			return l, err
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("device %s did not appear: %w", name, ctx.Err())
		case <-t.C:
		}
		if wait = 2 * wait; wait > 10*time.Millisecond {
			wait = 10 * time.Millisecond
		}
		t.Reset(wait)
	}
}

// moveIntoNamespace moves the root-namespace link into ns (deleting a
// stale device of the same name there first), then sets its MAC and MTU and
// brings it up inside. The MAC is set after the move, not before as
// neutron does: the result is the same, and ovs-vswitchd, which watches the
// root namespace's links, is spared the work of a MAC change on its port.
func moveIntoNamespace(root, nsh *netlink.Handle, ns string, l netlink.Link, mac net.HardwareAddr, mtu int) error {
	name := l.Attrs().Name
	stale, err := linkByName(nsh, name)
	if err != nil {
		return err
	}
	if stale != nil {
		if err := nsh.LinkDel(stale); err != nil && !errors.Is(err, unix.ENODEV) {
			return fmt.Errorf("delete stale %s in %s: %w", name, ns, err)
		}
	}
	fd, err := netns.GetFromPath(nsPath(ns))
	if err != nil {
		return fmt.Errorf("open namespace %s: %w", ns, err)
	}
	defer fd.Close()
	if err := root.LinkSetNsFd(l, int(fd)); err != nil {
		return fmt.Errorf("move %s into %s: %w", name, ns, err)
	}
	in, err := linkByName(nsh, name)
	if err != nil {
		return err
	}
	if in == nil {
		return fmt.Errorf("%s vanished after the move into %s", name, ns)
	}
	return configureLink(nsh, in, mac, mtu)
}

// configureLink sets MAC (when it differs), MTU (when mtu > 0 and it
// differs) and brings the link up.
func configureLink(h *netlink.Handle, l netlink.Link, mac net.HardwareAddr, mtu int) error {
	a := l.Attrs()
	if mac != nil && a.HardwareAddr.String() != mac.String() {
		if err := h.LinkSetHardwareAddr(l, mac); err != nil {
			return fmt.Errorf("set MAC %s on %s: %w", mac, a.Name, err)
		}
	}
	if mtu > 0 && a.MTU != mtu {
		if err := h.LinkSetMTU(l, mtu); err != nil {
			return fmt.Errorf("set MTU %d on %s: %w", mtu, a.Name, err)
		}
	}
	if err := h.LinkSetUp(l); err != nil {
		return fmt.Errorf("set %s up: %w", a.Name, err)
	}
	return nil
}
