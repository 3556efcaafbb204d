package main

import (
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"qdhcp/dhcpagent/config"
	"qdhcp/model"
)

// benchIDPrefix starts every network and port id the bench makes, so its
// namespaces (qdhcp-be4c...) are recognisable.
const benchIDPrefix = "be4c"

// benchEnv is one run of the bench: a state directory of its own
// (<state-dir>/<pid>-<run>), ids unique to the run, and what each
// scenario needs to remember for the rss line.
type benchEnv struct {
	f    *benchFlags
	log  *slog.Logger
	run  uint16
	root string

	mu    sync.Mutex
	rssAt map[string]int64 // moment -> VmRSS kB

	bridge    string // the integration bridge the agents plug into
	ownBridge bool   // made by this run (deleted at close)
}

func newBenchEnv(f *benchFlags, log *slog.Logger) (*benchEnv, error) {
	if os.Geteuid() != 0 {
		return nil, errors.New("needs root (namespaces, OVS, dnsmasq); run render_large alone with --scenarios render_large")
	}
	if _, err := os.Stat(strings.TrimPrefix(benchOVSDBSocket(f), "unix:")); err != nil {
		return nil, fmt.Errorf("OVS not running (bash scripts/testenv.sh setup): %w", err)
	}
	if err := os.MkdirAll(f.stateRoot, 0o755); err != nil {
		return nil, err
	}
	sweepBenchLeftovers(f, log)
	e := &benchEnv{f: f, log: log, run: uint16(rand.Uint32()), rssAt: map[string]int64{}}
	e.root = filepath.Join(f.stateRoot, fmt.Sprintf("%d-%04x", os.Getpid(), e.run))
	if err := os.MkdirAll(e.root, 0o755); err != nil {
		return nil, err
	}
	e.bridge = f.bridge
	if e.bridge == "" {
		e.bridge, e.ownBridge = benchBridgeName(e.run), true
		if err := addBenchBridge(e.bridge); err != nil {
			os.RemoveAll(e.root)
			return nil, err
		}
	}
	return e, nil
}

// benchBridgeName is the integration bridge of a run.
func benchBridgeName(run uint16) string { return fmt.Sprintf("br-qb%04x", run) }

// addBenchBridge makes an integration bridge for the run, on the userspace
// datapath, in secure fail mode with no flows: its ports are isolated as
// neutron's OVS agent keeps a DHCP port until it binds it to its network's
// VLAN. (On a shared bridge in standalone mode every multicast a new
// device sends, IPv6 DAD and MLD, would be flooded to every other port,
// work no real node does across networks.) The bench is a tool, not the
// agent: it uses ovs-vsctl.
func addBenchBridge(name string) error {
	out, err := exec.Command("ovs-vsctl", "--may-exist", "add-br", name, "--",
		"set", "Bridge", name, "datapath_type=netdev", "fail_mode=secure").CombinedOutput()
	if err != nil {
		return fmt.Errorf("add bench bridge %s: %w: %s", name, err, strings.TrimSpace(string(out)))
	}
	return nil
}

func delBenchBridge(name string) error {
	out, err := exec.Command("ovs-vsctl", "--if-exists", "del-br", name).CombinedOutput()
	if err != nil {
		return fmt.Errorf("delete bench bridge %s: %w: %s", name, err, strings.TrimSpace(string(out)))
	}
	return nil
}

func benchOVSDBSocket(f *benchFlags) string {
	if strings.HasPrefix(f.ovsdb, "unix:") {
		return f.ovsdb
	}
	return "unix:/var/run/openvswitch/db.sock"
}

// close removes the run's state directory (each scenario has already torn
// its networks down).
func (e *benchEnv) close() {
	if e.ownBridge {
		if err := delBenchBridge(e.bridge); err != nil {
			e.log.Warn("remove bench bridge", "err", err)
		}
	}
	if err := os.RemoveAll(e.root); err != nil {
		e.log.Warn("remove bench state", "dir", e.root, "err", err)
	}
}

// conf is the benchmarked agent's configuration for one scenario: the
// --config-file files (or neutron's defaults) with a fresh state_path of
// its own and a host name unique to the run.
func (e *benchEnv) conf(scenario string) (*config.Config, error) {
	conf, err := config.Load(e.f.configFiles...)
	if err != nil {
		return nil, err
	}
	conf.Host = fmt.Sprintf("qdhcp-bench-%04x", e.run)
	conf.StatePath = filepath.Join(e.root, scenario)
	conf.ExpandStatePath()
	if conf.InterfaceDriver == "" {
		conf.InterfaceDriver = "openvswitch"
	}
	if err := conf.Set("OVS", "integration_bridge", e.bridge); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(conf.StatePath, 0o755); err != nil {
		return nil, err
	}
	return conf, nil
}

// netID is network i of a scenario (scenario numbers keep ids apart).
func (e *benchEnv) netID(scenario, i int) string {
	return fmt.Sprintf("%s%04x-%04x-4000-8000-%012x", benchIDPrefix, e.run, scenario, i)
}

// benchNet is a generated network: one IPv4 subnet with DHCP (inside the
// namespaces only), ports added one by one.
type benchNet struct {
	net    *model.Network
	subnet *model.Subnet
	base   [4]byte // network address
	prefix int
	tag    string // run and scenario, for port ids and MACs
	index  int
	next   int // next port number
}

// newBenchNet makes network index i: 10.<64+i/256>.<i%256>.0/24, or
// 10.<200+i>.0.0/<prefix> for the larger single networks.
func (e *benchEnv) newBenchNet(scenario, i, prefix int) *benchNet {
	id := e.netID(scenario, i)
	var base [4]byte
	if prefix >= 24 {
		prefix = 24
		base = [4]byte{10, byte(64 + i/256), byte(i % 256), 0}
	} else {
		base = [4]byte{10, byte(200 + i%50), 0, 0}
	}
	sub := &model.Subnet{
		ID: fmt.Sprintf("%s%04x-%04x-4000-8100-%012x", benchIDPrefix, e.run, scenario, i), NetworkID: id,
		Name: "bench", IPVersion: 4, CIDR: fmt.Sprintf("%d.%d.%d.%d/%d", base[0], base[1], base[2], base[3], prefix),
		GatewayIP:  fmt.Sprintf("%d.%d.%d.1", base[0], base[1], base[2]),
		EnableDHCP: true,
		AllocationPools: []model.AllocPool{{
			Start: fmt.Sprintf("%d.%d.%d.2", base[0], base[1], base[2]),
			End:   lastHost(base, prefix),
		}},
	}
	up := true
	n := &model.Network{ID: id, Name: fmt.Sprintf("bench-%d-%d", scenario, i), ProjectID: "bench",
		AdminStateUp: &up, MTU: 1450, Subnets: []*model.Subnet{sub}, NonLocalSubnets: []*model.Subnet{},
		Ports: []*model.Port{}}
	return &benchNet{net: n, subnet: sub, base: base, prefix: prefix,
		tag: fmt.Sprintf("%04x%04x", e.run, scenario), index: i}
}

func lastHost(base [4]byte, prefix int) string {
	v := uint32(base[0])<<24 | uint32(base[1])<<16 | uint32(base[2])<<8 | uint32(base[3])
	v |= 1<<(32-prefix) - 2
	return fmt.Sprintf("%d.%d.%d.%d", v>>24, v>>16&255, v>>8&255, v&255)
}

// addPort appends a VM port with the next address (from .10) and returns it.
func (b *benchNet) addPort() *model.Port {
	j := b.next
	b.next++
	v := uint32(b.base[0])<<24 | uint32(b.base[1])<<16 | uint32(b.base[2])<<8 | uint32(b.base[3])
	v += uint32(10 + j)
	up := true
	p := &model.Port{
		ID:        fmt.Sprintf("%s%s-%s-%04x-a000-%012x", benchIDPrefix, b.tag[:4], b.tag[4:], b.index&0xffff, j),
		NetworkID: b.net.ID, ProjectID: "bench", AdminStateUp: &up, Status: "ACTIVE",
		MACAddress:  fmt.Sprintf("fa:16:3e:%02x:%02x:%02x", b.index&0xff, j>>8&0xff, j&0xff),
		DeviceID:    fmt.Sprintf("vm-%d-%d", b.index, j),
		DeviceOwner: "compute:nova",
		FixedIPs: []model.FixedIP{{SubnetID: b.subnet.ID,
			IPAddress: fmt.Sprintf("%d.%d.%d.%d", v>>24, v>>16&255, v>>8&255, v&255)}},
		RevisionNumber: 1,
	}
	b.net.Ports = append(b.net.Ports, p)
	return p
}

// vmRSS returns VmRSS and VmHWM of this process in kB.
func vmRSS() (rss, hwm int64) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		switch k {
		case "VmRSS":
			rss = n
		case "VmHWM":
			hwm = n
		}
	}
	return rss, hwm
}

// noteRSS records VmRSS at a named moment (for the rss line).
func (e *benchEnv) noteRSS(moment string) {
	rss, _ := vmRSS()
	e.mu.Lock()
	e.rssAt[moment] = rss
	e.mu.Unlock()
}

// rss is the rss scenario: VmRSS at the end, at the moments noted while
// agents were serving, and the peak.
func (e *benchEnv) rss() (benchResult, error) {
	rss, hwm := vmRSS()
	if rss == 0 {
		return nil, errors.New("no VmRSS in /proc/self/status")
	}
	r := benchResult{"vmrss_kb": rss, "vmhwm_kb": hwm}
	if e != nil {
		e.mu.Lock()
		for k, v := range e.rssAt {
			r["vmrss_"+k+"_kb"] = v
		}
		e.mu.Unlock()
	}
	return r, nil
}
