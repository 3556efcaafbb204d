package memory

import (
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"

	"qdhcp/model"
)

// IsAutoAddressSubnet reports an IPv6 subnet whose addresses are derived
// from the MAC (EUI-64): address mode or RA mode slaac or dhcpv6-stateless,
// as neutron's ipv6_utils.is_auto_address_subnet decides.
func IsAutoAddressSubnet(s *model.Subnet) bool {
	if s.IPVersion != 6 {
		return false
	}
	for _, m := range []string{s.IPv6AddressMode, s.IPv6RAMode} {
		if m == model.IPv6ModeSLAAC || m == model.IPv6ModeDHCPv6Stateless {
			return true
		}
	}
	return false
}

// EUI64 returns the address a host with mac forms in prefix by SLAAC: the
// upper 64 bits of the prefix and the modified EUI-64 interface id.
func EUI64(prefix netip.Prefix, mac string) (netip.Addr, error) {
	hw, err := net.ParseMAC(mac)
	if err != nil || len(hw) != 6 {
		return netip.Addr{}, fmt.Errorf("eui-64: invalid MAC %q", mac)
	}
	if !prefix.Addr().Is6() || prefix.Addr().Is4In6() {
		return netip.Addr{}, fmt.Errorf("eui-64: %s is not an IPv6 prefix", prefix)
	}
	b := prefix.Masked().Addr().As16()
	b[8] = hw[0] ^ 0x02
	b[9], b[10] = hw[1], hw[2]
	b[11], b[12] = 0xff, 0xfe
	b[13], b[14], b[15] = hw[3], hw[4], hw[5]
	return netip.AddrFrom16(b), nil
}

// UsedIPs returns the addresses held by the ports of n, leaving out the port
// with id except (none when except is empty).
func UsedIPs(n *model.Network, except string) map[netip.Addr]bool {
	used := make(map[netip.Addr]bool)
	for _, p := range n.Ports {
		if except != "" && p.ID == except {
			continue
		}
		for _, f := range p.FixedIPs {
			if a := f.Addr(); a.IsValid() {
				used[a] = true
			}
		}
	}
	return used
}

// FirstFreeIP returns the first address of s's allocation pools, in pool
// order, that is neither the gateway nor in used. A subnet without pools
// uses neutron's default pool (the whole prefix minus the network address,
// and for IPv4 the broadcast address). ok is false when the pools are full.
func FirstFreeIP(s *model.Subnet, used map[netip.Addr]bool) (addr netip.Addr, ok bool) {
	prefix := s.Prefix()
	if !prefix.IsValid() {
		return netip.Addr{}, false
	}
	gw := s.Gateway()
	for _, r := range pools(s, prefix) {
		for a := r[0]; a.IsValid() && a.Compare(r[1]) <= 0; a = a.Next() {
			if a == gw || used[a] {
				continue
			}
			return a, true
		}
	}
	return netip.Addr{}, false
}

// pools returns the [start, end] ranges to allocate from, clipped to
// prefix; unparsable or foreign pools are skipped.
func pools(s *model.Subnet, prefix netip.Prefix) [][2]netip.Addr {
	if len(s.AllocationPools) == 0 {
		return [][2]netip.Addr{defaultPool(prefix)}
	}
	var out [][2]netip.Addr
	for _, p := range s.AllocationPools {
		start, err1 := netip.ParseAddr(p.Start)
		end, err2 := netip.ParseAddr(p.End)
		if err1 != nil || err2 != nil || !prefix.Contains(start) || !prefix.Contains(end) {
			continue
		}
		out = append(out, [2]netip.Addr{start, end})
	}
	return out
}

// defaultPool is neutron's pool for a subnet created without one.
func defaultPool(prefix netip.Prefix) [2]netip.Addr {
	first, last := prefix.Addr(), lastAddr(prefix)
	if prefix.Addr().Is4() && prefix.Bits() >= 31 {
		return [2]netip.Addr{first, last}
	}
	if n := first.Next(); n.IsValid() && n.Compare(last) <= 0 {
		first = n
	}
	if prefix.Addr().Is4() {
		last = last.Prev()
	}
	return [2]netip.Addr{first, last}
}

// lastAddr returns the highest address of prefix.
func lastAddr(prefix netip.Prefix) netip.Addr {
	p := prefix.Masked()
	if p.Addr().Is4() {
		b := p.Addr().As4()
		for i := p.Bits(); i < 32; i++ {
			b[i/8] |= 0x80 >> (i % 8)
		}
		return netip.AddrFrom4(b)
	}
	b := p.Addr().As16()
	for i := p.Bits(); i < 128; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	return netip.AddrFrom16(b)
}

// newMAC returns a MAC in neutron's default base fa:16:3e whose last three
// bytes are the first three bytes of the port id (random when the id is not
// hex), unique among the ports of n.
func newMAC(n *model.Network, portID string) string {
	taken := make(map[string]bool, len(n.Ports))
	for _, p := range n.Ports {
		taken[p.MACAddress] = true
	}
	var b [3]byte
	if _, err := fmt.Sscanf(portID, "%02x%02x%02x", &b[0], &b[1], &b[2]); err != nil {
		randomBytes(&b)
	}
	for {
		mac := fmt.Sprintf("fa:16:3e:%02x:%02x:%02x", b[0], b[1], b[2])
		if !taken[mac] {
			return mac
		}
		randomBytes(&b)
	}
}

func randomBytes(b *[3]byte) {
	v := rand.Uint32()
	b[0], b[1], b[2] = byte(v>>16), byte(v>>8), byte(v)
}
