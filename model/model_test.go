package model

import "testing"

func TestDHCPDeviceID(t *testing.T) {
	// the device id neutron computes for host network-node-1 (reference goldens)
	got := DHCPDeviceID("network-node-1.example.org", "cf09365d-0bff-57c9-8f78-61f4fa05301e")
	want := "dhcpd84bb4e6-abd2-5cee-ae74-ee87ec7cd084-cf09365d-0bff-57c9-8f78-61f4fa05301e"
	if got != want {
		t.Fatalf("got %s want %s", got, want)
	}
}

func TestDeviceName(t *testing.T) {
	if got := DeviceName("tap", "dfb05f78-87d2-51a6-959d-fbcdd510dfb4"); got != "tapdfb05f78-87" {
		t.Fatalf("got %q", got)
	}
}

func TestValidateRejectsIPv6Zones(t *testing.T) {
	n := &Network{ID: "11111111-1111-4111-8111-111111111111", Subnets: []*Subnet{{
		ID: "22222222-2222-4222-8222-222222222222", IPVersion: 6, CIDR: "fe80::/64", EnableDHCP: true,
		GatewayIP: "fe80::1%x\ndhcp-range=evil"}}}
	if err := n.Validate(); err == nil {
		t.Fatal("a gateway with a zone carrying a newline validated")
	}
	n.Subnets[0].GatewayIP = "fe80::1"
	if err := n.Validate(); err != nil {
		t.Fatal(err)
	}
}
