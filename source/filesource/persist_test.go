package filesource

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"qdhcp/model"
)

func TestDHCPPortPersistsAcrossRestart(t *testing.T) {
	ctx := context.Background()
	dir, state := t.TempDir(), t.TempDir()
	n := testNetwork(1, 2)
	path := writeNet(t, dir, n)
	userFile, _ := os.ReadFile(path)

	f := newFixture(t, dir, state)
	p, err := f.src.CreateDHCPPort(ctx, dhcpReq(1, subID(1, 4), subID(1, 6)))
	if err != nil || p == nil {
		t.Fatalf("create: %v %v", p, err)
	}
	// first free v4 address (.2; VMs are at .10, .11), first of the v6 pool
	want := []model.FixedIP{{SubnetID: subID(1, 4), IPAddress: "10.1.0.2"}, {SubnetID: subID(1, 6), IPAddress: "fd00:1::2"}}
	if !reflect.DeepEqual(p.FixedIPs, want) {
		t.Fatalf("ips %v", p.FixedIPs)
	}
	if _, err := os.Stat(filepath.Join(state, netID(1)+".port.json")); err != nil {
		t.Fatalf("state file: %v", err)
	}
	if now, _ := os.ReadFile(path); !bytes.Equal(now, userFile) {
		t.Fatal("the user's file was rewritten")
	}
	f.src.Close()

	// a new source on the same dirs serves the same port
	g := newFixture(t, dir, state)
	info, _ := g.src.GetNetworkInfo(ctx, netID(1))
	if got := info.Port(p.ID); !reflect.DeepEqual(got, p) {
		t.Fatalf("after restart: %+v, want %+v", got, p)
	}
	if got, err := g.src.GetDHCPPort(ctx, p.ID); err != nil || got.MACAddress != p.MACAddress {
		t.Fatalf("get_dhcp_port: %v %v", got, err)
	}

	// a rewrite of the file keeps it, and only the file's change is announced
	n.Ports = append(n.Ports, vmPort(1, 2))
	writeNet(t, dir, n)
	got := decodeNotes(t, g.next(path).notes)
	wantMethods(t, got, "port_create_end")
	info, _ = g.src.GetNetworkInfo(ctx, netID(1))
	if got := info.Port(p.ID); !reflect.DeepEqual(got, p) || len(info.Ports) != 4 {
		t.Fatalf("after rewrite: %+v (%d ports)", got, len(info.Ports))
	}

	// the agent releases it: gone from memory and from the state dir
	if err := g.src.ReleaseDHCPPort(ctx, netID(1), p.DeviceID); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(state, netID(1)+".port.json")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("state file after release: %v", err)
	}
	g.src.Close()
	h := newFixture(t, dir, state)
	if info, _ := h.src.GetNetworkInfo(ctx, netID(1)); info.Port(p.ID) != nil {
		t.Fatal("released port came back")
	}
}

func TestDHCPPortStateDroppedWithNetwork(t *testing.T) {
	ctx := context.Background()
	dir, state := t.TempDir(), t.TempDir()
	path := writeNet(t, dir, testNetwork(1, 1))
	writeNet(t, dir, testNetwork(2, 1))
	f := newFixture(t, dir, state)
	for _, i := range []int{1, 2} {
		if p, err := f.src.CreateDHCPPort(ctx, dhcpReq(i, subID(i, 4))); p == nil || err != nil {
			t.Fatalf("create: %v %v", p, err)
		}
	}
	// deleted while running
	os.Remove(path)
	wantMethods(t, decodeNotes(t, f.next(path).notes), "network_delete_end")
	if _, err := os.Stat(filepath.Join(state, netID(1)+".port.json")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("state of a deleted network kept: %v", err)
	}
	f.src.Close()
	// deleted while stopped
	os.Remove(filepath.Join(dir, netID(2)+".json"))
	newFixture(t, dir, state)
	if entries, _ := os.ReadDir(state); len(entries) != 0 {
		t.Fatalf("state left: %v", entries)
	}
}

func TestDHCPPortRepairedAfterFileChange(t *testing.T) {
	ctx := context.Background()
	dir, state := t.TempDir(), t.TempDir()
	n := testNetwork(1, 1)
	path := writeNet(t, dir, n)
	f := newFixture(t, dir, state)
	p, err := f.src.CreateDHCPPort(ctx, dhcpReq(1, subID(1, 4), subID(1, 6)))
	if err != nil || p == nil {
		t.Fatal(p, err)
	}

	// the v4 subnet moves: the DHCP port gets an address in the new CIDR
	n.Subnets[0].CIDR, n.Subnets[0].GatewayIP = "10.201.0.0/24", "10.201.0.1"
	n.Subnets[0].AllocationPools = []model.AllocPool{{Start: "10.201.0.2", End: "10.201.0.254"}}
	n.Ports[0].FixedIPs[0].IPAddress = "10.201.0.10"
	writeNet(t, dir, n)
	got := decodeNotes(t, f.next(path).notes)
	wantMethods(t, got, "subnet_update_end", "port_update_end", "port_update_end")
	port := func() *model.Port {
		info, _ := f.src.GetNetworkInfo(ctx, netID(1))
		return info.Port(p.ID)
	}
	if ips := port().FixedIPs; ips[0].IPAddress != "10.201.0.2" || ips[1].IPAddress != "fd00:1::2" {
		t.Fatalf("after CIDR change: %v", ips)
	}

	// a VM port takes the DHCP port's address: the DHCP port moves
	vm := vmPort(1, 1)
	vm.FixedIPs = []model.FixedIP{{SubnetID: subID(1, 4), IPAddress: "10.201.0.2"}}
	n.Ports = append(n.Ports, vm)
	writeNet(t, dir, n)
	wantMethods(t, decodeNotes(t, f.next(path).notes), "port_create_end", "port_update_end")
	if ips := port().FixedIPs; ips[0].IPAddress != "10.201.0.3" {
		t.Fatalf("after conflict: %v", ips)
	}

	// the v6 subnet is removed: its address is dropped
	n.Subnets = n.Subnets[:1]
	writeNet(t, dir, n)
	wantMethods(t, decodeNotes(t, f.next(path).notes), "subnet_delete_end", "port_update_end")
	want := []model.FixedIP{{SubnetID: subID(1, 4), IPAddress: "10.201.0.3"}}
	if ips := port().FixedIPs; !reflect.DeepEqual(ips, want) {
		t.Fatalf("after subnet removal: %v", ips)
	}
	// and the repaired port is what a restart serves
	f.src.Close()
	g := newFixture(t, dir, state)
	info, _ := g.src.GetNetworkInfo(ctx, netID(1))
	if ips := info.Port(p.ID).FixedIPs; !reflect.DeepEqual(ips, want) {
		t.Fatalf("after restart: %v", ips)
	}
}

func TestReservedPortAdoptionPersists(t *testing.T) {
	ctx := context.Background()
	dir, state := t.TempDir(), t.TempDir()
	n := testNetwork(1, 1)
	reserved := &model.Port{ID: portID(1, 99), MACAddress: "fa:16:3e:01:00:99", DeviceOwner: model.OwnerDHCP,
		DeviceID: model.ReservedDHCPPortDeviceID, FixedIPs: []model.FixedIP{{SubnetID: subID(1, 4), IPAddress: "10.1.0.5"}}}
	n.Ports = append(n.Ports, reserved)
	path := writeNet(t, dir, n)
	f := newFixture(t, dir, state)
	ours := model.DHCPDeviceID(testHost, netID(1))

	// another agent's port cannot be taken
	n2 := testNetwork(2, 0)
	n2.Ports = []*model.Port{{ID: portID(2, 99), MACAddress: "fa:16:3e:02:00:99", DeviceOwner: model.OwnerDHCP,
		DeviceID: model.DHCPDeviceID("other-host", netID(2))}}
	writeNet(t, dir, n2)
	f.next(filepath.Join(dir, netID(2)+".json"))
	if p, err := f.src.UpdateDHCPPort(ctx, portID(2, 99), model.PortRequest{NetworkID: netID(2), DeviceID: model.DHCPDeviceID(testHost, netID(2))}); p != nil || err != nil {
		t.Fatalf("foreign port adopted: %v %v", p, err)
	}

	p, err := f.src.UpdateDHCPPort(ctx, reserved.ID, model.PortRequest{NetworkID: netID(1), DeviceID: ours})
	if err != nil || p == nil || p.DeviceID != ours || p.FixedIPs[0].IPAddress != "10.1.0.5" {
		t.Fatalf("adopt: %+v %v", p, err)
	}
	// the file still says reserved_dhcp_port; a rewrite keeps the adoption
	n.MTU = 1400
	writeNet(t, dir, n)
	wantMethods(t, decodeNotes(t, f.next(path).notes), "network_update_end")
	info, _ := f.src.GetNetworkInfo(ctx, netID(1))
	if got := info.Port(reserved.ID); got.DeviceID != ours || len(info.Ports) != 2 {
		t.Fatalf("after rewrite: %+v", got)
	}
	f.src.Close()
	g := newFixture(t, dir, state)
	info, _ = g.src.GetNetworkInfo(ctx, netID(1))
	if got := info.Port(reserved.ID); got.DeviceID != ours || got.BindingHostID != testHost {
		t.Fatalf("after restart: %+v", got)
	}
}

func TestCorruptStateFileReported(t *testing.T) {
	dir, state := t.TempDir(), t.TempDir()
	writeNet(t, dir, testNetwork(1, 1))
	bad := filepath.Join(state, netID(1)+".port.json")
	writeFile(t, bad, []byte(`{"network_id": "`+netID(1)+`", "ports": [{"id": "nope"}]}`))
	f := newFixture(t, dir, state)
	if err := f.src.Errors()[bad]; err == nil {
		t.Fatalf("errors %v", f.src.Errors())
	}
	// the network is served without it, and a new port can be made
	p, err := f.src.CreateDHCPPort(context.Background(), dhcpReq(1, subID(1, 4)))
	if err != nil || p == nil {
		t.Fatal(p, err)
	}
	if _, ok := f.src.Errors()[bad]; ok {
		t.Fatal("error kept after the state file was rewritten")
	}
}
