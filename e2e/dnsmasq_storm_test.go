package e2e

import (
	"context"
	"net/netip"
	"slices"
	"syscall"
	"testing"
	"time"

	"qdhcp/internal/testnet"
)

// TestDnsmasqKilledDuringPortStorm adds 300 ports to a served network in
// three writes of its file and SIGKILLs dnsmasq during the storm. The
// agent must respawn it (a new pid, exactly one dnsmasq) with a host file
// holding every port, and clients of the first and of the last port get
// their leases from it.
func TestDnsmasqKilledDuringPortStorm(t *testing.T) {
	w := newWorld(t, "2", "")
	base := netip.MustParseAddr("10.202.0.10")
	net := w.network(1, "10.202.0.0/22", "10.202.0.1", []string{base.String()})
	w.writeNet(net)
	a := w.startAgent()
	eventually(t, 30*time.Second, "network served", func() string { return w.servedCheck(net.ID, hostFile(net)) })
	first := testnet.NewClient(t, "qe2e-2a", "qe2e2a", net.Ports[0].MACAddress)
	ctx := context.Background()
	if l, err := first.DHCP(ctx); err != nil || l["ip"] != base.String() {
		t.Fatalf("first client before the storm: %v, %v", l, err)
	}

	var killed []int
	ip := base
	for batch := 0; batch < 3; batch++ {
		for i := 0; i < 100; i++ {
			ip = ip.Next()
			net.Ports = append(net.Ports, w.vmPort(net, len(net.Ports)+1, ip.String()))
		}
		w.writeNet(net)
		// kill at different points of the agent's work on the write
		time.Sleep(time.Duration(batch) * 60 * time.Millisecond)
		if pid := w.dnsmasqPid(net.ID); pid != 0 {
			if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
				t.Fatalf("kill dnsmasq %d: %v", pid, err)
			}
			killed = append(killed, pid)
		}
	}
	if len(killed) == 0 {
		t.Fatal("no dnsmasq was running to be killed")
	}
	t.Logf("killed dnsmasq %v during the storm", killed)

	took := eventually(t, 30*time.Second, "all 301 ports served by a respawned dnsmasq", func() string {
		if pid := w.dnsmasqPid(net.ID); slices.Contains(killed, pid) {
			return "dnsmasq not respawned yet"
		}
		return w.servedCheck(net.ID, hostFile(net))
	})
	t.Logf("converged %v after the last write; dnsmasq pid %d", took.Round(time.Millisecond), w.dnsmasqPid(net.ID))

	last := net.Ports[len(net.Ports)-1]
	c := testnet.NewClient(t, "qe2e-2b", "qe2e2b", last.MACAddress)
	if l, err := c.DHCP(ctx); err != nil || l["ip"] != last.FixedIPs[0].IPAddress {
		t.Fatalf("client of the last storm port: %v, %v", l, err)
	}
	if l, err := first.DHCP(ctx); err != nil || l["ip"] != base.String() {
		t.Fatalf("first client after the storm: %v, %v", l, err)
	}
	a.checkNoPanic()
}
