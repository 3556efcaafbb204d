package devicemanager

import (
	"strings"
	"testing"

	vs "qdhcp/devicemanager/ovsdb"
	"qdhcp/model"
)

func TestPlanNamesWithVeth(t *testing.T) {
	n := &model.Network{ID: "8f1c5e4e-0000-4000-8000-000000000001", MTU: 1450}
	port := &model.Port{ID: "3a5b7c9d-1e2f-4a6b-8c0d-123456789abc", MACAddress: "fa:16:3e:00:00:01"}
	for _, tc := range []struct {
		veth            bool
		driver          string
		device, ovsPort string
		wantVeth        bool
	}{
		{false, "openvswitch", "tap3a5b7c9d-1e", "tap3a5b7c9d-1e", false},
		{true, "openvswitch", "ns-3a5b7c9d-1e", "tap3a5b7c9d-1e", true},
		{true, "neutron.agent.linux.interface.OVSInterfaceDriver", "ns-3a5b7c9d-1e", "tap3a5b7c9d-1e", true},
	} {
		conf := testConf()
		conf.OVSUseVeth, conf.InterfaceDriver = tc.veth, tc.driver
		p := NewPlan(conf, n, port, false)
		if p.Device != tc.device || p.OVSPort != tc.ovsPort || p.Veth != tc.wantVeth {
			t.Errorf("veth=%v: device %s port %s veth %v, want %s %s %v", tc.veth, p.Device, p.OVSPort, p.Veth, tc.device, tc.ovsPort, tc.wantVeth)
		}
		if p.ExternalIDs["iface-id"] != port.ID || p.ExternalIDs["attached-mac"] != port.MACAddress {
			t.Errorf("veth=%v: external ids %v", tc.veth, p.ExternalIDs)
		}
		if got := ovsPortOf(p.Device); got != p.OVSPort {
			t.Errorf("ovsPortOf(%s) = %s, want %s", p.Device, got, p.OVSPort)
		}
	}
}

func TestNewRejectsLinuxBridge(t *testing.T) {
	for _, d := range []string{"linuxbridge", "neutron.agent.linux.interface.BridgeInterfaceDriver"} {
		conf := testConf()
		conf.InterfaceDriver = d
		if _, err := New(conf, nil); err == nil || !strings.Contains(err.Error(), "not supported") {
			t.Errorf("interface_driver %s: err %v, want not supported", d, err)
		}
	}
	conf := testConf()
	conf.InterfaceDriver = "openvswitch"
	m, err := New(conf, nil)
	if err != nil {
		t.Fatal(err)
	}
	m.Close()
}

func TestAttachFailed(t *testing.T) {
	msg, empty := "could not open network device tapx (No such device)", ""
	bad, unset, ok := -1, (*int)(nil), 3
	for _, tc := range []struct {
		iface *vs.Interface
		want  bool
	}{
		{nil, false},
		{&vs.Interface{}, false},
		{&vs.Interface{Error: &empty, Ofport: &ok}, false},
		{&vs.Interface{Ofport: unset}, false},
		{&vs.Interface{Error: &msg}, true},
		{&vs.Interface{Ofport: &bad}, true},
	} {
		if got := attachFailed(tc.iface); got != tc.want {
			t.Errorf("attachFailed(%+v) = %v, want %v", tc.iface, got, tc.want)
		}
	}
}
