package memory

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"strings"
	"sync"
	"testing"

	"qdhcp/model"
)

func TestCreateDHCPPortAllocates(t *testing.T) {
	s := New(testHost)
	s.Put(testNet())
	ctx := context.Background()
	p, err := s.CreateDHCPPort(ctx, createReq(testNID, v4Sub, v6Sub))
	if err != nil || p == nil {
		t.Fatalf("create: %v, %v", p, err)
	}
	mustEqual(t, "owner", p.DeviceOwner, model.OwnerDHCP)
	mustEqual(t, "binding", p.BindingHostID, testHost)
	mustEqual(t, "device id", p.DeviceID, model.DHCPDeviceID(testHost, testNID))
	mustEqual(t, "network", p.NetworkID, testNID)
	if !model.IsUUID(p.ID) {
		t.Fatalf("port id %q is not a UUID", p.ID)
	}
	mustEqual(t, "mac derived from id", p.MACAddress, "fa:16:3e:"+p.ID[0:2]+":"+p.ID[2:4]+":"+p.ID[4:6])
	// .10 is the VM's, the gateway .1 is outside the pool: first free is .11
	eui, _ := EUI64(netip.MustParsePrefix("fd00:90::/64"), p.MACAddress)
	want := []string{"aaaaaaaa=10.90.0.11", "bbbbbbbb=" + eui.String()}
	if got := ipsOf(p); !reflect.DeepEqual(got, want) {
		t.Fatalf("ips %v, want %v", got, want)
	}
	n, _ := s.GetNetworkInfo(ctx, testNID)
	if got := n.Port(p.ID); got == nil || !reflect.DeepEqual(got, p) {
		t.Fatalf("port not stored as returned: %+v", got)
	}
	// a second port gets the next address, a different MAC
	p2, err := s.CreateDHCPPort(ctx, createReq(testNID, v4Sub))
	if err != nil || p2 == nil {
		t.Fatalf("second create: %v, %v", p2, err)
	}
	mustEqual(t, "second ip", p2.FixedIPs[0].IPAddress, "10.90.0.12")
	if p2.MACAddress == p.MACAddress || p2.ID == p.ID {
		t.Fatalf("second port reuses id or MAC: %+v", p2)
	}
}

func TestCreateDHCPPortPortIDOption(t *testing.T) {
	s := New(testHost, WithPortIDs(func(net string) string { return "1fc11d08-31e2-5965-8252-99cfe7895340" }))
	s.Put(testNet())
	p, err := s.CreateDHCPPort(context.Background(), createReq(testNID, v4Sub))
	if err != nil || p == nil {
		t.Fatalf("create: %v, %v", p, err)
	}
	mustEqual(t, "id", p.ID, "1fc11d08-31e2-5965-8252-99cfe7895340")
	mustEqual(t, "mac", p.MACAddress, "fa:16:3e:1f:c1:1d")
}

func TestCreateDHCPPortRequests(t *testing.T) {
	ctx := context.Background()
	withIP := func(sub, ip string) model.PortRequest {
		r := createReq(testNID)
		r.FixedIPs = []model.FixedIP{{SubnetID: sub, IPAddress: ip}}
		return r
	}
	cases := []struct {
		name    string
		req     model.PortRequest
		wantIP  string // "" = nil port
		wantErr string // remote class
	}{
		{"explicit free ip honoured", withIP(v4Sub, "10.90.0.15"), "10.90.0.15", ""},
		{"explicit ip without subnet id", withIP("", "10.90.0.16"), "10.90.0.16", ""},
		{"explicit ip in use", withIP(v4Sub, "10.90.0.10"), "", "neutron_lib.exceptions.IpAddressAlreadyAllocated"},
		{"explicit ip outside subnet", withIP(v4Sub, "10.91.0.5"), "", ""},
		{"explicit ip on slaac subnet", withIP(v6Sub, "fd00:90::5"), "", ""},
		{"unknown subnet", createReq(testNID, "eeeeeeee-0000-4000-8000-000000000000"), "", ""},
		{"unknown network", createReq("22222222-2222-4222-8222-222222222222", v4Sub), "", ""},
		{"dhcp-disabled subnet allowed", createReq(testNID, offSub), "10.91.0.2", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := New(testHost)
			s.Put(testNet())
			p, err := s.CreateDHCPPort(ctx, c.req)
			if c.wantErr != "" {
				var re *model.RemoteError
				if !errors.As(err, &re) || re.Class != c.wantErr || p != nil {
					t.Fatalf("got %v, %v; want remote %s", p, err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("error %v", err)
			}
			if c.wantIP == "" {
				if p != nil {
					t.Fatalf("got port %v, want nil", ipsOf(p))
				}
				if n := s.Network(testNID); n != nil && len(n.Ports) != 1 {
					t.Fatalf("refused create stored a port")
				}
				return
			}
			if p == nil || len(p.FixedIPs) != 1 || p.FixedIPs[0].IPAddress != c.wantIP {
				t.Fatalf("got %+v, want ip %s", p, c.wantIP)
			}
		})
	}
}

func TestCreateDHCPPortExhausted(t *testing.T) {
	s := New(testHost)
	s.Put(testNet())
	ctx := context.Background()
	// pool .10-.20 with .10 taken: 10 more ports fit
	for i := 0; i < 10; i++ {
		p, err := s.CreateDHCPPort(ctx, createReq(testNID, v4Sub))
		if err != nil || p == nil {
			t.Fatalf("create %d: %v %v", i, p, err)
		}
		mustEqual(t, "ip", p.FixedIPs[0].IPAddress, fmt.Sprintf("10.90.0.%d", 11+i))
	}
	p, err := s.CreateDHCPPort(ctx, createReq(testNID, v4Sub))
	var re *model.RemoteError
	if p != nil || !errors.As(err, &re) || re.Class != "neutron_lib.exceptions.IpAddressGenerationFailure" {
		t.Fatalf("exhausted pool: got %v, %v", p, err)
	}
}

func TestCreateDHCPPortConcurrent(t *testing.T) {
	s := New(testHost)
	s.Put(testNet())
	var wg sync.WaitGroup
	ips := make(chan string, 10)
	for i := 0; i < 10; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p, err := s.CreateDHCPPort(context.Background(), createReq(testNID, v4Sub))
			if err != nil || p == nil {
				t.Errorf("create: %v %v", p, err)
				return
			}
			ips <- p.FixedIPs[0].IPAddress
		}()
	}
	wg.Wait()
	close(ips)
	seen := map[string]bool{}
	for ip := range ips {
		if seen[ip] {
			t.Fatalf("ip %s given twice", ip)
		}
		seen[ip] = true
	}
	mustEqual(t, "ports", len(seen), 10)
}

// netWithPort returns a server holding testNet plus a network:dhcp port
// with the given device id at 10.90.0.11.
func netWithPort(deviceID string) (*Server, string) {
	n := testNet()
	id := "eeeeeeee-0000-4000-8000-0000000000d1"
	n.Ports = append(n.Ports, &model.Port{ID: id, MACAddress: "fa:16:3e:00:00:d1", DeviceID: deviceID,
		DeviceOwner: model.OwnerDHCP, RevisionNumber: 3,
		FixedIPs: []model.FixedIP{{SubnetID: v4Sub, IPAddress: "10.90.0.11"}}})
	s := New(testHost)
	s.Put(n)
	return s, id
}

func TestUpdateDHCPPortRefusal(t *testing.T) {
	ctx := context.Background()
	ours := model.DHCPDeviceID(testHost, testNID)
	for _, c := range []struct {
		name, oldDevice string
		allowed         bool
	}{
		{"own device id", ours, true},
		{"reserved", model.ReservedDHCPPortDeviceID, true},
		{"other agent", model.DHCPDeviceID("network-node-2", testNID), false},
		{"own id of another network", model.DHCPDeviceID(testHost, "22222222-2222-4222-8222-222222222222"), false},
		{"vm", "vm-device", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, id := netWithPort(c.oldDevice)
			p, err := s.UpdateDHCPPort(ctx, id, model.PortRequest{NetworkID: testNID, DeviceID: ours})
			if err != nil {
				t.Fatal(err)
			}
			stored := s.Network(testNID).Port(id)
			if !c.allowed {
				if p != nil {
					t.Fatalf("update allowed: %+v", p)
				}
				mustEqual(t, "stored device id", stored.DeviceID, c.oldDevice)
				return
			}
			if p == nil {
				t.Fatal("update refused")
			}
			mustEqual(t, "device id", p.DeviceID, ours)
			mustEqual(t, "stored device id", stored.DeviceID, ours)
			mustEqual(t, "binding", p.BindingHostID, testHost)
			mustEqual(t, "revision", p.RevisionNumber, int64(4))
			if got := ipsOf(p); !reflect.DeepEqual(got, []string{"aaaaaaaa=10.90.0.11"}) {
				t.Fatalf("ips changed by a device_id update: %v", got)
			}
		})
	}
	t.Run("unknown port", func(t *testing.T) {
		s, _ := netWithPort(ours)
		p, err := s.UpdateDHCPPort(ctx, "ffffffff-0000-4000-8000-000000000000", model.PortRequest{NetworkID: testNID, DeviceID: ours})
		var re *model.RemoteError
		if p != nil || !errors.Is(err, model.ErrNotFound) || !errors.As(err, &re) || !strings.HasSuffix(re.Class, "PortNotFound") {
			t.Fatalf("got %v, %v", p, err)
		}
	})
}

func TestUpdateDHCPPortFixedIPs(t *testing.T) {
	ctx := context.Background()
	ours := model.DHCPDeviceID(testHost, testNID)
	s, id := netWithPort(ours)
	// the agent's missing-subnet update: kept IP + a subnet-only entry
	p, err := s.UpdateDHCPPort(ctx, id, model.PortRequest{NetworkID: testNID, FixedIPs: []model.FixedIP{
		{SubnetID: v4Sub, IPAddress: "10.90.0.11"}, {SubnetID: v6Sub}, {SubnetID: offSub}}})
	if err != nil || p == nil {
		t.Fatalf("update: %v %v", p, err)
	}
	eui, _ := EUI64(netip.MustParsePrefix("fd00:90::/64"), "fa:16:3e:00:00:d1")
	want := []string{"aaaaaaaa=10.90.0.11", "bbbbbbbb=" + eui.String(), "cccccccc=10.91.0.2"}
	if got := ipsOf(p); !reflect.DeepEqual(got, want) {
		t.Fatalf("ips %v, want %v", got, want)
	}
	// a subnet-only entry for a subnet the port is on keeps its address;
	// the subnet left out is dropped
	p, err = s.UpdateDHCPPort(ctx, id, model.PortRequest{NetworkID: testNID, FixedIPs: []model.FixedIP{{SubnetID: offSub}, {SubnetID: v4Sub}}})
	if err != nil || p == nil {
		t.Fatalf("update: %v %v", p, err)
	}
	want = []string{"cccccccc=10.91.0.2", "aaaaaaaa=10.90.0.11"}
	if got := ipsOf(p); !reflect.DeepEqual(got, want) {
		t.Fatalf("ips %v, want %v", got, want)
	}
	// its own EUI-64 address may be named; another port's IP may not
	p, err = s.UpdateDHCPPort(ctx, id, model.PortRequest{NetworkID: testNID, FixedIPs: []model.FixedIP{{SubnetID: v6Sub, IPAddress: eui.String()}}})
	if err != nil || p == nil || p.FixedIPs[0].IPAddress != eui.String() {
		t.Fatalf("own eui-64: %v %v", p, err)
	}
	p, err = s.UpdateDHCPPort(ctx, id, model.PortRequest{NetworkID: testNID, FixedIPs: []model.FixedIP{{SubnetID: v4Sub, IPAddress: "10.90.0.10"}}})
	var re *model.RemoteError
	if p != nil || !errors.As(err, &re) {
		t.Fatalf("taking the VM's IP: %v %v", p, err)
	}
	if got := ipsOf(s.Network(testNID).Port(id)); !reflect.DeepEqual(got, []string{"bbbbbbbb=" + eui.String()}) {
		t.Fatalf("failed update changed the port: %v", got)
	}
}

func TestReleaseDHCPPort(t *testing.T) {
	ctx := context.Background()
	s := New(testHost)
	s.Put(testNet())
	other := testNet()
	other.ID = "22222222-2222-4222-8222-222222222222"
	s.Put(other)
	ours := createReq(testNID, v4Sub)
	a, _ := s.CreateDHCPPort(ctx, ours)
	b, _ := s.CreateDHCPPort(ctx, ours) // two ports with our device id
	theirs := createReq(other.ID, v4Sub)
	theirs.DeviceID = ours.DeviceID // same device id on another network
	c, _ := s.CreateDHCPPort(ctx, theirs)
	if a == nil || b == nil || c == nil {
		t.Fatal("setup failed")
	}
	if err := s.ReleaseDHCPPort(ctx, testNID, ours.DeviceID); err != nil {
		t.Fatal(err)
	}
	n := s.Network(testNID)
	if n.Port(a.ID) != nil || n.Port(b.ID) != nil || n.Port(vmPort) == nil || len(n.Ports) != 1 {
		t.Fatalf("after release: %d ports", len(n.Ports))
	}
	if s.Network(other.ID).Port(c.ID) == nil {
		t.Fatal("release deleted a port of another network")
	}
	if _, err := s.GetDHCPPort(ctx, a.ID); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("released port still found: %v", err)
	}
	if got, err := s.GetDHCPPort(ctx, c.ID); err != nil || got.ID != c.ID {
		t.Fatalf("get_dhcp_port: %v %v", got, err)
	}
	// releasing on an unknown network is not an error
	if err := s.ReleaseDHCPPort(ctx, "33333333-3333-4333-8333-333333333333", ours.DeviceID); err != nil {
		t.Fatal(err)
	}
}

func TestNetworkInfoViews(t *testing.T) {
	ctx := context.Background()
	s := New(testHost)
	n := testNet()
	// subnets out of id order: the server answers sorted by id
	n.Subnets[0], n.Subnets[2] = n.Subnets[2], n.Subnets[0]
	s.Put(n)
	down := testNet()
	down.ID = "22222222-2222-4222-8222-222222222222"
	down.AdminStateUp = boolp(false)
	s.Put(down)

	info, err := s.GetNetworkInfo(ctx, testNID)
	if err != nil || info == nil {
		t.Fatal(info, err)
	}
	if got := subnetIDs(info.Subnets); !reflect.DeepEqual(got, []string{v4Sub, v6Sub}) {
		t.Fatalf("get_network_info subnets %v", got)
	}
	if info, _ := s.GetNetworkInfo(ctx, down.ID); info == nil {
		t.Fatal("get_network_info of an admin-down network returned nil")
	}
	if info, err := s.GetNetworkInfo(ctx, "44444444-4444-4444-8444-444444444444"); info != nil || err != nil {
		t.Fatalf("unknown network: %v %v", info, err)
	}
	all, _ := s.GetActiveNetworksInfo(ctx, false)
	if len(all) != 1 || all[0].ID != testNID {
		t.Fatalf("active networks: %d", len(all))
	}
	if got := subnetIDs(all[0].Subnets); !reflect.DeepEqual(got, []string{v4Sub, v6Sub, offSub}) {
		t.Fatalf("unfiltered subnets %v", got)
	}
	filtered, _ := s.GetActiveNetworksInfo(ctx, true)
	if got := subnetIDs(filtered[0].Subnets); !reflect.DeepEqual(got, []string{v4Sub, v6Sub}) {
		t.Fatalf("filtered subnets %v", got)
	}
	// answers are copies
	all[0].Ports[0].MACAddress = "fa:16:3e:ff:ff:ff"
	if s.Network(testNID).Ports[0].MACAddress != "fa:16:3e:00:00:01" {
		t.Fatal("caller changed the server's port")
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.GetActiveNetworksInfo(cctx, false); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled context: %v", err)
	}
}

func subnetIDs(ss []*model.Subnet) []string {
	var out []string
	for _, s := range ss {
		out = append(out, s.ID)
	}
	return out
}

func TestCallsRecorded(t *testing.T) {
	ctx := context.Background()
	s := New(testHost)
	s.Put(testNet())
	s.GetActiveNetworksInfo(ctx, false)
	s.GetNetworkInfo(ctx, testNID)
	p, _ := s.CreateDHCPPort(ctx, createReq(testNID, v4Sub))
	s.UpdateDHCPPort(ctx, p.ID, model.PortRequest{NetworkID: testNID, DeviceID: "x"})
	s.GetDHCPPort(ctx, p.ID)
	s.DHCPReadyOnPorts(ctx, []string{vmPort, p.ID})
	s.DHCPReadyOnPorts(ctx, []string{vmPort})
	s.ReleaseDHCPPort(ctx, testNID, "x")

	var methods []string
	var changes int
	for _, c := range s.Calls() {
		methods = append(methods, c.Method)
		if c.ChangesPorts() {
			changes++
		}
	}
	want := []string{"get_active_networks_info", "get_network_info", "create_dhcp_port", "update_dhcp_port",
		"get_dhcp_port", "dhcp_ready_on_ports", "dhcp_ready_on_ports", "release_dhcp_port"}
	if !reflect.DeepEqual(methods, want) {
		t.Fatalf("methods %v", methods)
	}
	mustEqual(t, "port-changing calls", changes, 3)
	calls := s.Calls()
	wantArgs := []map[string]any{
		{"op": "rpc.get_active_networks_info", "host": testHost, "enable_dhcp_filter": false},
		{"op": "rpc.get_network_info", "host": testHost, "network_id": testNID},
		{"op": "rpc.create_dhcp_port", "host": testHost, "port": map[string]any{"port": map[string]any{
			"name": "", "admin_state_up": true, "device_id": model.DHCPDeviceID(testHost, testNID),
			"network_id": testNID, "project_id": "p1", "fixed_ips": []any{map[string]any{"subnet_id": v4Sub}}}}},
		{"op": "rpc.update_dhcp_port", "host": testHost, "port_id": p.ID, "port": map[string]any{"port": map[string]any{
			"network_id": testNID, "device_id": "x"}}},
		{"op": "rpc.get_dhcp_port", "port_id": p.ID},
		{"op": "rpc.dhcp_ready_on_ports", "port_ids": []any{vmPort, p.ID}},
		{"op": "rpc.dhcp_ready_on_ports", "port_ids": []any{vmPort}},
		{"op": "rpc.release_dhcp_port", "host": testHost, "network_id": testNID, "device_id": "x"},
	}
	for i, w := range wantArgs {
		if got := calls[i].Action(); !reflect.DeepEqual(got, w) {
			t.Errorf("call %d: got %v\nwant %v", i, got, w)
		}
	}
	if got := s.ReadyPorts(); !reflect.DeepEqual(got, []string{vmPort, p.ID, vmPort}) {
		t.Fatalf("ready ports %v", got)
	}
	s.ClearCalls()
	if len(s.Calls()) != 0 || len(s.ReadyPorts()) != 3 {
		t.Fatal("ClearCalls")
	}
}
