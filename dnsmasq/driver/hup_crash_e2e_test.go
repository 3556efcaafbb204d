package driver_test

import (
	"context"
	"testing"
	"time"

	"qdhcp/dnsmasq"
	"qdhcp/internal/testnet"
	"qdhcp/model"
	"qdhcp/procmon"
	"qdhcp/source/memory"
)

// TestReloadAfterTaggedHostKeepsServing covers the dnsmasq quirk on this
// stack: after serving a host whose dhcp-hostsfile line ends in
// ",set:port-<id>" (any port with extra_dhcp_opts), the next SIGHUP may kill
// dnsmasq. Whatever dnsmasq does, DHCP must be back at once: the driver
// checks right after the HUP and the monitor respawns a dead dnsmasq.
func TestReloadAfterTaggedHostKeepsServing(t *testing.T) {
	testnet.RequireRoot(t)
	const netID = "e2e00003-0000-4000-8000-000000000003"
	conf := e2eConf(t)
	server := memory.New(host)
	net := e2eNetwork(netID, "e2e00003-5b00-4000-8000-000000000003", 94)
	net.Ports[0].ExtraDHCPOpts = []model.ExtraDHCPOpt{{OptName: "tftp-server", OptValue: "10.94.0.5", IPVersion: 4}}
	r := enableServed(t, conf, server, net)
	ctx := context.Background()
	client := testnet.NewClient(t, "qe2e-vm94", "qe2evm94", net.Ports[0].MACAddress)
	if l, err := client.DHCP(ctx); err != nil || l["ip"] != "10.94.0.10" {
		t.Fatalf("first lease %v, %v", l, err)
	}
	pid := dnsmasqPid(t, conf, netID)
	for i := 0; i < 3; i++ {
		n, _ := server.GetNetworkInfo(ctx, netID)
		hupAt := time.Now()
		if err := r.drv.ReloadAllocations(ctx, n); err != nil {
			t.Fatal(err)
		}
		// serving again: same or respawned dnsmasq
		var now int
		for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			if p, ok := procmon.Active(dnsmasq.ConfPaths(conf, netID).Pid, netID); ok {
				now = p
				break
			}
		}
		if now == 0 {
			t.Fatalf("reload %d: no dnsmasq serving 3 s after the HUP", i)
		}
		if now != pid {
			t.Logf("reload %d: dnsmasq %d died after the HUP; respawned as %d after %v", i, pid, now,
				time.Since(hupAt).Round(time.Millisecond))
			pid = now
		}
		if l, err := client.DHCP(ctx); err != nil || l["ip"] != "10.94.0.10" {
			t.Fatalf("reload %d: lease %v, %v", i, l, err)
		}
	}
	st := r.mon.Stats()
	t.Logf("monitor: %+v", st)
	if st.Deaths != st.Respawns {
		t.Fatalf("deaths %d but respawns %d", st.Deaths, st.Respawns)
	}
}
