package filesource

import (
	"context"
	"net/netip"
	"strings"
	"testing"

	"qdhcp/model"
)

// The demo networks of testdata/networks load cleanly, follow the demo's
// rules (private IPv4, fa:16:3e MACs, no DHCP port, one stateful IPv6
// subnet) and get a DHCP port from the source.
func TestDemoNetworks(t *testing.T) {
	ctx := context.Background()
	src := New("../../testdata/networks", t.TempDir(), testHost, nil)
	if err := src.Start(ctx, nil); err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if errs := src.Errors(); len(errs) != 0 {
		t.Fatalf("demo files rejected: %v", errs)
	}
	nets, _ := src.GetActiveNetworksInfo(ctx, false)
	if len(nets) < 2 {
		t.Fatalf("%d demo networks", len(nets))
	}
	private := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.168.0.0/16")}
	stateful := false
	for _, n := range nets {
		var req []string
		for _, s := range n.Subnets {
			p := s.Prefix()
			if s.IPVersion == 4 && !private[0].Contains(p.Addr()) && !private[1].Contains(p.Addr()) {
				t.Errorf("%s: subnet %s is not 10/8 or 192.168/16", n.ID, s.CIDR)
			}
			if s.IPVersion == 6 && s.IPv6AddressMode == model.IPv6ModeDHCPv6Stateful {
				stateful = true
			}
			req = append(req, s.ID)
		}
		for _, p := range n.Ports {
			if !strings.HasPrefix(p.MACAddress, "fa:16:3e:") || p.DeviceOwner == model.OwnerDHCP {
				t.Errorf("%s: port %s (%s, %s)", n.ID, p.ID, p.MACAddress, p.DeviceOwner)
			}
		}
		name, up := "", true
		port, err := src.CreateDHCPPort(ctx, model.PortRequest{Name: &name, AdminStateUp: &up, NetworkID: n.ID,
			DeviceID: model.DHCPDeviceID(testHost, n.ID), FixedIPs: fixedIPs(req)})
		if err != nil || port == nil || len(port.FixedIPs) != len(req) {
			t.Fatalf("%s: DHCP port %+v, %v", n.ID, port, err)
		}
		if !strings.HasSuffix(port.FixedIPs[0].IPAddress, ".2") {
			t.Errorf("%s: DHCP port at %s, the file's comment says .2", n.ID, port.FixedIPs[0].IPAddress)
		}
	}
	if !stateful {
		t.Error("no demo network has a DHCPv6-stateful subnet")
	}
}

func fixedIPs(subnets []string) []model.FixedIP {
	var out []model.FixedIP
	for _, s := range subnets {
		out = append(out, model.FixedIP{SubnetID: s})
	}
	return out
}
