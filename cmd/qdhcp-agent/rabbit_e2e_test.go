package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"qdhcp/dhcpagent/config"
	"qdhcp/dnsmasq"
	"qdhcp/internal/rabbittest"
	"qdhcp/internal/testnet"
	"qdhcp/model"
	"qdhcp/procmon"
)

// buildAgent compiles the command once per test binary.
func buildAgent(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "qdhcp-agent")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

type agentProc struct {
	cmd *exec.Cmd
	log *bytes.Buffer
}

func startAgentProc(t *testing.T, bin string, args ...string) *agentProc {
	t.Helper()
	p := &agentProc{cmd: exec.Command(bin, append([]string{"run"}, args...)...), log: &bytes.Buffer{}}
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			_ = p.cmd.Process.Signal(syscall.SIGTERM)
			_ = p.cmd.Wait()
		}
		if t.Failed() {
			t.Logf("agent log:\n%s", p.log.String())
		}
	})
	return p
}

func (p *agentProc) stop(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Wait(); err != nil {
		t.Fatalf("agent exit: %v\n%s", err, p.log.String())
	}
}

func waitUntil(t *testing.T, what string, d time.Duration, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > d {
			t.Fatalf("%s: not within %v", what, d)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return time.Since(start)
}

// TestAgainstOsloNeutronServer runs the real binary as an operator would,
// with neutron.conf + dhcp_agent.ini pointing at RabbitMQ, against the
// oslo.messaging stand-in of neutron-server: report_state, full sync,
// notifications for ports and the network, SIGTERM leaving dnsmasq up and a
// restarted agent adopting it.
func TestAgainstOsloNeutronServer(t *testing.T) {
	testnet.RequireRoot(t)
	vhost := rabbittest.VHost(t)
	url := rabbittest.URL(vhost)
	peer := rabbittest.StartPeer(t, url, "neutron")
	bin := buildAgent(t)

	const host = "qdhcp-rmq-e2e"
	const netID = "e2eb0001-0000-4000-8000-000000000001"
	const subID = "e2eb0001-5b00-4000-8000-000000000001"
	state := testnet.StateDir(t)
	dhcpPort := &model.Port{ID: "e2eb0001-d0c0-4000-8000-000000000001", NetworkID: netID,
		MACAddress: "fa:16:3e:b0:00:02", DeviceOwner: model.OwnerDHCP, DeviceID: model.DHCPDeviceID(host, netID),
		FixedIPs: []model.FixedIP{{SubnetID: subID, IPAddress: "10.98.0.2"}}}
	vm := func(n int, ip string, rev int64) *model.Port {
		return &model.Port{ID: fmt.Sprintf("e2eb0001-0000-4000-8000-%012d", 100+n), NetworkID: netID,
			MACAddress: fmt.Sprintf("fa:16:3e:b0:01:%02x", n), DeviceOwner: "compute:nova", DeviceID: "vm",
			FixedIPs: []model.FixedIP{{SubnetID: subID, IPAddress: ip}}, RevisionNumber: rev}
	}
	net := &model.Network{ID: netID, MTU: 1450, ProjectID: "p", TenantID: "p",
		Subnets: []*model.Subnet{{ID: subID, NetworkID: netID, IPVersion: 4, CIDR: "10.98.0.0/24",
			GatewayIP: "10.98.0.1", EnableDHCP: true,
			AllocationPools: []model.AllocPool{{Start: "10.98.0.2", End: "10.98.0.254"}}}},
		NonLocalSubnets: []*model.Subnet{},
		Ports:           []*model.Port{dhcpPort, vm(1, "10.98.0.11", 1)},
	}
	setNet := func(n *model.Network) {
		var m map[string]any
		b, _ := json.Marshal(n)
		_ = json.Unmarshal(b, &m)
		if a := peer.Do(map[string]any{"op": "network", "network": m}); !a.OK {
			t.Fatalf("peer network: %+v", a)
		}
	}
	setNet(net)

	conf := filepath.Join(state, "neutron.conf")
	ini := filepath.Join(state, "dhcp_agent.ini")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(`[DEFAULT]
host = %s
transport_url = %s
state_path = %s

[AGENT]
report_interval = 1
`, host, url, state)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(ini, []byte(`[DEFAULT]
interface_driver = openvswitch

[OVS]
ovsdb_connection = unix:/var/run/openvswitch/db.sock

[AGENT]
check_child_processes_interval = 1
`), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"--config-file", conf, "--config-file", ini}
	t.Cleanup(func() {
		out, err := exec.Command(bin, "cleanup", "--config-file", conf, "--config-file", ini).CombinedOutput()
		if err != nil {
			t.Logf("cleanup: %v\n%s", err, out)
		}
	})
	c, err := config.Load(conf, ini)
	if err != nil {
		t.Fatal(err)
	}
	paths := dnsmasq.ConfPaths(c, netID)
	hostFile := func() string { b, _ := os.ReadFile(paths.Host); return string(b) }

	agent := startAgentProc(t, bin, args...)
	waitUntil(t, "dnsmasq serving the scheduled network", 20*time.Second, func() bool {
		_, ok := procmon.Active(paths.Pid, netID)
		return ok
	})
	pid, _ := procmon.Active(paths.Pid, netID)

	// what neutron-server saw: a first report with start_flag, a full sync
	// with host and enable_dhcp_filter False, ports reported ready
	arg := func(c rabbittest.Call, key string) any {
		var v any
		_ = json.Unmarshal(c.Args[key], &v)
		return v
	}
	waitUntil(t, "report_state and dhcp_ready_on_ports", 10*time.Second, func() bool {
		var report, sync, ready bool
		for _, call := range peer.Calls() {
			switch call.Method {
			case "report_state":
				st, _ := arg(call, "agent_state").(map[string]any)
				inner, _ := st["agent_state"].(map[string]any)
				report = report || (inner["start_flag"] == true && inner["host"] == host && inner["binary"] == "neutron-dhcp-agent")
			case "get_active_networks_info":
				sync = arg(call, "host") == host && arg(call, "enable_dhcp_filter") == false
			case "dhcp_ready_on_ports":
				ids, _ := arg(call, "port_ids").([]any)
				for _, id := range ids {
					ready = ready || id == net.Ports[1].ID
				}
			}
		}
		return report && sync && ready
	})

	client := testnet.NewClient(t, "qe2e-rmq1", "qe2ermq1", net.Ports[1].MACAddress)
	if l, err := client.DHCP(t.Context()); err != nil || l["ip"] != "10.98.0.11" {
		t.Fatalf("lease %v, %v", l, err)
	}

	// port_create_end cast by the server reaches the host file within a second
	p2 := vm(2, "10.98.0.12", 1)
	net.Ports = append(net.Ports, p2)
	setNet(net)
	cast := func(method string, payload any, fanout bool) {
		t.Helper()
		var h any = host
		if fanout {
			h = nil
		}
		if a := peer.Do(map[string]any{"op": "cast", "method": method, "payload": payload, "host": h, "fanout": fanout}); !a.OK {
			t.Fatalf("cast %s: %+v", method, a)
		}
	}
	cast("port_create_end", map[string]any{"port": p2, "priority": 5}, false)
	d := waitUntil(t, "port_create_end in the host file", time.Second, func() bool { return strings.Contains(hostFile(), "10.98.0.12") })
	t.Logf("port_create_end -> host file: %v", d)

	p2 = vm(2, "10.98.0.13", 2)
	net.Ports[2] = p2
	setNet(net)
	cast("port_update_end", map[string]any{"port": p2, "priority": 6}, false)
	d = waitUntil(t, "port_update_end in the host file", time.Second, func() bool {
		h := hostFile()
		return strings.Contains(h, "10.98.0.13") && !strings.Contains(h, "10.98.0.12")
	})
	t.Logf("port_update_end -> host file: %v", d)

	net.Ports = net.Ports[:2]
	setNet(net)
	cast("port_delete_end", map[string]any{"port_id": p2.ID, "network_id": netID, "priority": 6}, false)
	d = waitUntil(t, "port_delete_end in the host file", time.Second, func() bool { return !strings.Contains(hostFile(), "10.98.0.13") })
	t.Logf("port_delete_end -> host file: %v", d)
	if now, _ := procmon.Active(paths.Pid, netID); now != pid {
		t.Fatalf("port events restarted dnsmasq (%d -> %d)", pid, now)
	}

	// SIGTERM: the agent goes, dnsmasq keeps serving; a new agent adopts it
	agent.stop(t)
	if _, ok := procmon.Active(paths.Pid, netID); !ok {
		t.Fatal("dnsmasq stopped with the agent")
	}
	if l, err := client.DHCP(t.Context()); err != nil || l["ip"] != "10.98.0.11" {
		t.Fatalf("lease with the agent stopped: %v, %v", l, err)
	}
	agent = startAgentProc(t, bin, args...)
	waitUntil(t, "restarted agent adopts dnsmasq", 20*time.Second, func() bool {
		return strings.Contains(agent.log.String(), "dnsmasq adopted")
	})
	if now, _ := procmon.Active(paths.Pid, netID); now != pid {
		t.Fatalf("restarted agent replaced dnsmasq (%d -> %d)", pid, now)
	}

	// the network is deleted (fanout, as neutron casts it): all torn down
	cast("network_delete_end", map[string]any{"network_id": netID, "priority": 2}, true)
	waitUntil(t, "network torn down", 10*time.Second, func() bool {
		_, nsErr := os.Stat("/var/run/netns/qdhcp-" + netID)
		_, dirErr := os.Stat(paths.Dir)
		return os.IsNotExist(nsErr) && os.IsNotExist(dirErr)
	})
	if st, err := procmon.Stat(pid); err == nil && !st.Zombie() {
		t.Fatalf("dnsmasq %d still running after network_delete_end", pid)
	}
}
