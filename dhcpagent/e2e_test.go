package dhcpagent_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"qdhcp/devicemanager"
	"qdhcp/dhcpagent"
	"qdhcp/dhcpagent/config"
	"qdhcp/dnsmasq"
	"qdhcp/dnsmasq/driver"
	"qdhcp/internal/testnet"
	"qdhcp/model"
	"qdhcp/procmon"
	"qdhcp/source/filesource"
)

// stack is a whole agent on the embedded file source, with the real
// driver, device manager and process monitor.
type stack struct {
	conf  *config.Config
	dir   string
	src   *filesource.Source
	agent *dhcpagent.Agent
	drv   *driver.Driver
}

type tlog struct{ t *testing.T }

func (w tlog) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func startStack(t *testing.T) *stack {
	t.Helper()
	testnet.RequireRoot(t)
	conf := config.Defaults()
	conf.Host = "qdhcp-agent-e2e"
	conf.StatePath = testnet.StateDir(t)
	conf.ExpandStatePath()
	conf.InterfaceDriver = "openvswitch"
	conf.Agent.CheckChildProcessesInterval = 1
	conf.ResyncInterval = 1
	conf.ResyncThrottle = 0
	log := slog.New(slog.NewTextHandler(tlog{t}, nil))
	dir := filepath.Join(conf.StatePath, "networks")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	src := filesource.New(dir, filepath.Join(conf.StatePath, "qdhcp-source"), conf.Host, log)
	devices, err := devicemanager.New(conf, log, devicemanager.WithOVSDBEndpoints("unix:/var/run/openvswitch/db.sock"))
	if err != nil {
		t.Fatal(err)
	}
	mon := procmon.New(procmon.Config{Interval: time.Second, Logger: log})
	monDone := make(chan struct{})
	go func() { defer close(monDone); _ = mon.Run(ctx) }()
	drv := driver.New(conf, src, devices, mon, driver.Options{Logger: log})
	agent := dhcpagent.New(conf, src, drv, log)
	if err := src.Start(ctx, func(n model.Notification) {
		if err := agent.HandleNotification(n); err != nil {
			t.Logf("notification %s: %v", n.Method, err)
		}
	}); err != nil {
		t.Fatal(err)
	}
	agentDone := make(chan struct{})
	go func() { defer close(agentDone); _ = agent.Run(ctx) }()
	s := &stack{conf: conf, dir: dir, src: src, agent: agent, drv: drv}
	t.Cleanup(func() {
		cancel()
		<-agentDone
		<-monDone
		src.Close()
		// tear down whatever the test left (the agent leaves dnsmasq running by design)
		for _, id := range agent.Networks() {
			if err := drv.Disable(context.Background(), id, false); err != nil {
				t.Logf("cleanup %s: %v", id, err)
			}
		}
		devices.Close()
	})
	return s
}

func (s *stack) writeNet(t *testing.T, n *model.Network) {
	t.Helper()
	b, err := json.MarshalIndent(n, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	// like an editor: write a temp file, rename over
	tmp := filepath.Join(s.dir, "."+n.ID+".tmp")
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(s.dir, n.ID+".json")); err != nil {
		t.Fatal(err)
	}
}

func (s *stack) pid(netID string) int {
	pid, _ := procmon.Active(dnsmasq.ConfPaths(s.conf, netID).Pid, netID)
	return pid
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 10 s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func vmPort(netID, subnetID string, n int, ip string) *model.Port {
	return &model.Port{
		ID: fmt.Sprintf("e2ea0000-0000-4000-8000-%012d", n), NetworkID: netID, DeviceOwner: "compute:nova",
		DeviceID: fmt.Sprintf("vm-%d", n), MACAddress: fmt.Sprintf("fa:16:3e:a0:00:%02x", n),
		FixedIPs: []model.FixedIP{{SubnetID: subnetID, IPAddress: ip}},
	}
}

func TestAgentOnFileSource(t *testing.T) {
	s := startStack(t)
	ctx := context.Background()
	const netID = "e2ea0001-0000-4000-8000-000000000001"
	const subID = "e2ea0001-5b00-4000-8000-000000000001"
	up := true
	net := &model.Network{ID: netID, MTU: 1400, AdminStateUp: &up, ProjectID: "p",
		Subnets: []*model.Subnet{{ID: subID, NetworkID: netID, IPVersion: 4, CIDR: "10.96.0.0/24",
			GatewayIP: "10.96.0.1", EnableDHCP: true,
			AllocationPools: []model.AllocPool{{Start: "10.96.0.2", End: "10.96.0.254"}}}},
		Ports: []*model.Port{vmPort(netID, "e2ea0001-5b00-4000-8000-000000000001", 1, "10.96.0.21")},
	}

	// a network file appears: its client gets a lease
	s.writeNet(t, net)
	eventually(t, "dnsmasq for the new network", func() bool { return s.pid(netID) != 0 })
	vm1 := testnet.NewClient(t, "qe2e-a1", "qe2ea1", net.Ports[0].MACAddress)
	l, err := vm1.DHCP(ctx)
	if err != nil || l["ip"] != "10.96.0.21" || l["mtu"] != "1400" || l["router"] != "10.96.0.1" {
		t.Fatalf("vm1 lease %v, %v", l, err)
	}
	pid := s.pid(netID)

	// a port is added to the file: served without restarting dnsmasq
	net.Ports = append(net.Ports, vmPort(netID, subID, 2, "10.96.0.22"))
	s.writeNet(t, net)
	hosts := dnsmasq.ConfPaths(s.conf, netID).Host
	eventually(t, "new port in the host file", func() bool {
		b, _ := os.ReadFile(hosts)
		return strings.Contains(string(b), "10.96.0.22")
	})
	vm2 := testnet.NewClient(t, "qe2e-a2", "qe2ea2", net.Ports[1].MACAddress)
	if l, err := vm2.DHCP(ctx); err != nil || l["ip"] != "10.96.0.22" {
		t.Fatalf("vm2 lease %v, %v", l, err)
	}
	if got := s.pid(netID); got != pid {
		t.Fatalf("adding a port restarted dnsmasq (pid %d -> %d)", pid, got)
	}

	// a malformed file for another network: reported, this one keeps serving
	bad := filepath.Join(s.dir, "e2ea0002-0000-4000-8000-000000000002.json")
	if err := os.WriteFile(bad, []byte(`{"id": "e2ea0002-0000-4000-8000-000000000002", "ports": [{"id": 5}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	eventually(t, "malformed file reported", func() bool { _, ok := s.src.Errors()[bad]; return ok })
	t.Logf("reported: %v", s.src.Errors()[bad])
	if l, err := vm1.DHCP(ctx); err != nil || l["ip"] != "10.96.0.21" {
		t.Fatalf("vm1 after malformed file: %v, %v", l, err)
	}

	// the subnet's CIDR changes: dnsmasq is restarted with the new range
	net.Subnets[0].CIDR, net.Subnets[0].GatewayIP = "10.97.0.0/24", "10.97.0.1"
	net.Subnets[0].AllocationPools = []model.AllocPool{{Start: "10.97.0.2", End: "10.97.0.254"}}
	net.Ports[0].FixedIPs[0].IPAddress = "10.97.0.21"
	net.Ports[1].FixedIPs[0].IPAddress = "10.97.0.22"
	s.writeNet(t, net)
	eventually(t, "dnsmasq restarted", func() bool { p := s.pid(netID); return p != 0 && p != pid })
	eventually(t, "vm1 gets an address in the new CIDR", func() bool {
		l, err := vm1.DHCP(ctx)
		return err == nil && l["ip"] == "10.97.0.21"
	})

	// the file is deleted: namespace, tap, dnsmasq and state dir go
	dnsPid := s.pid(netID)
	tap := string(must(os.ReadFile(dnsmasq.ConfPaths(s.conf, netID).Interface)))
	if err := os.Remove(filepath.Join(s.dir, netID+".json")); err != nil {
		t.Fatal(err)
	}
	eventually(t, "network torn down", func() bool {
		_, nsErr := os.Stat("/var/run/netns/qdhcp-" + netID)
		_, dirErr := os.Stat(dnsmasq.ConfPaths(s.conf, netID).Dir)
		return os.IsNotExist(nsErr) && os.IsNotExist(dirErr) && len(s.agent.Networks()) == 0
	})
	if st, err := procmon.Stat(dnsPid); err == nil && !st.Zombie() {
		t.Fatalf("dnsmasq %d still running", dnsPid)
	}
	if out, _ := exec.Command("ovs-vsctl", "list-ports", "br-int").Output(); strings.Contains(string(out), tap) {
		t.Fatalf("OVS port %s left on br-int", tap)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
