package devicemanager

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"qdhcp/model"
)

// metadataLLA is the IPv6 metadata address; unlike the kernel's own
// link-local address it is ours to remove when metadata is off.
var metadataLLA = netip.MustParseAddr(model.MetadataLinkLocalV6)

// addrPrefix converts a netlink address to a prefix (address + length).
func addrPrefix(a netlink.Addr) (netip.Prefix, bool) {
	if a.IPNet == nil {
		return netip.Prefix{}, false
	}
	ip, ok := netip.AddrFromSlice(a.IP)
	if !ok {
		return netip.Prefix{}, false
	}
	ones, _ := a.Mask.Size()
	return netip.PrefixFrom(ip.Unmap(), ones), true
}

// toIPNet converts a prefix to the net.IPNet netlink wants, keeping the host
// bits.
func toIPNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

// isKernelLLA reports an IPv6 link-local address the kernel configured
// itself (everything link-local except the metadata address).
func isKernelLLA(p netip.Prefix) bool {
	return p.Addr().Is6() && p.Addr().IsLinkLocalUnicast() && p.Addr() != metadataLLA
}

// applyAddresses is init_l3: add the wanted addresses that are missing and
// remove every other one except the kernel's IPv6 link-local address.
func applyAddresses(h *netlink.Handle, l netlink.Link, want []netip.Prefix) error {
	cur, err := retryDump(func() ([]netlink.Addr, error) { return h.AddrList(l, netlink.FAMILY_ALL) })
	if err != nil {
		return fmt.Errorf("list addresses of %s: %w", l.Attrs().Name, err)
	}
	wanted := map[netip.Prefix]bool{}
	for _, p := range want {
		wanted[p] = true
	}
	have := map[netip.Prefix]bool{}
	for _, a := range cur {
		p, ok := addrPrefix(a)
		if !ok {
			continue
		}
		have[p] = true
		if wanted[p] || isKernelLLA(p) {
			continue
		}
		if err := h.AddrDel(l, &a); err != nil && !errors.Is(err, unix.EADDRNOTAVAIL) {
			return fmt.Errorf("remove %s from %s: %w", p, l.Attrs().Name, err)
		}
	}
	for _, p := range want {
		if have[p] {
			continue
		}
		addr := &netlink.Addr{IPNet: toIPNet(p)}
		if p.Addr().Is4() && p.Bits() < 31 {
			addr.Broadcast = lastAddr(p).AsSlice()
		}
		if err := h.AddrAdd(l, addr); err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("add %s to %s: %w", p, l.Attrs().Name, err)
		}
	}
	return nil
}

// addressState reports whether addr is on the link and whether it is still
// tentative (IPv6 duplicate address detection running) or failed DAD.
func addressState(h *netlink.Handle, l netlink.Link, addr netip.Addr) (present, tentative, failed bool, err error) {
	cur, err := retryDump(func() ([]netlink.Addr, error) { return h.AddrList(l, netlink.FAMILY_ALL) })
	if err != nil {
		return false, false, false, err
	}
	for _, a := range cur {
		p, ok := addrPrefix(a)
		if !ok || p.Addr() != addr {
			continue
		}
		return true, a.Flags&unix.IFA_F_TENTATIVE != 0, a.Flags&unix.IFA_F_DADFAILED != 0, nil
	}
	return false, false, false, nil
}
