package e2e

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"qdhcp/internal/testnet"
)

// TestStatePathFull runs the agent with state_path on a 2 MB tmpfs, fills
// it, and adds ports to the served network. The agent must log the
// failure (no space left on device) and keep running, the host, addn_hosts
// and opts files must stay as they were (atomic writes, no temporary file
// left), and dnsmasq keeps serving the old allocation. Once space is freed
// the agent's resync writes the new ports and their client gets a lease.
func TestStatePathFull(t *testing.T) {
	testnet.RequireRoot(t)
	state := testnet.StateDir(t)
	run(t, "mount", "-t", "tmpfs", "-o", "size=2m,mode=0755", "qdhcp-e2e-full", state)
	t.Cleanup(func() {
		if err := syscall.Unmount(state, 0); err != nil {
			_ = syscall.Unmount(state, syscall.MNT_DETACH)
		}
	})
	w := newWorld(t, "5", state)
	net := w.network(1, "10.205.0.0/24", "10.205.0.1", []string{"10.205.0.10"})
	w.writeNet(net)
	a := w.startAgent()
	eventually(t, 30*time.Second, "network served", func() string { return w.servedCheck(net.ID, hostFile(net)) })
	ctx := context.Background()
	c := testnet.NewClient(t, "qe2e-5a", "qe2e5a", net.Ports[0].MACAddress)
	if l, err := c.DHCP(ctx); err != nil || l["ip"] != "10.205.0.10" {
		t.Fatalf("lease before the disk fills: %v, %v", l, err)
	}
	pid := w.dnsmasqPid(net.ID)
	names := []string{"host", "addn_hosts", "opts"}
	before := map[string]string{}
	for _, n := range names {
		before[n] = w.file(net.ID, n)
	}

	filler := filepath.Join(state, "filler")
	fill(t, filler)
	errsBefore := len(a.logLines("no space left on device"))
	for i := 2; i <= 4; i++ {
		net.Ports = append(net.Ports, w.vmPort(net, i, "10.205.0."+strconv.Itoa(9+i)))
	}
	w.writeNet(net)
	eventually(t, 30*time.Second, "the agent reports the full disk", func() string {
		if len(a.logLines("no space left on device")) > errsBefore {
			return ""
		}
		return "no 'no space left on device' in the agent's log"
	})
	for _, l := range a.logLines("no space left on device")[:1] {
		t.Logf("agent: %s", l)
	}
	time.Sleep(1500 * time.Millisecond) // a resync or two fail as well
	a.checkNoPanic()
	for _, n := range names {
		if got := w.file(net.ID, n); got != before[n] {
			t.Errorf("%s changed while the disk was full:\n got %q\nwant %q", n, got, before[n])
		}
	}
	// the agent keeps retrying (resync_throttle = 0): a retry's temporary
	// file may exist for an instant; one left behind is still there later
	first := filesWithPrefix(w.confDir(net.ID), ".")
	time.Sleep(300 * time.Millisecond)
	for _, f := range filesWithPrefix(w.confDir(net.ID), ".") {
		if slices.Contains(first, f) {
			t.Errorf("temporary file left behind: %s", f)
		}
	}
	if now := w.dnsmasqPid(net.ID); now != pid {
		t.Errorf("dnsmasq %d replaced by %d while the disk was full", pid, now)
	}
	if l, err := c.DHCP(ctx); err != nil || l["ip"] != "10.205.0.10" {
		t.Fatalf("old lease while the disk is full: %v, %v", l, err)
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	took := eventually(t, 30*time.Second, "the agent catches up once space is free", func() string {
		return w.servedCheck(net.ID, hostFile(net))
	})
	t.Logf("converged %v after space was freed", took.Round(time.Millisecond))
	c2 := testnet.NewClient(t, "qe2e-5b", "qe2e5b", net.Ports[3].MACAddress)
	if l, err := c2.DHCP(ctx); err != nil || l["ip"] != "10.205.0.13" {
		t.Fatalf("lease of a port added while the disk was full: %v, %v", l, err)
	}
	a.checkNoPanic()
}

// fill writes path until the filesystem is full.
func fill(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	for {
		if _, err := f.Write(buf); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("fill %s: %v", path, err)
			}
			break
		}
	}
	// the last partial pages too
	for _, n := range []int{4096, 512, 1} {
		for {
			if _, err := f.Write(buf[:n]); err != nil {
				break
			}
		}
	}
	out, _ := exec.Command("df", "-B1", filepath.Dir(path)).CombinedOutput()
	t.Logf("filled:\n%s", strings.TrimSpace(string(out)))
}
