package filesource

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"

	"qdhcp/model"
)

const testHost = "network-node-1"

// netID returns the UUID of test network i.
func netID(i int) string { return fmt.Sprintf("%08x-0000-4000-8000-00000000aaaa", i) }

func subID(net, j int) string { return fmt.Sprintf("%08x-%04x-4000-8000-00000000bbbb", net, j) }

func portID(net, j int) string { return fmt.Sprintf("%08x-%04x-4000-8000-00000000cccc", net, j) }

// testNetwork is network i with a v4 subnet 10.<i>.0.0/24 (gateway .1, pool
// .2-.254), a stateful v6 subnet fd00:<i>::/64, and ports VM ports at
// 10.<i>.0.10+j.
func testNetwork(i, ports int) *model.Network {
	n := &model.Network{
		ID: netID(i), ProjectID: "demo", MTU: 1450,
		Subnets: []*model.Subnet{
			{ID: subID(i, 4), IPVersion: 4, CIDR: fmt.Sprintf("10.%d.0.0/24", i), GatewayIP: fmt.Sprintf("10.%d.0.1", i), EnableDHCP: true,
				AllocationPools: []model.AllocPool{{Start: fmt.Sprintf("10.%d.0.2", i), End: fmt.Sprintf("10.%d.0.254", i)}}},
			{ID: subID(i, 6), IPVersion: 6, CIDR: fmt.Sprintf("fd00:%x::/64", i), GatewayIP: fmt.Sprintf("fd00:%x::1", i), EnableDHCP: true,
				IPv6AddressMode: model.IPv6ModeDHCPv6Stateful, IPv6RAMode: model.IPv6ModeDHCPv6Stateful},
		},
	}
	for j := 0; j < ports; j++ {
		n.Ports = append(n.Ports, vmPort(i, j))
	}
	return n
}

func vmPort(i, j int) *model.Port {
	return &model.Port{
		ID: portID(i, j), MACAddress: fmt.Sprintf("fa:16:3e:%02x:%02x:%02x", i%256, j/256, j%256),
		DeviceOwner: "compute:nova", DeviceID: fmt.Sprintf("vm-%d-%d", i, j),
		FixedIPs: []model.FixedIP{{SubnetID: subID(i, 4), IPAddress: fmt.Sprintf("10.%d.%d.%d", i, (10+j)/256, (10+j)%256)}},
	}
}

func marshal(t testing.TB, n *model.Network) []byte {
	t.Helper()
	b, err := json.MarshalIndent(n, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeFile(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// writeNet writes the network to <dir>/<id>.json in place.
func writeNet(t testing.TB, dir string, n *model.Network) string {
	t.Helper()
	path := filepath.Join(dir, n.ID+".json")
	writeFile(t, path, marshal(t, n))
	return path
}

// load is one load of a file by the watcher.
type load struct {
	path  string
	notes []model.Notification
	err   error
}

// fixture is a started source on temp dirs whose loads and notifications
// the test observes.
type fixture struct {
	t        *testing.T
	dir      string
	stateDir string
	src      *Source
	loads    chan load
	mu       sync.Mutex
	notes    []model.Notification
}

func newFixture(t *testing.T, dir, stateDir string) *fixture {
	t.Helper()
	f := &fixture{t: t, dir: dir, stateDir: stateDir, loads: make(chan load, 1000)}
	f.src = New(dir, stateDir, testHost, nil)
	f.src.Debounce = 30 * time.Millisecond
	f.src.onLoad = func(path string, notes []model.Notification, err error) {
		f.loads <- load{path, notes, err}
	}
	if err := f.src.Start(context.Background(), func(n model.Notification) {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.notes = append(f.notes, n)
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.src.Close() })
	return f
}

// next waits for the next load of path that changed something or failed
// (loads of unchanged content are skipped).
func (f *fixture) next(path string) load {
	f.t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case l := <-f.loads:
			if l.path == path && (len(l.notes) > 0 || l.err != nil) {
				return l
			}
		case <-timeout:
			f.t.Fatalf("no load of %s", path)
		}
	}
}

// decodedNote is a notification with its payload decoded.
type decodedNote struct {
	Method  string
	Payload map[string]any
}

func decodeNotes(t *testing.T, notes []model.Notification) []decodedNote {
	t.Helper()
	out := make([]decodedNote, len(notes))
	for i, n := range notes {
		out[i].Method = n.Method
		if err := json.Unmarshal(n.Payload, &out[i].Payload); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func methodsOf(ds []decodedNote) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.Method)
	}
	return out
}

func wantMethods(t *testing.T, ds []decodedNote, want ...string) {
	t.Helper()
	if got := methodsOf(ds); !reflect.DeepEqual(got, want) {
		t.Fatalf("notifications %v, want %v", got, want)
	}
}

func dhcpReq(net int, subnets ...string) model.PortRequest {
	name, up := "", true
	req := model.PortRequest{Name: &name, AdminStateUp: &up, NetworkID: netID(net), ProjectID: "demo",
		DeviceID: model.DHCPDeviceID(testHost, netID(net))}
	for _, s := range subnets {
		req.FixedIPs = append(req.FixedIPs, model.FixedIP{SubnetID: s})
	}
	return req
}
