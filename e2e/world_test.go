package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"qdhcp/internal/testnet"
	"qdhcp/model"
	"qdhcp/procmon"
)

// ovsdbSocket is the OVSDB endpoint scripts/testenv.sh starts.
const ovsdbSocket = "unix:/var/run/openvswitch/db.sock"

// world is one test's universe: a state_path, a directory of network
// files, a configuration file for the agent, and everything the agent
// made for the test's networks, all removed when the test ends, even when
// it fails. Every id and name carries the test's tag.
type world struct {
	t      *testing.T
	tag    string // one hex digit, unique to the test
	host   string
	state  string // state_path
	netDir string // the file source's directory
	conf   string // dhcp_agent.ini

	mu    sync.Mutex
	nets  map[string]bool // network ids the test wrote
	ports map[string]bool // DHCP port ids the agent ever used
	stop  chan struct{}
	done  chan struct{}
}

// newWorld prepares a world. state is the state_path to use ("" for a
// fresh world-readable temporary directory).
func newWorld(t *testing.T, tag, state string) *world {
	t.Helper()
	testnet.RequireRoot(t)
	if agentBin == "" {
		t.Fatal("qdhcp-agent was not built (TestMain)")
	}
	if state == "" {
		state = testnet.StateDir(t)
	}
	w := &world{
		t: t, tag: tag, host: "qdhcp-e2e-" + tag, state: state,
		netDir: filepath.Join(testnet.StateDir(t), "networks"),
		nets:   map[string]bool{}, ports: map[string]bool{},
		stop: make(chan struct{}), done: make(chan struct{}),
	}
	if err := os.MkdirAll(w.netDir, 0o755); err != nil {
		t.Fatal(err)
	}
	w.conf = filepath.Join(t.TempDir(), "dhcp_agent.ini")
	ini := fmt.Sprintf(`[DEFAULT]
state_path = %s
host = %s
interface_driver = openvswitch
dns_domain = e2e.test
resync_interval = 1
resync_throttle = 0
debug = false

[AGENT]
check_child_processes_interval = 1
report_interval = 0

[OVS]
ovsdb_connection = %s
`, w.state, w.host, ovsdbSocket)
	if err := os.WriteFile(w.conf, []byte(ini), 0o644); err != nil {
		t.Fatal(err)
	}
	go w.watchPorts()
	t.Cleanup(w.cleanup)
	return w
}

// watchPorts records every DHCP port id the agent's file source persists,
// so that the checks and the cleanup also know ports a later run replaced.
func (w *world) watchPorts() {
	defer close(w.done)
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		w.samplePorts()
		select {
		case <-w.stop:
			return
		case <-t.C:
		}
	}
}

func (w *world) samplePorts() {
	ids := w.persistedPorts()
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, ps := range ids {
		for _, id := range ps {
			w.ports[id] = true
		}
	}
}

// persistedPorts reads the file source's state: network id -> ids of the
// DHCP ports it created.
func (w *world) persistedPorts() map[string][]string {
	out := map[string][]string{}
	dir := filepath.Join(w.state, "qdhcp-source")
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".port.json") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			continue
		}
		var st struct {
			NetworkID string        `json:"network_id"`
			Ports     []*model.Port `json:"ports"`
		}
		if json.Unmarshal(b, &st) != nil {
			continue
		}
		for _, p := range st.Ports {
			out[st.NetworkID] = append(out[st.NetworkID], p.ID)
		}
	}
	return out
}

// everPorts returns the DHCP port ids seen so far.
func (w *world) everPorts() []string {
	w.samplePorts()
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	for id := range w.ports {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

func (w *world) netIDs() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	for id := range w.nets {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

// cleanup removes whatever the agent left for the test's networks:
// dnsmasq processes (by pid), namespaces, OVS ports (by tap name). The
// agent process itself is stopped by its own cleanup, which runs first.
func (w *world) cleanup() {
	close(w.stop)
	<-w.done
	for _, pid := range w.dnsmasqPids("") {
		_ = procmon.Signal(pid, 9)
	}
	for _, id := range w.everPorts() {
		_ = exec.Command("ovs-vsctl", "--timeout=10", "--if-exists", "del-port", testnet.Bridge, tapName(id)).Run()
	}
	for _, id := range w.netIDs() {
		if nsExists(nsName(id)) {
			_ = exec.Command("ip", "netns", "del", nsName(id)).Run()
		}
	}
}

// netID, subnetID and portID make ids unique to the world (tag is one
// hex digit).
func (w *world) netID(n int) string {
	return fmt.Sprintf("e2e%s%04x-0000-4000-8000-000000000000", w.tag, n)
}
func (w *world) subnetID(n int) string {
	return fmt.Sprintf("e2e%s%04x-5b00-4000-8000-000000000000", w.tag, n)
}
func (w *world) portID(n, i int) string {
	return fmt.Sprintf("e2e%s%04x-9000-4000-8000-%012x", w.tag, n, i)
}

// netNum is n of a network id made by netID.
func netNum(netID string) int {
	n, _ := strconv.ParseUint(netID[4:8], 16, 16)
	return int(n)
}

func nsName(netID string) string { return "qdhcp-" + netID }

// tapName is the agent's device for a DHCP port ("tap" + id, 14 chars).
func tapName(portID string) string { return model.DeviceName("tap", portID) }

func nsExists(name string) bool {
	_, err := os.Stat("/var/run/netns/" + name)
	return err == nil
}

// network builds network n with one IPv4 DHCP subnet on cidr and VM
// ports numbered from 1 at the addresses ips.
func (w *world) network(n int, cidr, gateway string, ips []string) *model.Network {
	up := true
	id := w.netID(n)
	net := &model.Network{ID: id, Name: "e2e-" + w.tag, AdminStateUp: &up, ProjectID: "e2e",
		Subnets: []*model.Subnet{{ID: w.subnetID(n), NetworkID: id, IPVersion: 4, CIDR: cidr,
			GatewayIP: gateway, EnableDHCP: true}}}
	for i, ip := range ips {
		net.Ports = append(net.Ports, w.vmPort(net, i+1, ip))
	}
	return net
}

// vmPort is VM port i (< 1024) of net at ip.
func (w *world) vmPort(net *model.Network, i int, ip string) *model.Port {
	n := netNum(net.ID)
	return &model.Port{
		ID: w.portID(n, i), NetworkID: net.ID, DeviceOwner: "compute:nova",
		DeviceID: fmt.Sprintf("vm-%s-%d-%d", w.tag, n, i), MACAddress: w.mac(n, i),
		FixedIPs: []model.FixedIP{{SubnetID: net.Subnets[0].ID, IPAddress: ip}},
	}
}

// mac is fa:16:3e:e<tag>:xx:xx, unique to the world for network n < 64 and
// port i < 1024.
func (w *world) mac(n, i int) string {
	c := n<<10 | i
	return fmt.Sprintf("fa:16:3e:e%s:%02x:%02x", w.tag, c>>8&0xff, c&0xff)
}

// writeNet writes net's file the way an editor saves: a temporary file
// renamed over.
func (w *world) writeNet(net *model.Network) {
	w.t.Helper()
	w.track(net.ID)
	b, err := json.MarshalIndent(net, "", " ")
	if err != nil {
		w.t.Fatal(err)
	}
	tmp := filepath.Join(w.netDir, "."+net.ID+".tmp")
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		w.t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(w.netDir, net.ID+".json")); err != nil {
		w.t.Fatal(err)
	}
}

// track adds a network id to those the cleanup removes.
func (w *world) track(id string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.nets[id] = true
}

func (w *world) removeNet(id string) {
	w.t.Helper()
	if err := os.Remove(filepath.Join(w.netDir, id+".json")); err != nil {
		w.t.Fatal(err)
	}
}

// confDir is <state_path>/dhcp/<network-id>.
func (w *world) confDir(id string) string { return filepath.Join(w.state, "dhcp", id) }

func (w *world) file(id, name string) string {
	b, _ := os.ReadFile(filepath.Join(w.confDir(id), name))
	return string(b)
}

// dnsmasqPid is the live dnsmasq of a network (0 when none).
func (w *world) dnsmasqPid(id string) int {
	pid, ok := procmon.Active(filepath.Join(w.confDir(id), "pid"), id)
	if !ok {
		return 0
	}
	return pid
}

// dnsmasqPids lists every live dnsmasq whose pid file is under this
// world's state_path (for one network when id is set), found in /proc
// whatever the pid files say.
func (w *world) dnsmasqPids(id string) []int {
	want := "--pid-file=" + filepath.Join(w.state, "dhcp") + "/"
	if id != "" {
		want += id + "/"
	}
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		argv, err := procmon.Cmdline(pid)
		if err != nil || len(argv) == 0 || filepath.Base(argv[0]) != "dnsmasq" {
			continue
		}
		if st, err := procmon.Stat(pid); err != nil || st.Zombie() {
			continue
		}
		for _, a := range argv {
			if strings.HasPrefix(a, want) {
				out = append(out, pid)
				break
			}
		}
	}
	return out
}

// hostFile is the dhcp-hostsfile the agent must write for net's VM ports
// (IPv4, no options): "mac,host-<ip>.e2e.test,ip" in port order.
func hostFile(net *model.Network) string {
	var b strings.Builder
	for _, p := range net.Ports {
		ip := p.FixedIPs[0].IPAddress
		fmt.Fprintf(&b, "%s,host-%s.e2e.test,%s\n", p.MACAddress, strings.ReplaceAll(ip, ".", "-"), ip)
	}
	return b.String()
}

// ovsInterfaces returns the names of the OVS Interface rows whose
// external_ids:iface-id is portID.
func ovsInterfaces(t *testing.T, portID string) []string {
	t.Helper()
	out, err := exec.Command("ovs-vsctl", "--timeout=10", "--bare", "--columns=name", "find", "Interface",
		"external_ids:iface-id="+portID).Output()
	if err != nil {
		t.Fatalf("ovs-vsctl find Interface: %v", err)
	}
	return strings.Fields(string(out))
}

// ovsPortCount is the number of OVS Port rows named name.
func ovsPortCount(t *testing.T, name string) int {
	t.Helper()
	out, err := exec.Command("ovs-vsctl", "--timeout=10", "--bare", "--columns=_uuid", "find", "Port",
		"name="+name).Output()
	if err != nil {
		t.Fatalf("ovs-vsctl find Port: %v", err)
	}
	return len(strings.Fields(string(out)))
}

// nsLinks lists the devices of a namespace but lo.
func nsLinks(ns string) ([]string, error) {
	out, err := exec.Command("ip", "-n", ns, "-o", "link", "show").Output()
	if err != nil {
		return nil, fmt.Errorf("ip -n %s link: %w", ns, err)
	}
	var links []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		name, _, _ := strings.Cut(strings.TrimSuffix(f[1], ":"), "@")
		if name != "lo" {
			links = append(links, name)
		}
	}
	return links, nil
}

// eventually polls cond until it holds or the time is up; cond returns
// what is still wrong ("" when it holds).
func eventually(t *testing.T, within time.Duration, what string, cond func() string) time.Duration {
	t.Helper()
	start := time.Now()
	deadline := start.Add(within)
	for {
		msg := cond()
		if msg == "" {
			return time.Since(start)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v: %s", what, within, msg)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
