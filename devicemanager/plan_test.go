package devicemanager

import (
	"net/netip"
	"reflect"
	"slices"
	"testing"

	"qdhcp/model"
)

func subnet(id string, v int, cidr, gw string) *model.Subnet {
	return &model.Subnet{ID: id, IPVersion: v, CIDR: cidr, GatewayIP: gw, EnableDHCP: true}
}

func TestDefaultRouteSelection(t *testing.T) {
	cases := []struct {
		name    string
		subnets []*model.Subnet
		v4, v6  string // expected gateways, "" for none
		onlink4 bool
	}{
		{
			name:    "first qualifying per version",
			subnets: []*model.Subnet{subnet("a", 4, "10.0.0.0/24", ""), subnet("b", 4, "10.0.1.0/24", "10.0.1.1"), subnet("c", 4, "10.0.2.0/24", "10.0.2.1")},
			v4:      "10.0.1.1",
		},
		{
			name: "dhcp-disabled and PD subnets skipped",
			subnets: func() []*model.Subnet {
				off := subnet("a", 4, "10.0.0.0/24", "10.0.0.1")
				off.EnableDHCP = false
				pd := subnet("b", 6, "2001:db8::/64", "2001:db8::1")
				pd.SubnetpoolID = "prefix_delegation"
				return []*model.Subnet{off, pd, subnet("c", 6, "2001:db8:1::/64", "2001:db8:1::1")}
			}(),
			v6: "2001:db8:1::1",
		},
		{
			name: "IPv6 prefix limits and non-/64 SLAAC",
			subnets: func() []*model.Subnet {
				slaac := subnet("a", 6, "2001:db8:2::/80", "2001:db8:2::1")
				slaac.IPv6RAMode = model.IPv6ModeSLAAC
				p127 := subnet("b", 6, "2001:db8:3::/127", "2001:db8:3::1")
				stateful := subnet("c", 6, "2001:db8:4::/80", "2001:db8:4::1")
				stateful.IPv6AddressMode = model.IPv6ModeDHCPv6Stateful
				return []*model.Subnet{slaac, p127, stateful}
			}(),
			v6: "2001:db8:4::1",
		},
		{
			name:    "gateway outside the subnet is on-link",
			subnets: []*model.Subnet{subnet("a", 4, "10.0.0.0/24", "10.9.9.1")},
			v4:      "10.9.9.1", onlink4: true,
		},
		{
			name:    "network address as gateway is on-link",
			subnets: []*model.Subnet{subnet("a", 4, "10.0.0.0/24", "10.0.0.0")},
			v4:      "10.0.0.0", onlink4: true,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := planRoutes(&model.Network{Subnets: c.subnets}, true)
			var v4, v6 string
			var onlink bool
			for _, r := range got {
				if r.Version == 4 {
					v4, onlink = r.Gateway.String(), r.OnLink
				} else {
					v6 = r.Gateway.String()
				}
			}
			if v4 != c.v4 || v6 != c.v6 || onlink != c.onlink4 {
				t.Fatalf("got v4 %q (onlink %v) v6 %q", v4, onlink, v6)
			}
		})
	}
}

func TestPlanIPv6Disabled(t *testing.T) {
	conf := testConf()
	conf.EnableIsolatedMetadata = true
	net := &model.Network{ID: "n", MTU: 1500, Subnets: []*model.Subnet{
		subnet("a", 4, "10.0.0.0/24", "10.0.0.1"), subnet("b", 6, "2001:db8::/64", "2001:db8::1"),
	}}
	port := &model.Port{ID: "0123456789abcdef", MACAddress: "fa:16:3e:00:00:01", FixedIPs: []model.FixedIP{
		{SubnetID: "b", IPAddress: "2001:db8::2"}, {SubnetID: "a", IPAddress: "10.0.0.2"}, {SubnetID: "zz", IPAddress: "10.9.0.2"},
	}}
	on := NewPlan(conf, net, port, true)
	off := NewPlan(conf, net, port, false)
	str := func(ps []netip.Prefix) []string {
		var out []string
		for _, p := range ps {
			out = append(out, p.String())
		}
		return out
	}
	if got := str(on.Addresses); !reflect.DeepEqual(got, []string{"2001:db8::2/64", "10.0.0.2/24", "169.254.169.254/32", "fe80::a9fe:a9fe/64"}) {
		t.Fatalf("IPv6 on: %v", got)
	}
	if got := str(off.Addresses); !reflect.DeepEqual(got, []string{"10.0.0.2/24", "169.254.169.254/32"}) {
		t.Fatalf("IPv6 off: %v", got)
	}
	if len(off.Routes) != 1 || len(off.ChecksumRules) != 1 || len(off.Sysctls) != 1 {
		t.Fatalf("IPv6 off plans v6 items: %+v", off)
	}
	if on.Device != "tap0123456789a" || on.Namespace != "qdhcp-n" || on.ExternalIDs["attached-mac"] != port.MACAddress {
		t.Fatalf("identity %+v", on)
	}
	conf.OVS.IntegrationBridge = "br-other"
	if p := NewPlan(conf, net, port, true); p.Bridge != "br-other" {
		t.Fatalf("integration bridge %q", p.Bridge)
	}
}

func TestEndpoints(t *testing.T) {
	conf := testConf()
	m, err := New(conf, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"tcp:127.0.0.1:6640", DefaultOVSDBSocket}; !slices.Equal(m.ovs.endpoints, want) {
		t.Fatalf("default endpoints %v", m.ovs.endpoints)
	}
	conf.OVS.OVSDBConnection = DefaultOVSDBSocket
	if m, _ = New(conf, nil); !slices.Equal(m.ovs.endpoints, []string{DefaultOVSDBSocket}) {
		t.Fatalf("unix endpoint %v", m.ovs.endpoints)
	}
	if m, _ = New(conf, nil, WithOVSDBEndpoints("unix:/tmp/x.sock"), WithIPv6(false)); !slices.Equal(m.ovs.endpoints, []string{"unix:/tmp/x.sock"}) || m.IPv6Enabled() {
		t.Fatalf("override %v %v", m.ovs.endpoints, m.IPv6Enabled())
	}
}

func TestUsableInSubnet(t *testing.T) {
	p := netip.MustParsePrefix("10.0.0.0/24")
	for ip, want := range map[string]bool{"10.0.0.1": true, "10.0.0.0": false, "10.0.0.255": false, "10.0.1.1": false} {
		if got := usableInSubnet(p, netip.MustParseAddr(ip)); got != want {
			t.Errorf("%s: %v", ip, got)
		}
	}
	if !usableInSubnet(netip.MustParsePrefix("10.0.0.0/31"), netip.MustParseAddr("10.0.0.1")) {
		t.Error("/31 second address")
	}
	if !usableInSubnet(netip.MustParsePrefix("2001:db8::/64"), netip.MustParseAddr("2001:db8::")) {
		t.Error("IPv6 subnet-router anycast address is usable")
	}
}
