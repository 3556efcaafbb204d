package memory

import (
	"net/netip"
	"testing"

	"qdhcp/model"
)

func TestEUI64(t *testing.T) {
	// from the new_dhcp_port_created golden: MAC fa:16:3e:1f:c1:1d on 2001:db8:181::/64
	a, err := EUI64(netip.MustParsePrefix("2001:db8:181::/64"), "fa:16:3e:1f:c1:1d")
	if err != nil {
		t.Fatal(err)
	}
	mustEqual(t, "eui64", a.String(), "2001:db8:181:0:f816:3eff:fe1f:c11d")
	if _, err := EUI64(netip.MustParsePrefix("10.0.0.0/24"), "fa:16:3e:1f:c1:1d"); err == nil {
		t.Fatal("EUI-64 on an IPv4 prefix succeeded")
	}
	if _, err := EUI64(netip.MustParsePrefix("fd00::/64"), "zz"); err == nil {
		t.Fatal("EUI-64 with a bad MAC succeeded")
	}
}

func TestFirstFreeIP(t *testing.T) {
	sub := func(cidr, gw string, pools ...model.AllocPool) *model.Subnet {
		v := 4
		if netip.MustParsePrefix(cidr).Addr().Is6() {
			v = 6
		}
		return &model.Subnet{IPVersion: v, CIDR: cidr, GatewayIP: gw, AllocationPools: pools}
	}
	used := func(ips ...string) map[netip.Addr]bool {
		m := map[netip.Addr]bool{}
		for _, ip := range ips {
			m[netip.MustParseAddr(ip)] = true
		}
		return m
	}
	cases := []struct {
		name string
		s    *model.Subnet
		used map[netip.Addr]bool
		want string // "" = exhausted
	}{
		{"pool start", sub("10.0.0.0/24", "10.0.0.1", model.AllocPool{Start: "10.0.0.2", End: "10.0.0.254"}), nil, "10.0.0.2"},
		{"used skipped", sub("10.0.0.0/24", "10.0.0.1", model.AllocPool{Start: "10.0.0.2", End: "10.0.0.254"}), used("10.0.0.2", "10.0.0.3"), "10.0.0.4"},
		{"gateway inside pool skipped", sub("10.0.0.0/24", "10.0.0.5", model.AllocPool{Start: "10.0.0.5", End: "10.0.0.9"}), nil, "10.0.0.6"},
		{"second pool", sub("10.0.0.0/24", "10.0.0.1",
			model.AllocPool{Start: "10.0.0.100", End: "10.0.0.101"}, model.AllocPool{Start: "10.0.0.50", End: "10.0.0.60"}),
			used("10.0.0.100", "10.0.0.101"), "10.0.0.50"},
		{"pool outside subnet ignored", sub("10.0.0.0/24", "10.0.0.1",
			model.AllocPool{Start: "10.9.0.2", End: "10.9.0.9"}, model.AllocPool{Start: "10.0.0.30", End: "10.0.0.31"}), nil, "10.0.0.30"},
		{"exhausted", sub("10.0.0.0/24", "10.0.0.1", model.AllocPool{Start: "10.0.0.2", End: "10.0.0.3"}), used("10.0.0.2", "10.0.0.3"), ""},
		{"default pool v4 skips network and gateway", sub("192.168.5.0/24", "192.168.5.1"), nil, "192.168.5.2"},
		{"default pool v4 without broadcast", sub("192.168.5.0/30", ""), used("192.168.5.1", "192.168.5.2"), ""},
		{"default pool /31", sub("192.168.5.0/31", ""), nil, "192.168.5.0"},
		{"default pool v6", sub("fd00:1::/64", "fd00:1::1"), used("fd00:1::2"), "fd00:1::3"},
		{"stateful v6 pool", sub("fd00:1::/64", "fd00:1::1", model.AllocPool{Start: "fd00:1::100", End: "fd00:1::1ff"}), nil, "fd00:1::100"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a, ok := FirstFreeIP(c.s, c.used)
			if c.want == "" {
				if ok {
					t.Fatalf("got %s, want exhausted", a)
				}
				return
			}
			if !ok {
				t.Fatalf("exhausted, want %s", c.want)
			}
			mustEqual(t, "ip", a.String(), c.want)
		})
	}
}

func TestIsAutoAddressSubnet(t *testing.T) {
	for _, c := range []struct {
		v        int
		addr, ra string
		want     bool
	}{
		{6, model.IPv6ModeSLAAC, model.IPv6ModeSLAAC, true},
		{6, model.IPv6ModeDHCPv6Stateless, "", true},
		{6, "", model.IPv6ModeSLAAC, true},
		{6, model.IPv6ModeDHCPv6Stateful, model.IPv6ModeDHCPv6Stateful, false},
		{6, "", "", false},
		{4, model.IPv6ModeSLAAC, "", false},
	} {
		s := &model.Subnet{IPVersion: c.v, IPv6AddressMode: c.addr, IPv6RAMode: c.ra}
		if got := IsAutoAddressSubnet(s); got != c.want {
			t.Errorf("v%d addr=%q ra=%q: got %v", c.v, c.addr, c.ra, got)
		}
	}
}

func TestNewMACDerivedAndUnique(t *testing.T) {
	n := &model.Network{}
	mustEqual(t, "mac", newMAC(n, "1fc11d08-31e2-5965-8252-99cfe7895340"), "fa:16:3e:1f:c1:1d")
	n.Ports = []*model.Port{{MACAddress: "fa:16:3e:1f:c1:1d"}}
	m := newMAC(n, "1fc11d08-31e2-5965-8252-99cfe7895340")
	if m == "fa:16:3e:1f:c1:1d" || m[:9] != "fa:16:3e:" || len(m) != 17 {
		t.Fatalf("colliding MAC not replaced: %s", m)
	}
}
