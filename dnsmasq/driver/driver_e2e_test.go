package driver_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"qdhcp/devicemanager"
	"qdhcp/dhcpagent/config"
	"qdhcp/dnsmasq"
	"qdhcp/dnsmasq/driver"
	"qdhcp/internal/testnet"
	"qdhcp/model"
	"qdhcp/procmon"
	"qdhcp/source/memory"
)

const host = "qdhcp-e2e-node"

// rig is one driver with its real collaborators: OVS device manager, a
// process monitor, an in-memory server.
type rig struct {
	conf   *config.Config
	server *memory.Server
	dev    *devicemanager.Manager
	mon    *procmon.Monitor
	drv    *driver.Driver
	stop   func()
	events chan procmon.Event
}

func newRig(t *testing.T, conf *config.Config, server *memory.Server) *rig {
	t.Helper()
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
	dev, err := devicemanager.New(conf, log, devicemanager.WithOVSDBEndpoints("unix:/var/run/openvswitch/db.sock"))
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{conf: conf, server: server, dev: dev, events: make(chan procmon.Event, 16)}
	r.mon = procmon.New(procmon.Config{Interval: time.Duration(conf.Agent.CheckChildProcessesInterval) * time.Second,
		Logger: log, OnEvent: func(e procmon.Event) {
			select {
			case r.events <- e:
			default:
			}
		}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = r.mon.Run(ctx) }()
	r.drv = driver.New(conf, server, dev, r.mon, driver.Options{Logger: log})
	r.stop = func() { cancel(); <-done; dev.Close() }
	t.Cleanup(r.stop)
	return r
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func e2eConf(t *testing.T) *config.Config {
	c := config.Defaults()
	c.Host = host
	c.StatePath = testnet.StateDir(t)
	c.ExpandStatePath()
	c.InterfaceDriver = "openvswitch"
	c.Agent.CheckChildProcessesInterval = 1
	return c
}

func e2eNetwork(netID, subnetID string, third int) *model.Network {
	cidr := fmt.Sprintf("10.%d.0.0/24", third)
	return &model.Network{ID: netID, MTU: 1450, ProjectID: "p1",
		Subnets: []*model.Subnet{{ID: subnetID, IPVersion: 4, CIDR: cidr, EnableDHCP: true,
			GatewayIP:       fmt.Sprintf("10.%d.0.1", third),
			DNSNameservers:  []string{fmt.Sprintf("10.%d.0.53", third)},
			AllocationPools: []model.AllocPool{{Start: fmt.Sprintf("10.%d.0.2", third), End: fmt.Sprintf("10.%d.0.254", third)}}}},
		Ports: []*model.Port{{
			ID: "0e2e0000-0000-4000-8000-" + fmt.Sprintf("%012d", third), NetworkID: netID,
			MACAddress: fmt.Sprintf("fa:16:3e:%02x:00:10", third), DeviceOwner: "compute:nova", DeviceID: "vm1",
			FixedIPs: []model.FixedIP{{SubnetID: subnetID, IPAddress: fmt.Sprintf("10.%d.0.10", third)}},
		}},
	}
}

func dnsmasqPid(t *testing.T, conf *config.Config, netID string) int {
	t.Helper()
	pid, ok := procmon.Active(dnsmasq.ConfPaths(conf, netID).Pid, netID)
	if !ok {
		t.Fatalf("no dnsmasq running for %s", netID)
	}
	return pid
}

// enableServed puts net on the server and enables it with a new rig,
// torn down when the test ends.
func enableServed(t *testing.T, conf *config.Config, server *memory.Server, net *model.Network) *rig {
	t.Helper()
	server.Put(net)
	r := newRig(t, conf, server)
	teardown(t, r, net.ID)
	n, _ := server.GetNetworkInfo(context.Background(), net.ID)
	if err := r.drv.Enable(context.Background(), n); err != nil {
		t.Fatal(err)
	}
	return r
}

// teardown makes sure the network is gone even when the test failed.
func teardown(t *testing.T, r *rig, netID string) {
	t.Cleanup(func() {
		if err := r.drv.Disable(context.Background(), netID, false); err != nil {
			t.Logf("cleanup disable: %v", err)
		}
	})
}

func TestEnableServesRealClient(t *testing.T) {
	testnet.RequireRoot(t)
	const netID = "e2e00001-0000-4000-8000-000000000001"
	conf := e2eConf(t)
	server := memory.New(host)
	net := e2eNetwork(netID, "e2e00001-5b00-4000-8000-000000000001", 91)
	r := enableServed(t, conf, server, net)
	ctx := context.Background()
	pid := dnsmasqPid(t, conf, netID)

	client := testnet.NewClient(t, "qe2e-vm91", "qe2evm91", net.Ports[0].MACAddress)
	lease, err := client.DHCP(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{"ip": "10.91.0.10", "router": "10.91.0.1", "mtu": "1450", "dns": "10.91.0.53", "domain": "openstacklocal"} {
		if lease[k] != want {
			t.Errorf("lease %s = %q, want %q (lease %v)", k, lease[k], want, lease)
		}
	}

	// the port's IP changes: reload (same dnsmasq), old lease released,
	// a renewing client gets the new address
	moved := server.Network(netID) // with the DHCP port the server created
	moved.Port(net.Ports[0].ID).FixedIPs[0].IPAddress = "10.91.0.11"
	server.Put(moved)
	n, _ := server.GetNetworkInfo(ctx, netID)
	if err := r.drv.ReloadAllocations(ctx, n); err != nil {
		t.Fatal(err)
	}
	if got := dnsmasqPid(t, conf, netID); got != pid {
		t.Fatalf("reload replaced dnsmasq: pid %d -> %d", pid, got)
	}
	if leases, _ := os.ReadFile(dnsmasq.ConfPaths(conf, netID).Leases); strings.Contains(string(leases), "10.91.0.10 ") {
		t.Fatalf("stale lease of 10.91.0.10 not released:\n%s", leases)
	}
	lease, err = client.DHCP(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if lease["ip"] != "10.91.0.11" {
		t.Fatalf("after reload the client got %s, want 10.91.0.11", lease["ip"])
	}

	// SIGKILL dnsmasq: the monitor respawns it and the client renews
	killed := time.Now()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	var newPid int
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if p, ok := procmon.Active(dnsmasq.ConfPaths(conf, netID).Pid, netID); ok && p != pid {
			newPid = p
			break
		}
	}
	if newPid == 0 {
		t.Fatal("dnsmasq not respawned within 5 s")
	}
	t.Logf("SIGKILL -> new dnsmasq (pid %d) serving after %v", newPid, time.Since(killed).Round(time.Millisecond))
	if lease, err = client.DHCP(ctx); err != nil || lease["ip"] != "10.91.0.11" {
		t.Fatalf("after respawn: lease %v, err %v", lease, err)
	}

	// the port is removed: its lease is released
	gone := server.Network(netID)
	gone.Ports = []*model.Port{gone.DHCPPortOf(host)}
	server.Put(gone)
	n, _ = server.GetNetworkInfo(ctx, netID)
	if err := r.drv.ReloadAllocations(ctx, n); err != nil {
		t.Fatal(err)
	}
	if leases, _ := os.ReadFile(dnsmasq.ConfPaths(conf, netID).Leases); strings.Contains(string(leases), "10.91.0.11 ") {
		t.Fatalf("lease of the removed port not released:\n%s", leases)
	}

	// disable: everything goes
	if err := r.drv.Disable(ctx, netID, false); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat("/var/run/netns/qdhcp-" + netID); !os.IsNotExist(err) {
		t.Fatalf("namespace still there: %v", err)
	}
	if _, err := os.Stat(dnsmasq.ConfPaths(conf, netID).Dir); !os.IsNotExist(err) {
		t.Fatalf("state dir still there: %v", err)
	}
	if _, err := os.Stat(fmt.Sprintf("/proc/%d", newPid)); err == nil {
		if st, err := procmon.Stat(newPid); err == nil && !st.Zombie() {
			t.Fatalf("dnsmasq %d still running", newPid)
		}
	}
	if out, _ := exec.Command("ovs-vsctl", "list-ports", "br-int").Output(); strings.Contains(string(out), "tap") &&
		strings.Contains(string(out), n.Ports[0].ID[:11]) {
		t.Fatalf("OVS port left: %s", out)
	}
	if server.Network(netID).DHCPPortOf(host) != nil {
		t.Fatal("DHCP port not released on the server")
	}
}

func TestAgentRestartAdoptsDnsmasq(t *testing.T) {
	testnet.RequireRoot(t)
	const netID = "e2e00002-0000-4000-8000-000000000002"
	conf := e2eConf(t)
	server := memory.New(host)
	r := enableServed(t, conf, server, e2eNetwork(netID, "e2e00002-5b00-4000-8000-000000000002", 92))
	ctx := context.Background()
	pid := dnsmasqPid(t, conf, netID)

	// a new agent process: new driver and monitor, same state
	r.stop()
	r2 := newRig(t, conf, server)
	n, _ := server.GetNetworkInfo(ctx, netID)
	if err := r2.drv.Enable(ctx, n); err != nil {
		t.Fatal(err)
	}
	if got := dnsmasqPid(t, conf, netID); got != pid {
		t.Fatalf("restarted agent replaced dnsmasq: pid %d -> %d", pid, got)
	}
	if s := r2.drv.Stats(); s.Adoptions != 1 || s.Spawns != 0 || s.HUPs != 1 {
		t.Fatalf("stats after adoption: %+v", s)
	}
	// a changed argv (a second DHCP subnet) is a restart
	n2 := n.Clone()
	n2.Subnets = append(n2.Subnets, &model.Subnet{ID: "e2e00002-5b00-4000-8000-000000000003", IPVersion: 4,
		CIDR: "10.93.0.0/24", EnableDHCP: true, GatewayIP: "10.93.0.1"})
	server.Put(n2)
	n2, _ = server.GetNetworkInfo(ctx, netID)
	if err := r2.drv.Restart(ctx, n2); err != nil {
		t.Fatal(err)
	}
	if got := dnsmasqPid(t, conf, netID); got == pid {
		t.Fatal("restart kept the old dnsmasq")
	}
	if err := r2.drv.Disable(ctx, netID, false); err != nil {
		t.Fatal(err)
	}
	_ = io.Discard
}

// With ovs_use_veth the DHCP device is a veth's namespace end (ns-...): a
// real client on br-int gets its lease through it (the CHECKSUM-fill rule
// keeps veth replies acceptable, quirk 6), and Disable leaves neither the
// root end nor its OVS port behind.
func TestVethServesRealClient(t *testing.T) {
	testnet.RequireRoot(t)
	const netID = "e2e00007-0000-4000-8000-000000000007"
	conf := e2eConf(t)
	conf.OVSUseVeth = true
	server := memory.New(host)
	net := e2eNetwork(netID, "e2e00007-5b00-4000-8000-000000000007", 93)
	r := enableServed(t, conf, server, net)
	ctx := context.Background()
	dhcpPort := server.Network(netID).DHCPPortOf(host)
	dev, err := os.ReadFile(dnsmasq.ConfPaths(conf, netID).Interface)
	if err != nil || string(dev) != "ns-"+dhcpPort.ID[:11] {
		t.Fatalf("interface file %q (%v), want ns-%s", dev, err, dhcpPort.ID[:11])
	}
	tap := "tap" + dhcpPort.ID[:11]
	t.Cleanup(func() {
		_ = exec.Command("ovs-vsctl", "--if-exists", "del-port", tap).Run()
		_ = exec.Command("ip", "link", "del", tap).Run()
	})
	if out, err := exec.Command("ovs-vsctl", "get", "Interface", tap, "type").CombinedOutput(); err != nil || strings.TrimSpace(string(out)) != `""` {
		t.Fatalf("OVS interface %s type %q (%v), want a system port", tap, out, err)
	}

	client := testnet.NewClient(t, "qe2e-vm93", "qe2evm93", net.Ports[0].MACAddress)
	lease, err := client.DHCP(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if lease["ip"] != "10.93.0.10" || lease["router"] != "10.93.0.1" || lease["mtu"] != "1450" {
		t.Fatalf("lease %v", lease)
	}

	if err := r.drv.Disable(ctx, netID, false); err != nil {
		t.Fatal(err)
	}
	if err := exec.Command("ip", "link", "show", tap).Run(); err == nil {
		t.Fatalf("root end %s left", tap)
	}
	if out, _ := exec.Command("ovs-vsctl", "list-ports", testnet.Bridge).Output(); strings.Contains(string(out), tap) {
		t.Fatalf("OVS port %s left", tap)
	}
}
