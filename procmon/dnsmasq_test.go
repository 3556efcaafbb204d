package procmon

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// dnsmasqService is an idle real dnsmasq (no DNS port, no DHCP range) in
// namespace ns whose command line carries uuid through its paths, as
// neutron's does (<dhcp_confs>/<net-id>/...).
func dnsmasqService(t testing.TB, ns string) (Service, []string) {
	t.Helper()
	if _, err := exec.LookPath("dnsmasq"); err != nil {
		t.Skip("dnsmasq not installed (scripts/testenv.sh installs dnsmasq-base)")
	}
	uuid := newUUID()
	dir := filepath.Join(t.TempDir(), uuid)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "host"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	pidFile := filepath.Join(dir, "pid")
	argv := []string{"dnsmasq", "--no-hosts", "--no-resolv", "--pid-file=" + pidFile,
		"--dhcp-hostsfile=" + filepath.Join(dir, "host"), "--port=0", "--conf-file=/dev/null",
		"--bind-dynamic", "--local-service"}
	t.Cleanup(func() {
		if pid, ok := Active(pidFile, uuid); ok {
			_ = (Killer{}).Stop("dnsmasq", pid, 0)
		}
	})
	svc := Service{UUID: uuid, Name: "dnsmasq", PidFile: pidFile, Respawn: func(ctx context.Context) error {
		return Daemon(ctx, ns, argv)
	}}
	if err := Daemon(t.Context(), ns, argv); err != nil {
		t.Fatal(err)
	}
	waitActive(t, pidFile, uuid, 0, 5*time.Second)
	return svc, argv
}

// SIGKILL of a real dnsmasq in its namespace: death noticed and a new
// dnsmasq running in the same namespace well within a second, although the
// killed one may linger as a zombie of PID 1 (DNSMASQ_QUIRKS 8).
func TestMonitorRealDnsmasq(t *testing.T) {
	needRoot(t)
	ns := newNetns(t)
	svc, _ := dnsmasqService(t, ns)
	ev := newEvents()
	var logs logBuffer
	m := New(Config{Interval: 60 * time.Second, OnEvent: ev.on, Logger: logs.logger()})
	if err := m.Register(svc); err != nil {
		t.Fatal(err)
	}
	runMonitor(t, m)
	old := waitActive(t, svc.PidFile, svc.UUID, 0, time.Second)
	time.Sleep(50 * time.Millisecond)

	killed := time.Now()
	if err := syscall.Kill(old, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	died := ev.next(t, EventDied, 5*time.Second)
	zombie := false
	if st, err := Stat(old); err == nil && st.Zombie() {
		zombie = true
	}
	ev.next(t, EventRespawned, 5*time.Second)
	pid := waitActive(t, svc.PidFile, svc.UUID, old, 5*time.Second)
	serving := time.Since(killed)
	t.Logf("real dnsmasq: SIGKILL -> death noticed %s (old pid still a zombie then: %v), -> new dnsmasq active %s",
		died.At.Sub(killed), zombie, serving)
	if serving > time.Second {
		t.Errorf("new dnsmasq after %s, want < 1s", serving)
	}
	link, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", pid))
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("net:[%d]", nsInode(t, "/var/run/netns/"+ns)); link != want {
		t.Errorf("respawned dnsmasq in %s, want %s", link, want)
	}
}

// BenchmarkDnsmasqDeathDetection measures SIGKILL -> death noticed
// (detect-us/op) and SIGKILL -> new dnsmasq active (respawn-ms/op, and the
// worst case max-respawn-ms; goal < 1000) for a real dnsmasq in a namespace.
func BenchmarkDnsmasqDeathDetection(b *testing.B) {
	needRoot(b)
	ns := newNetns(b)
	svc, _ := dnsmasqService(b, ns)
	ev := newEvents()
	m := New(Config{Interval: 60 * time.Second, OnEvent: ev.on, Backoff: Backoff{Burst: 1 << 30},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}) // one line per respawn would fill the output
	if err := m.Register(svc); err != nil {
		b.Fatal(err)
	}
	runMonitor(b, m)
	pid := waitActive(b, svc.PidFile, svc.UUID, 0, time.Second)
	var detect, respawn, worst time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		time.Sleep(20 * time.Millisecond) // let the watcher pin the new process
		killed := time.Now()
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			b.Fatal(err)
		}
		died := ev.next(b, EventDied, 5*time.Second)
		detect += died.At.Sub(killed)
		ev.next(b, EventRespawned, 5*time.Second)
		pid = waitActive(b, svc.PidFile, svc.UUID, pid, 5*time.Second)
		r := time.Since(killed)
		respawn += r
		worst = max(worst, r)
	}
	b.ReportMetric(float64(detect.Microseconds())/float64(b.N), "detect-us/op")
	b.ReportMetric(float64(respawn.Milliseconds())/float64(b.N), "respawn-ms/op")
	b.ReportMetric(float64(worst.Milliseconds()), "max-respawn-ms")
}

// zombieChildren lists zombies whose parent is the test process.
func zombieChildren(t testing.TB) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var z []int
	for _, e := range entries {
		var pid int
		if _, err := fmt.Sscan(e.Name(), &pid); err != nil {
			continue
		}
		if st, err := Stat(pid); err == nil && st.PPid == os.Getpid() && st.Zombie() {
			z = append(z, pid)
		}
	}
	return z
}

// As subreaper the agent adopts dnsmasq's intermediate fork too; the
// orphan reaper collects it, and a process procmon waits for itself is left
// to its own Wait.
func TestReapOrphansDnsmasq(t *testing.T) {
	needRoot(t)
	if err := EnableSubreaper(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = unixPrctlSubreaper(0) })
	ns := newNetns(t)
	svc, _ := dnsmasqService(t, ns)
	pid := waitActive(t, svc.PidFile, svc.UUID, 0, time.Second)
	if st, _ := Stat(pid); st.PPid != os.Getpid() {
		t.Fatalf("dnsmasq %d not adopted (parent %d)", pid, st.PPid)
	}
	// a child of ours that exited but whose Wait has not run yet: a direct
	// os.StartProcess child in our own session must never be reaped
	exe := helperArgv(t, "crash", newUUID(), filepath.Join(t.TempDir(), "pid"))
	p, err := os.StartProcess(exe[0], exe, &os.ProcAttr{})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for st, _ := Stat(p.Pid); !st.Zombie(); st, _ = Stat(p.Pid) {
		if time.Now().After(deadline) {
			t.Fatal("helper did not exit")
		}
		time.Sleep(5 * time.Millisecond)
	}
	before := zombieChildren(t)
	reaped := ReapOrphans()
	t.Logf("zombie children before %v, reaped %v", before, reaped)
	for _, r := range reaped {
		if r == p.Pid {
			t.Fatalf("ReapOrphans stole the exit status of direct child %d", p.Pid)
		}
	}
	if st, err := p.Wait(); err != nil || st.ExitCode() != 1 {
		t.Errorf("own Wait of the direct child: %v, %v", st, err)
	}
	if z := zombieChildren(t); len(z) != 0 {
		t.Errorf("zombie children left: %v", z)
	}
	// killing the adopted dnsmasq and stopping it through Stop reaps it
	if err := (Killer{}).Stop("dnsmasq", pid, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := Stat(pid); err == nil {
		t.Errorf("stopped dnsmasq %d still in /proc (not reaped)", pid)
	}
}
