package e2e

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"qdhcp/internal/testnet"
	"qdhcp/model"
)

// TestAgentKilledMidSync SIGKILLs the agent while its first sync of 20
// networks is under way; while it is down one served network's file is
// deleted and another gets a port. The restarted agent must converge:
// every network served by exactly one dnsmasq (the running ones adopted,
// not restarted) with the right host file, its namespace holding one tap
// whose OVS port is the only one carrying its DHCP port id, the deleted
// network torn down, no namespace of the test left without a network, and
// a client gets its lease. Deleting every file then removes everything.
func TestAgentKilledMidSync(t *testing.T) {
	w := newWorld(t, "1", "")
	const total = 20
	nets := make([]*model.Network, total)
	for i := range nets {
		n := i + 1
		nets[i] = w.network(n, fmt.Sprintf("10.201.%d.0/24", n), fmt.Sprintf("10.201.%d.1", n),
			[]string{fmt.Sprintf("10.201.%d.10", n), fmt.Sprintf("10.201.%d.11", n)})
		w.writeNet(nets[i])
	}

	a := w.startAgent()
	deadline := time.Now().Add(60 * time.Second)
	for len(w.dnsmasqPids("")) < 3 {
		if time.Now().After(deadline) || !a.running() {
			t.Fatalf("no 3 dnsmasq within 60 s (agent running: %v)", a.running())
		}
		time.Sleep(5 * time.Millisecond)
	}
	a.kill()
	before := map[string]int{} // network -> dnsmasq pid at the kill
	for _, net := range nets {
		if pid := w.dnsmasqPid(net.ID); pid != 0 {
			before[net.ID] = pid
		}
	}
	t.Logf("agent killed with %d of %d dnsmasq running", len(before), total)
	if len(before) == total {
		t.Fatal("the sync had finished before the kill; the test proves nothing")
	}

	// while the agent is down: a served network goes, another gets a port
	var gone *model.Network
	for _, net := range nets {
		if before[net.ID] != 0 {
			gone = net
			break
		}
	}
	w.removeNet(gone.ID)
	edited := nets[total-1]
	edited.Ports = append(edited.Ports, w.vmPort(edited, 3, "10.201.20.12"))
	w.writeNet(edited)
	var live []*model.Network
	for _, net := range nets {
		if net != gone {
			live = append(live, net)
		}
	}

	a2 := w.startAgent()
	took := eventually(t, 90*time.Second, "every network converges after the restart", func() string {
		for _, net := range live {
			if msg := w.servedCheck(net.ID, hostFile(net)); msg != "" {
				return net.ID + ": " + msg
			}
		}
		return w.goneCheck(gone.ID)
	})
	t.Logf("converged %v after the restart", took.Round(time.Millisecond))
	for id, pid := range before {
		if id == gone.ID {
			continue
		}
		if now := w.dnsmasqPid(id); now != pid {
			t.Errorf("network %s: dnsmasq %d was not adopted (now %d)", id, pid, now)
		}
	}
	w.checkOVS(live)
	w.checkNamespaces(live)

	vm := edited.Ports[2]
	c := testnet.NewClient(t, "qe2e-1c", "qe2e1c", vm.MACAddress)
	if l, err := c.DHCP(context.Background()); err != nil || l["ip"] != "10.201.20.12" {
		t.Fatalf("client lease after the restart: %v, %v", l, err)
	}
	a2.checkNoPanic()

	for _, net := range live {
		w.removeNet(net.ID)
	}
	eventually(t, 60*time.Second, "everything removed after the files are deleted", func() string {
		for _, net := range nets {
			if msg := w.goneCheck(net.ID); msg != "" {
				return net.ID + ": " + msg
			}
		}
		return ""
	})
	w.checkOVS(nil)
	w.checkNamespaces(nil)
	if left := filesWithPrefix(w.state, "e2e1"); len(left) > 0 {
		t.Errorf("files left in state_path: %v", left)
	}
	a2.checkNoPanic()
}

// goneCheck returns what is left of network id ("" when nothing): its
// dnsmasq, namespace, state dir, persisted DHCP port.
func (w *world) goneCheck(id string) string {
	if pids := w.dnsmasqPids(id); len(pids) > 0 {
		return fmt.Sprintf("dnsmasq %v still running", pids)
	}
	if nsExists(nsName(id)) {
		return "namespace still there"
	}
	if _, err := os.Stat(w.confDir(id)); err == nil {
		return "state dir still there"
	}
	if ports := w.persistedPorts()[id]; len(ports) > 0 {
		return fmt.Sprintf("DHCP port %v still persisted", ports)
	}
	return ""
}

// checkOVS checks that each DHCP port id the agent ever used is on OVS
// exactly once (one Interface row, one Port row of its tap's name) when it
// is the current DHCP port of a live network, and not at all otherwise.
func (w *world) checkOVS(live []*model.Network) {
	w.t.Helper()
	current := map[string]bool{}
	cur := w.persistedPorts()
	for _, net := range live {
		for _, id := range cur[net.ID] {
			current[id] = true
		}
	}
	ever := w.everPorts()
	for _, id := range ever {
		ifaces := ovsInterfaces(w.t, id)
		want := 0
		if current[id] {
			want = 1
		}
		if len(ifaces) != want || ovsPortCount(w.t, tapName(id)) != want {
			w.t.Errorf("DHCP port %s: OVS interfaces %v, %d Port rows named %s; want %d (current: %v)",
				id, ifaces, ovsPortCount(w.t, tapName(id)), tapName(id), want, current[id])
		}
	}
	w.t.Logf("OVS: %d DHCP ports used over the test, %d current", len(ever), len(current))
}

// checkNamespaces checks that the qdhcp- namespaces of the world's
// networks are exactly those of the live networks.
func (w *world) checkNamespaces(live []*model.Network) {
	w.t.Helper()
	var want, got []string
	for _, net := range live {
		want = append(want, nsName(net.ID))
	}
	entries, _ := os.ReadDir("/var/run/netns")
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "qdhcp-e2e"+w.tag) {
			got = append(got, e.Name())
		}
	}
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		w.t.Errorf("namespaces of the test: got %v, want %v", got, want)
	}
}
