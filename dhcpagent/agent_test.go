package dhcpagent

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"qdhcp/dhcpagent/config"
	"qdhcp/model"
)

// fakePlugin is a minimal server: networks by id, ready ports recorded.
type fakePlugin struct {
	mu       sync.Mutex
	networks map[string]*model.Network
	ready    [][]string
	fetches  int
}

func newFakePlugin(nets ...*model.Network) *fakePlugin {
	f := &fakePlugin{networks: map[string]*model.Network{}}
	for _, n := range nets {
		f.networks[n.ID] = n
	}
	return f
}

func (f *fakePlugin) put(n *model.Network) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.networks[n.ID] = n.Clone()
}

func (f *fakePlugin) GetActiveNetworksInfo(ctx context.Context, _ bool) ([]*model.Network, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*model.Network
	for _, n := range f.networks {
		out = append(out, n.Clone())
	}
	return out, nil
}

func (f *fakePlugin) GetNetworkInfo(ctx context.Context, id string) (*model.Network, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fetches++
	return f.networks[id].Clone(), nil
}

func (f *fakePlugin) CreateDHCPPort(context.Context, model.PortRequest) (*model.Port, error) {
	return nil, nil
}

func (f *fakePlugin) UpdateDHCPPort(context.Context, string, model.PortRequest) (*model.Port, error) {
	return nil, nil
}
func (f *fakePlugin) ReleaseDHCPPort(context.Context, string, string) error { return nil }
func (f *fakePlugin) GetDHCPPort(context.Context, string) (*model.Port, error) {
	return nil, model.ErrNotFound
}

func (f *fakePlugin) DHCPReadyOnPorts(_ context.Context, ids []string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ready = append(f.ready, append([]string(nil), ids...))
	return nil
}

func (f *fakePlugin) readyIDs() map[string]bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	m := map[string]bool{}
	for _, b := range f.ready {
		for _, id := range b {
			m[id] = true
		}
	}
	return m
}

// fakeDriver records calls; gate, when set, blocks ReloadAllocations until
// closed, so that events pile up behind a running batch.
type fakeDriver struct {
	mu    sync.Mutex
	calls []string
	last  map[string]*model.Network
	gate  chan struct{}
	fail  map[string]error
}

func newFakeDriver() *fakeDriver {
	return &fakeDriver{last: map[string]*model.Network{}, fail: map[string]error{}}
}

func (d *fakeDriver) record(op, id string, n *model.Network) error {
	d.mu.Lock()
	d.calls = append(d.calls, op+" "+id)
	if n != nil {
		d.last[id] = n.Clone()
	}
	err := d.fail[op]
	gate := d.gate
	d.mu.Unlock()
	if op == "reload" && gate != nil {
		<-gate
	}
	return err
}

func (d *fakeDriver) Enable(_ context.Context, n *model.Network) error {
	return d.record("enable", n.ID, n)
}
func (d *fakeDriver) Restart(_ context.Context, n *model.Network) error {
	return d.record("restart", n.ID, n)
}
func (d *fakeDriver) ReloadAllocations(_ context.Context, n *model.Network) error {
	return d.record("reload", n.ID, n)
}
func (d *fakeDriver) Disable(_ context.Context, id string, retain bool) error {
	return d.record(fmt.Sprintf("disable(retain=%v)", retain), id, nil)
}

func (d *fakeDriver) count(op string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := 0
	for _, c := range d.calls {
		if len(c) >= len(op) && c[:len(op)] == op {
			n++
		}
	}
	return n
}

func (d *fakeDriver) lastNet(id string) *model.Network {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.last[id].Clone()
}

const (
	netA    = "11111111-1111-4111-8111-111111111111"
	netB    = "22222222-2222-4222-8222-222222222222"
	subA    = "aaaaaaaa-0000-4000-8000-00000000000a"
	subA2   = "aaaaaaaa-0000-4000-8000-00000000000b"
	subB    = "bbbbbbbb-0000-4000-8000-00000000000b"
	testHst = "network-node-1"
)

func testNet(id, subnet, cidr string, ports int) *model.Network {
	n := &model.Network{ID: id, MTU: 1450, Subnets: []*model.Subnet{{
		ID: subnet, IPVersion: 4, CIDR: cidr, EnableDHCP: true, NetworkID: id,
	}}}
	for i := 0; i < ports; i++ {
		n.Ports = append(n.Ports, testPort(id, subnet, i, 1))
	}
	return n
}

func testPort(netID, subnet string, i int, rev int64) *model.Port {
	return &model.Port{
		ID:             fmt.Sprintf("%08x-0000-4000-8000-%012x", i, i),
		NetworkID:      netID,
		MACAddress:     fmt.Sprintf("fa:16:3e:00:%02x:%02x", i/256, i%256),
		DeviceOwner:    "compute:nova",
		FixedIPs:       []model.FixedIP{{SubnetID: subnet, IPAddress: fmt.Sprintf("10.0.%d.%d", i/250, 2+i%250)}},
		RevisionNumber: rev,
	}
}

func testConf(t *testing.T) *config.Config {
	c := config.Defaults()
	c.Host = testHst
	c.StatePath = t.TempDir()
	c.ExpandStatePath()
	c.ResyncInterval = 1
	c.ResyncThrottle = 0
	return c
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// startAgent runs an agent until the test ends and waits for its first sync.
func startAgent(t *testing.T, conf *config.Config, p model.PluginAPI, d Driver) *Agent {
	t.Helper()
	a := New(conf, p, d, quietLog())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = a.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	waitFor(t, func() bool { return a.Stats().Syncs >= 1 && a.queue != nil && a.QueueDepth() == 0 })
	return a
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func notify(t *testing.T, a *Agent, method string, payload any) {
	t.Helper()
	b, err := json.Marshal(payload)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.HandleNotification(model.Notification{Method: method, Payload: b}); err != nil {
		t.Fatalf("%s: %v", method, err)
	}
}

func TestSyncConfiguresActiveAndTearsDownVanished(t *testing.T) {
	conf := testConf(t)
	// a state dir left by a previous run for a network the server no longer has
	if err := os.MkdirAll(filepath.Join(conf.DHCPConfs, netB), 0o755); err != nil {
		t.Fatal(err)
	}
	p := newFakePlugin(testNet(netA, subA, "10.0.0.0/16", 3))
	d := newFakeDriver()
	a := startAgent(t, conf, p, d)
	waitFor(t, func() bool { return d.count("enable") == 1 && d.count("disable") == 1 })
	if got := a.Networks(); len(got) != 1 || got[0] != netA {
		t.Fatalf("served networks = %v, want [%s]", got, netA)
	}
	waitFor(t, func() bool { return len(p.readyIDs()) == 3 })
	if n, s, ports := a.Counts(); n != 1 || s != 1 || ports != 3 {
		t.Fatalf("counts = %d %d %d", n, s, ports)
	}
}

func TestPortStormIsCoalesced(t *testing.T) {
	conf := testConf(t)
	p := newFakePlugin(testNet(netA, subA, "10.0.0.0/16", 0))
	d := newFakeDriver()
	a := startAgent(t, conf, p, d)
	waitFor(t, func() bool { return d.count("enable") == 1 })

	gate := make(chan struct{})
	d.mu.Lock()
	d.gate = gate
	d.mu.Unlock()
	const storm = 500
	for i := 0; i < storm; i++ {
		notify(t, a, "port_create_end", map[string]any{"port": testPort(netA, subA, i, 1)})
	}
	close(gate)
	waitFor(t, func() bool {
		n := d.lastNet(netA)
		return a.QueueDepth() == 0 && n != nil && len(n.Ports) == storm
	})
	if r := d.count("reload"); r > 3 {
		t.Fatalf("%d port events cost %d reloads, want <= 3", storm, r)
	}
	waitFor(t, func() bool { return len(p.readyIDs()) == storm })
}

func TestStalePortUpdateDropped(t *testing.T) {
	conf := testConf(t)
	net := testNet(netA, subA, "10.0.0.0/16", 1)
	net.Ports[0].RevisionNumber = 5
	p := newFakePlugin(net)
	d := newFakeDriver()
	a := startAgent(t, conf, p, d)
	waitFor(t, func() bool { return d.count("enable") == 1 })

	old := testPort(netA, subA, 0, 4)
	old.FixedIPs[0].IPAddress = "10.0.9.9"
	notify(t, a, "port_update_end", map[string]any{"port": old})
	newer := testPort(netA, subA, 0, 6)
	newer.FixedIPs[0].IPAddress = "10.0.7.7"
	notify(t, a, "port_update_end", map[string]any{"port": newer})
	waitFor(t, func() bool { return d.count("reload") == 1 && a.QueueDepth() == 0 })
	if ip := a.Network(netA).Ports[0].FixedIPs[0].IPAddress; ip != "10.0.7.7" {
		t.Fatalf("cached IP = %s, want the newer revision's 10.0.7.7", ip)
	}

	// a deleted port's late update is stale too
	notify(t, a, "port_delete_end", map[string]any{"port_id": newer.ID, "network_id": netA})
	waitFor(t, func() bool { return d.count("reload") == 2 })
	notify(t, a, "port_update_end", map[string]any{"port": testPort(netA, subA, 0, 9)})
	time.Sleep(100 * time.Millisecond)
	if len(a.Network(netA).Ports) != 0 {
		t.Fatal("update of a deleted port resurrected it")
	}
}

func TestSubnetChangeReloadsOrRestarts(t *testing.T) {
	conf := testConf(t)
	p := newFakePlugin(testNet(netA, subA, "10.0.0.0/16", 1))
	d := newFakeDriver()
	a := startAgent(t, conf, p, d)
	waitFor(t, func() bool { return d.count("enable") == 1 })

	// same CIDRs (a DNS change, say): reload
	n := testNet(netA, subA, "10.0.0.0/16", 1)
	n.Subnets[0].DNSNameservers = []string{"10.0.0.53"}
	p.put(n)
	notify(t, a, "subnet_update_end", map[string]any{"subnet": map[string]any{"id": subA, "network_id": netA}})
	waitFor(t, func() bool { return d.count("reload") == 1 })

	// a new DHCP subnet: restart
	n2 := n.Clone()
	n2.Subnets = append(n2.Subnets, &model.Subnet{ID: subA2, IPVersion: 4, CIDR: "10.1.0.0/24", EnableDHCP: true})
	p.put(n2)
	notify(t, a, "subnet_create_end", map[string]any{"subnet": map[string]any{"id": subA2, "network_id": netA}})
	waitFor(t, func() bool { return d.count("restart") == 1 })

	// every subnet loses DHCP: teardown
	n3 := n2.Clone()
	for _, s := range n3.Subnets {
		s.EnableDHCP = false
	}
	p.put(n3)
	notify(t, a, "subnet_update_end", map[string]any{"subnet": map[string]any{"id": subA, "network_id": netA}})
	waitFor(t, func() bool { return d.count("disable(retain=false)") == 1 })
	if len(a.Networks()) != 0 {
		t.Fatalf("network still served: %v", a.Networks())
	}
}

func TestNetworkEventsByPriority(t *testing.T) {
	conf := testConf(t)
	p := newFakePlugin(testNet(netA, subA, "10.0.0.0/16", 1))
	d := newFakeDriver()
	a := startAgent(t, conf, p, d)
	waitFor(t, func() bool { return d.count("enable") == 1 })

	gate := make(chan struct{})
	d.mu.Lock()
	d.gate = gate
	d.mu.Unlock()
	notify(t, a, "port_update_end", map[string]any{"port": testPort(netA, subA, 1, 1)})
	waitFor(t, func() bool { return d.count("reload") == 1 }) // batch 1 is running, blocked
	// queued behind it: a port update (prio 6) before a network delete (prio 2)
	notify(t, a, "port_update_end", map[string]any{"port": testPort(netA, subA, 2, 1)})
	notify(t, a, "network_delete_end", map[string]any{"network_id": netA})
	close(gate)
	waitFor(t, func() bool { return d.count("disable") == 1 && a.QueueDepth() == 0 })
	if r := d.count("reload"); r != 1 {
		t.Fatalf("reloads = %d: the port update queued with the delete must not reload", r)
	}
	if len(a.Networks()) != 0 {
		t.Fatal("deleted network still cached")
	}
}

func TestOwnDHCPPortDeletedRecreates(t *testing.T) {
	conf := testConf(t)
	net := testNet(netA, subA, "10.0.0.0/16", 1)
	own := testPort(netA, subA, 99, 1)
	own.DeviceOwner = model.OwnerDHCP
	own.DeviceID = model.DHCPDeviceID(testHst, netA)
	net.Ports = append(net.Ports, own)
	p := newFakePlugin(net)
	d := newFakeDriver()
	a := startAgent(t, conf, p, d)
	waitFor(t, func() bool { return d.count("enable") == 1 })
	notify(t, a, "port_delete_end", map[string]any{"port_id": own.ID, "network_id": netA})
	waitFor(t, func() bool { return d.count("disable(retain=false)") == 1 && d.count("enable") == 2 })
}

func TestAdminDownDisablesAndUpConfigures(t *testing.T) {
	conf := testConf(t)
	p := newFakePlugin(testNet(netA, subA, "10.0.0.0/16", 1))
	d := newFakeDriver()
	a := startAgent(t, conf, p, d)
	waitFor(t, func() bool { return d.count("enable") == 1 })
	notify(t, a, "network_update_end", map[string]any{"network": map[string]any{"id": netA, "admin_state_up": false}})
	waitFor(t, func() bool { return d.count("disable") == 1 })
	notify(t, a, "network_update_end", map[string]any{"network": map[string]any{"id": netA, "admin_state_up": true}})
	waitFor(t, func() bool { return d.count("enable") == 2 })
	if len(a.Networks()) != 1 {
		t.Fatal("network not served after admin up")
	}
}

func TestDriverFailureSchedulesResync(t *testing.T) {
	conf := testConf(t)
	p := newFakePlugin(testNet(netA, subA, "10.0.0.0/16", 1))
	d := newFakeDriver()
	d.fail["enable"] = fmt.Errorf("boom")
	a := startAgent(t, conf, p, d)
	waitFor(t, func() bool { return d.count("enable") >= 1 })
	d.mu.Lock()
	delete(d.fail, "enable")
	d.mu.Unlock()
	// the resync loop (resync_interval 1 s) retries the network
	waitFor(t, func() bool { return len(a.Networks()) == 1 })
}

func TestBadNotificationsAreErrors(t *testing.T) {
	conf := testConf(t)
	a := startAgent(t, conf, newFakePlugin(), newFakeDriver())
	for _, n := range []model.Notification{
		{Method: "network_create_end", Payload: []byte(`{"network": {"id": "../../etc"}}`)},
		{Method: "port_update_end", Payload: []byte(`{"port": {"id": "x"}}`)},
		{Method: "port_update_end", Payload: []byte(`not json`)},
	} {
		if err := a.HandleNotification(n); err == nil {
			t.Errorf("%s %s: no error", n.Method, n.Payload)
		}
	}
}

func TestReadyPortsBatches(t *testing.T) {
	r := newReadyPorts()
	for i := 0; i < 100; i++ {
		r.add(false, fmt.Sprintf("n%03d", i))
	}
	r.add(true, "p1", "n050")
	b := r.take(readyBatch)
	if len(b) != readyBatch || b[0] != "n050" || b[1] != "p1" {
		t.Fatalf("first batch = %v...", b[:3])
	}
	if rest := r.take(readyBatch); len(rest) != 100+1-readyBatch {
		t.Fatalf("second batch has %d ids", len(rest))
	}
}

// A malformed port from the server (a tenant's option value with a NUL,
// a bad MAC) is left out and counted; the rest of the network is served,
// at sync and on a refresh. A malformed DHCP port of this agent rejects
// the network.
func TestMalformedPortLeftOut(t *testing.T) {
	conf := testConf(t)
	n := testNet(netA, subA, "10.0.0.0/24", 3)
	n.Ports[1].ExtraDHCPOpts = []model.ExtraDHCPOpt{{OptName: "bootfile-name", OptValue: "pxe\x00"}}
	n.Ports[2].MACAddress = "fa:16:3e:zz:00:02"
	other := testNet(netB, subB, "10.1.0.0/24", 1)
	p := newFakePlugin(n, other)
	d := newFakeDriver()
	a := startAgent(t, conf, p, d)

	got := d.lastNet(netA)
	if got == nil || len(got.Ports) != 1 || got.Ports[0].ID != n.Ports[0].ID {
		t.Fatalf("enabled with ports %v, want only %s", got, n.Ports[0].ID)
	}
	if a.Stats().PortsRejected != 2 {
		t.Fatalf("PortsRejected = %d, want 2", a.Stats().PortsRejected)
	}
	if d.lastNet(netB) == nil {
		t.Fatal("the other network was not served")
	}

	// a refresh (port_create of a good port) keeps leaving the bad ones out
	good := testPort(netA, subA, 3, 1)
	n.Ports = append(n.Ports, good)
	p.put(n)
	notify(t, a, "network_update_end", map[string]any{"network": map[string]any{"id": netA}})
	waitFor(t, func() bool { l := d.lastNet(netA); return l != nil && len(l.Ports) == 2 })
	for _, port := range d.lastNet(netA).Ports {
		if port.ID == n.Ports[1].ID || port.ID == n.Ports[2].ID {
			t.Fatalf("malformed port %s served", port.ID)
		}
	}

	// the agent's own DHCP port malformed: the network is not served
	bad := testNet(netA, subA, "10.0.0.0/24", 1)
	bad.Ports = append(bad.Ports, &model.Port{ID: "dddddddd-0000-4000-8000-000000000001", NetworkID: netA,
		MACAddress: "fa:16:3e:00:00:ff", DeviceOwner: model.OwnerDHCP, DeviceID: model.DHCPDeviceID(testHst, netA),
		FixedIPs: []model.FixedIP{{SubnetID: subA, IPAddress: "10.0.0.2\n"}}})
	a2 := New(conf, newFakePlugin(bad), newFakeDriver(), quietLog())
	if _, err := a2.checkNetwork(bad); err == nil || !strings.Contains(err.Error(), "its DHCP port is malformed") {
		t.Fatalf("own malformed DHCP port: %v", err)
	}
}
