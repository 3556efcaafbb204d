package filesource

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"qdhcp/model"
)

func TestStartLoadsAndReportsErrors(t *testing.T) {
	dir, state := t.TempDir(), t.TempDir()
	writeNet(t, dir, testNetwork(1, 2))
	writeNet(t, dir, testNetwork(2, 3))
	bad := map[string]string{ // file -> expected part of the reason
		filepath.Join(dir, netID(3)+".json"):  "invalid JSON",
		filepath.Join(dir, "my-network.json"): "not <network-uuid>.json",
		filepath.Join(dir, netID(4)+".json"):  "does not match the file name",
		filepath.Join(dir, netID(5)+".json"):  "ports[0].mac_address",
		filepath.Join(dir, netID(6)+".json"):  "ports[1].id: duplicate port",
	}
	writeFile(t, filepath.Join(dir, netID(3)+".json"), []byte(`{"id": "`+netID(3)+`",`))
	writeFile(t, filepath.Join(dir, "my-network.json"), marshal(t, testNetwork(7, 1)))
	writeFile(t, filepath.Join(dir, netID(4)+".json"), marshal(t, testNetwork(8, 1)))
	badMAC := testNetwork(5, 1)
	badMAC.Ports[0].MACAddress = "fa:16:3e:zz:00:00"
	writeNet(t, dir, badMAC)
	dup := testNetwork(6, 2)
	dup.Ports[1].ID = dup.Ports[0].ID
	writeNet(t, dir, dup)
	// ignored: hidden files, non-JSON files, a harness annotation key
	writeFile(t, filepath.Join(dir, ".~"+netID(9)+".json"), []byte("{"))
	writeFile(t, filepath.Join(dir, "README.txt"), []byte("notes"))

	f := newFixture(t, dir, state)
	errs := f.src.Errors()
	if len(errs) != len(bad) {
		t.Fatalf("errors %v", errs)
	}
	for path, reason := range bad {
		if err := errs[path]; err == nil || !strings.Contains(err.Error(), reason) {
			t.Errorf("%s: error %v, want %q", filepath.Base(path), err, reason)
		}
	}
	nets, err := f.src.GetActiveNetworksInfo(context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, n := range nets {
		ids = append(ids, n.ID)
	}
	if !reflect.DeepEqual(ids, []string{netID(1), netID(2)}) {
		t.Fatalf("networks %v", ids)
	}
	if len(nets[1].Ports) != 3 || nets[1].Ports[2].ID != portID(2, 2) {
		t.Fatalf("network 2 ports %+v", nets[1].Ports)
	}
	if len(f.notes) != 0 {
		t.Fatalf("start produced notifications: %v", f.notes)
	}
}

func TestAnnotationKeysIgnored(t *testing.T) {
	dir := t.TempDir()
	data := marshal(t, testNetwork(1, 1))
	data = []byte(strings.Replace(string(data), "{", `{"_comment": "demo network", "_conf": {"x": 1},`, 1))
	writeFile(t, filepath.Join(dir, netID(1)+".json"), data)
	f := newFixture(t, dir, t.TempDir())
	if errs := f.src.Errors(); len(errs) != 0 {
		t.Fatal(errs)
	}
	if n, _ := f.src.GetNetworkInfo(context.Background(), netID(1)); n == nil || len(n.Ports) != 1 {
		t.Fatalf("network %+v", n)
	}
}

func TestStartErrors(t *testing.T) {
	s := New(filepath.Join(t.TempDir(), "missing"), t.TempDir(), testHost, nil)
	if err := s.Start(context.Background(), nil); err == nil {
		t.Fatal("start on a missing dir succeeded")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "f")
	writeFile(t, file, nil)
	if err := New(file, t.TempDir(), testHost, nil).Start(context.Background(), nil); err == nil {
		t.Fatal("start on a regular file succeeded")
	}
	f := newFixture(t, t.TempDir(), t.TempDir())
	if err := f.src.Start(context.Background(), nil); err == nil {
		t.Fatal("second start succeeded")
	}
}

func TestLiveEdits(t *testing.T) {
	dir := t.TempDir()
	n := testNetwork(1, 2)
	path := writeNet(t, dir, n)
	f := newFixture(t, dir, t.TempDir())
	ctx := context.Background()

	// add a port
	n.Ports = append(n.Ports, vmPort(1, 2))
	writeNet(t, dir, n)
	got := decodeNotes(t, f.next(path).notes)
	wantMethods(t, got, "port_create_end")
	if p := got[0].Payload["port"].(map[string]any); p["id"] != portID(1, 2) || p["network_id"] != netID(1) {
		t.Fatalf("port_create_end payload %v", got[0].Payload)
	}

	// change a port's IP
	n.Ports[0].FixedIPs[0].IPAddress = "10.1.0.99"
	writeNet(t, dir, n)
	got = decodeNotes(t, f.next(path).notes)
	wantMethods(t, got, "port_update_end")
	if p := got[0].Payload["port"].(map[string]any); p["id"] != portID(1, 0) {
		t.Fatalf("port_update_end payload %v", got[0].Payload)
	}
	if info, _ := f.src.GetNetworkInfo(ctx, netID(1)); info.Port(portID(1, 0)).FixedIPs[0].IPAddress != "10.1.0.99" {
		t.Fatal("server still has the old IP")
	}

	// change the subnet's CIDR (the ports move with it)
	n.Subnets[0].CIDR, n.Subnets[0].GatewayIP = "10.201.0.0/24", "10.201.0.1"
	n.Subnets[0].AllocationPools = []model.AllocPool{{Start: "10.201.0.2", End: "10.201.0.254"}}
	for _, p := range n.Ports {
		p.FixedIPs[0].IPAddress = strings.Replace(p.FixedIPs[0].IPAddress, "10.1.", "10.201.", 1)
	}
	writeNet(t, dir, n)
	got = decodeNotes(t, f.next(path).notes)
	wantMethods(t, got, "subnet_update_end", "port_update_end", "port_update_end", "port_update_end")
	if s := got[0].Payload["subnet"].(map[string]any); s["cidr"] != "10.201.0.0/24" || s["network_id"] != netID(1) {
		t.Fatalf("subnet_update_end payload %v", got[0].Payload)
	}

	// an editor's save: write a temporary file, rename it over the original
	n.MTU = 1400
	n.Ports = n.Ports[1:]
	tmp := filepath.Join(dir, ".tmp-save")
	writeFile(t, tmp, marshal(t, n))
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	got = decodeNotes(t, f.next(path).notes)
	wantMethods(t, got, "network_update_end", "port_delete_end")
	if got[0].Payload["network"].(map[string]any)["mtu"] != 1400.0 || got[1].Payload["port_id"] != portID(1, 0) {
		t.Fatalf("payloads %v", got)
	}

	// a new file
	path2 := writeNet(t, dir, testNetwork(2, 1))
	got = decodeNotes(t, f.next(path2).notes)
	wantMethods(t, got, "network_create_end")

	// delete the file
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	got = decodeNotes(t, f.next(path).notes)
	wantMethods(t, got, "network_delete_end")
	if got[0].Payload["network_id"] != netID(1) {
		t.Fatalf("payload %v", got[0].Payload)
	}
	if info, err := f.src.GetNetworkInfo(ctx, netID(1)); info != nil || err != nil {
		t.Fatalf("deleted network still served: %v %v", info, err)
	}
	// every notification went to the callback, in load order
	f.mu.Lock()
	defer f.mu.Unlock()
	var all []string
	for _, x := range f.notes {
		all = append(all, x.Method)
	}
	want := []string{"port_create_end", "port_update_end", "subnet_update_end", "port_update_end", "port_update_end",
		"port_update_end", "network_update_end", "port_delete_end", "network_create_end", "network_delete_end"}
	if !reflect.DeepEqual(all, want) {
		t.Fatalf("callback got %v", all)
	}
}

func TestMalformedFileKeepsLastGoodState(t *testing.T) {
	dir := t.TempDir()
	n := testNetwork(1, 2)
	path := writeNet(t, dir, n)
	writeNet(t, dir, testNetwork(2, 2))
	f := newFixture(t, dir, t.TempDir())
	before := f.src.Server().Network(netID(1))
	otherBefore := f.src.Server().Network(netID(2))

	writeFile(t, path, []byte(`{"id": "`+netID(1)+`", "subnets": [], "ports": [{"id": "x"}]}`))
	l := f.next(path)
	if l.err == nil || len(l.notes) != 0 || !strings.Contains(l.err.Error(), "ports[0].id") {
		t.Fatalf("malformed load: %v %v", l.err, l.notes)
	}
	if err := f.src.Errors()[path]; err == nil {
		t.Fatal("error not reported")
	}
	if got := f.src.Server().Network(netID(1)); !reflect.DeepEqual(got, before) {
		t.Fatal("malformed file changed its network")
	}
	if got := f.src.Server().Network(netID(2)); !reflect.DeepEqual(got, otherBefore) {
		t.Fatal("malformed file changed another network")
	}

	// fixed, with one port changed compared to the last good state
	n.Ports[1].MACAddress = "fa:16:3e:aa:bb:cc"
	writeNet(t, dir, n)
	got := decodeNotes(t, f.next(path).notes)
	wantMethods(t, got, "port_update_end")
	if len(f.src.Errors()) != 0 {
		t.Fatalf("errors after the fix: %v", f.src.Errors())
	}
}

func TestWrongNameFileDeletedClearsError(t *testing.T) {
	dir := t.TempDir()
	f := newFixture(t, dir, t.TempDir())
	path := filepath.Join(dir, "net.json")
	writeFile(t, path, marshal(t, testNetwork(1, 1)))
	if l := f.next(path); l.err == nil {
		t.Fatal("wrongly named file accepted")
	}
	if len(f.src.Server().NetworkIDs()) != 0 {
		t.Fatal("wrongly named file served")
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	// the removal is a load with nothing to report: wait for it
	timeout := time.After(10 * time.Second)
	for done := false; !done; {
		select {
		case l := <-f.loads:
			done = l.path == path && l.err == nil
		case <-timeout:
			t.Fatal("removal not loaded")
		}
	}
	if len(f.src.Errors()) != 0 {
		t.Fatalf("errors %v", f.src.Errors())
	}
}
