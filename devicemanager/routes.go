package devicemanager

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

func familyOf(version int) int {
	if version == 6 {
		return netlink.FAMILY_V6
	}
	return netlink.FAMILY_V4
}

func isDefaultDst(r netlink.Route) bool {
	if r.Dst == nil {
		return true
	}
	ones, _ := r.Dst.Mask.Size()
	return ones == 0
}

// currentGateway returns the gateway of the link's default route in the
// main table for the IP version (zero Addr when none).
func currentGateway(h *netlink.Handle, l netlink.Link, version int) (netip.Addr, error) {
	routes, err := retryDump(func() ([]netlink.Route, error) { return h.RouteList(l, familyOf(version)) })
	if err != nil {
		return netip.Addr{}, fmt.Errorf("list IPv%d routes of %s: %w", version, l.Attrs().Name, err)
	}
	for _, r := range routes {
		if r.Table != unix.RT_TABLE_MAIN || !isDefaultDst(r) || r.Gw == nil {
			continue
		}
		if gw, ok := netip.AddrFromSlice(r.Gw); ok {
			return gw.Unmap(), nil
		}
	}
	return netip.Addr{}, nil
}

// hostRoute is the scope-link route to a gateway outside its subnet.
func hostRoute(l netlink.Link, gw netip.Addr) *netlink.Route {
	return &netlink.Route{
		LinkIndex: l.Attrs().Index,
		Dst:       toIPNet(netip.PrefixFrom(gw, gw.BitLen())),
		Scope:     netlink.SCOPE_LINK,
		Table:     unix.RT_TABLE_MAIN,
	}
}

func hasHostRoute(h *netlink.Handle, l netlink.Link, gw netip.Addr) (bool, error) {
	v := 4
	if gw.Is6() {
		v = 6
	}
	routes, err := retryDump(func() ([]netlink.Route, error) { return h.RouteList(l, familyOf(v)) })
	if err != nil {
		return false, err
	}
	want := netip.PrefixFrom(gw, gw.BitLen())
	for _, r := range routes {
		if r.Dst == nil || r.Gw != nil || r.Table != unix.RT_TABLE_MAIN {
			continue
		}
		if p, ok := addrPrefix(netlink.Addr{IPNet: r.Dst}); ok && p == want {
			return true, nil
		}
	}
	return false, nil
}

// applyRoutes sets the default route per IP version as neutron's
// _set_default_route does. Only a change touches the kernel: when the
// gateway differs, an on-link host route to the old gateway is deleted if
// the old gateway lies outside the new subnet, a host route to the new
// gateway is added if it lies outside its subnet, and the default route is
// replaced. A version with no qualifying subnet loses its default route.
func applyRoutes(h *netlink.Handle, l netlink.Link, want []DefaultRoute, ipv6 bool) error {
	versions := []int{4}
	if ipv6 {
		versions = append(versions, 6)
	}
	for _, v := range versions {
		cur, err := currentGateway(h, l, v)
		if err != nil {
			return err
		}
		var route *DefaultRoute
		for i := range want {
			if want[i].Version == v {
				route = &want[i]
			}
		}
		if route == nil {
			if cur.IsValid() {
				r := &netlink.Route{LinkIndex: l.Attrs().Index, Dst: defaultDst(v), Gw: cur.AsSlice(), Table: unix.RT_TABLE_MAIN}
				if err := h.RouteDel(r); err != nil && !errors.Is(err, unix.ESRCH) {
					return fmt.Errorf("delete IPv%d default route via %s: %w", v, cur, err)
				}
			}
			continue
		}
		if cur == route.Gateway {
			continue
		}
		if cur.IsValid() && !usableInSubnet(route.Subnet, cur) {
			ok, err := hasHostRoute(h, l, cur)
			if err != nil {
				return err
			}
			if ok {
				if err := h.RouteDel(hostRoute(l, cur)); err != nil && !errors.Is(err, unix.ESRCH) {
					return fmt.Errorf("delete on-link route to %s: %w", cur, err)
				}
			}
		}
		if route.OnLink {
			if err := h.RouteReplace(hostRoute(l, route.Gateway)); err != nil {
				return fmt.Errorf("add on-link route to %s: %w", route.Gateway, err)
			}
		}
		r := &netlink.Route{LinkIndex: l.Attrs().Index, Dst: defaultDst(v), Gw: route.Gateway.AsSlice(), Table: unix.RT_TABLE_MAIN}
		if err := h.RouteReplace(r); err != nil {
			return fmt.Errorf("set IPv%d default route via %s: %w", v, route.Gateway, err)
		}
	}
	return nil
}

func defaultDst(version int) *net.IPNet {
	if version == 6 {
		return toIPNet(netip.PrefixFrom(netip.IPv6Unspecified(), 0))
	}
	return toIPNet(netip.PrefixFrom(netip.IPv4Unspecified(), 0))
}
