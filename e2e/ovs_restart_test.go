package e2e

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"qdhcp/internal/testnet"
)

// TestOVSRestartWhileServing restarts ovs-vswitchd under a served network
// (quirk 3: the namespaced tap is orphaned and a new one appears in the
// root namespace). The agent's device check must re-plug the tap by itself
// and a client gets its lease again from the same dnsmasq. It disturbs
// every user of OVS on the machine for a moment, hence the opt-in
// (`make test` sets QDHCP_OVS_RESTART_TEST=1).
func TestOVSRestartWhileServing(t *testing.T) {
	if os.Getenv("QDHCP_OVS_RESTART_TEST") != "1" {
		t.Skip("restarts ovs-vswitchd: set QDHCP_OVS_RESTART_TEST=1")
	}
	w := newWorld(t, "3", "")
	net := w.network(1, "10.203.0.0/24", "10.203.0.1", []string{"10.203.0.10"})
	net.MTU = 1400
	w.writeNet(net)
	a := w.startAgent()
	eventually(t, 30*time.Second, "network served", func() string { return w.servedCheck(net.ID, hostFile(net)) })
	mac := net.Ports[0].MACAddress
	ctx := context.Background()
	c := testnet.NewClient(t, "qe2e-3a", "qe2e3a", mac)
	if l, err := c.DHCP(ctx); err != nil || l["ip"] != "10.203.0.10" || l["mtu"] != "1400" {
		t.Fatalf("lease before the restart: %v, %v", l, err)
	}
	pid := w.dnsmasqPid(net.ID)
	tap := w.file(net.ID, "interface")

	t.Cleanup(func() { testnet.StartVswitchd(t) }) // never leave OVS down
	testnet.StopVswitchd(t)
	testnet.StartVswitchd(t)
	restarted := time.Now()

	// the client's own tap was orphaned too: give it a fresh one
	run(t, "ovs-vsctl", "--timeout=30", "--if-exists", "del-port", testnet.Bridge, c.Dev)
	run(t, "ip", "netns", "del", c.NS)
	c = testnet.NewClient(t, "qe2e-3b", "qe2e3b", mac)

	var lease testnet.Lease
	eventually(t, 30*time.Second, "lease after the restart", func() string {
		l, err := c.DHCP(ctx)
		if err != nil {
			return err.Error()
		}
		lease = l
		return ""
	})
	t.Logf("lease again %v after ovs-vswitchd came back", time.Since(restarted).Round(time.Millisecond))
	if lease["ip"] != "10.203.0.10" || lease["mtu"] != "1400" {
		t.Errorf("lease after the restart: %v", lease)
	}
	if len(a.logLines("DHCP device repaired", net.ID)) == 0 {
		t.Error("the agent did not log the repair")
	}
	if now := w.dnsmasqPid(net.ID); now != pid {
		t.Errorf("dnsmasq %d was replaced by %d; --bind-dynamic should pick the new tap up", pid, now)
	}
	if msg := w.servedCheck(net.ID, hostFile(net)); msg != "" {
		t.Errorf("after the repair: %s", msg)
	}
	if out := run(t, "ip", "-n", nsName(net.ID), "link", "show", tap); !strings.Contains(out, "mtu 1400") || !strings.Contains(out, "state UP") && !strings.Contains(out, "LOWER_UP") {
		t.Errorf("repaired tap: %s", out)
	}
	a.checkNoPanic()
}
