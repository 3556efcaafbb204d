package devicemanager

import (
	"net/netip"

	"qdhcp/model"
)

// ipv6PDPoolID is the subnetpool_id neutron gives subnets whose prefix comes
// from IPv6 prefix delegation; they never provide the default route.
const ipv6PDPoolID = "prefix_delegation"

// planRoutes picks, per IP version, the first subnet in net.Subnets order
// that qualifies for the namespace's default route (neutron's
// _set_default_route): same version, enable_dhcp, a gateway, not from the
// prefix-delegation pool; for IPv6 also a prefix length in 1..126 and, when
// the address or RA mode is slaac or dhcpv6-stateless, exactly /64.
func planRoutes(net *model.Network, ipv6 bool) []DefaultRoute {
	var out []DefaultRoute
	for _, v := range []int{4, 6} {
		if v == 6 && !ipv6 {
			continue
		}
		if r, ok := defaultRouteFor(net, v); ok {
			out = append(out, r)
		}
	}
	return out
}

func defaultRouteFor(net *model.Network, version int) (DefaultRoute, bool) {
	for _, s := range net.Subnets {
		if s.IPVersion != version || !s.EnableDHCP || s.SubnetpoolID == ipv6PDPoolID {
			continue
		}
		gw := s.Gateway()
		pfx := s.Prefix()
		if !gw.IsValid() || !pfx.IsValid() {
			continue
		}
		if version == 6 {
			bits := pfx.Bits()
			if bits == 0 || bits > 126 {
				continue
			}
			if bits != 64 && (isAutoMode(s.IPv6AddressMode) || isAutoMode(s.IPv6RAMode)) {
				continue
			}
		}
		return DefaultRoute{Version: version, Gateway: gw, Subnet: pfx, OnLink: !usableInSubnet(pfx, gw)}, true
	}
	return DefaultRoute{}, false
}

func isAutoMode(mode string) bool {
	return mode == model.IPv6ModeSLAAC || mode == model.IPv6ModeDHCPv6Stateless
}

// usableInSubnet reports whether ip is a host address of pfx: inside it and,
// for IPv4, neither the network nor (below /31) the broadcast address.
func usableInSubnet(pfx netip.Prefix, ip netip.Addr) bool {
	if !pfx.Contains(ip) {
		return false
	}
	if !ip.Is4() {
		return true
	}
	if ip == pfx.Masked().Addr() {
		return false
	}
	if pfx.Bits() < 31 && ip == lastAddr(pfx) {
		return false
	}
	return true
}

// lastAddr is the highest address of an IPv4 prefix (its broadcast).
func lastAddr(pfx netip.Prefix) netip.Addr {
	b := pfx.Masked().Addr().As4()
	host := 32 - pfx.Bits()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	v |= uint32(1)<<host - 1
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}
