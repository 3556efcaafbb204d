package memory

import (
	"testing"

	"qdhcp/model"
)

const testHost = "network-node-1"

func boolp(b bool) *bool    { return &b }
func strp(s string) *string { return &s }

// testNet is a network with a v4 subnet (pool .10-.20, gateway .1), a
// slaac v6 subnet and a DHCP-disabled v4 subnet, and one VM port at .10.
func testNet() *model.Network {
	return &model.Network{
		ID:        "11111111-1111-4111-8111-111111111111",
		ProjectID: "p1",
		MTU:       1450,
		Subnets: []*model.Subnet{
			{ID: "aaaaaaaa-0000-4000-8000-000000000004", IPVersion: 4, CIDR: "10.90.0.0/24", GatewayIP: "10.90.0.1", EnableDHCP: true,
				AllocationPools: []model.AllocPool{{Start: "10.90.0.10", End: "10.90.0.20"}}},
			{ID: "bbbbbbbb-0000-4000-8000-000000000006", IPVersion: 6, CIDR: "fd00:90::/64", GatewayIP: "fd00:90::1", EnableDHCP: true,
				IPv6AddressMode: model.IPv6ModeSLAAC, IPv6RAMode: model.IPv6ModeSLAAC},
			{ID: "cccccccc-0000-4000-8000-000000000004", IPVersion: 4, CIDR: "10.91.0.0/24", GatewayIP: "10.91.0.1", EnableDHCP: false},
		},
		Ports: []*model.Port{
			{ID: "dddddddd-0000-4000-8000-000000000001", MACAddress: "fa:16:3e:00:00:01", DeviceOwner: "compute:nova", DeviceID: "vm1",
				FixedIPs: []model.FixedIP{{SubnetID: "aaaaaaaa-0000-4000-8000-000000000004", IPAddress: "10.90.0.10"}}},
		},
	}
}

const (
	v4Sub   = "aaaaaaaa-0000-4000-8000-000000000004"
	v6Sub   = "bbbbbbbb-0000-4000-8000-000000000006"
	offSub  = "cccccccc-0000-4000-8000-000000000004"
	vmPort  = "dddddddd-0000-4000-8000-000000000001"
	testNID = "11111111-1111-4111-8111-111111111111"
)

func createReq(netID string, subnets ...string) model.PortRequest {
	req := model.PortRequest{
		Name: strp(""), AdminStateUp: boolp(true), NetworkID: netID, ProjectID: "p1",
		DeviceID: model.DHCPDeviceID(testHost, netID),
	}
	for _, s := range subnets {
		req.FixedIPs = append(req.FixedIPs, model.FixedIP{SubnetID: s})
	}
	return req
}

func ipsOf(p *model.Port) []string {
	var out []string
	for _, f := range p.FixedIPs {
		out = append(out, f.SubnetID[:8]+"="+f.IPAddress)
	}
	return out
}

func mustEqual[T comparable](t *testing.T, what string, got, want T) {
	t.Helper()
	if got != want {
		t.Fatalf("%s: got %v, want %v", what, got, want)
	}
}
