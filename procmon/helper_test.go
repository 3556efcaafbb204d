package procmon

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The test binary doubles as the daemons under test:
//
//	<exe> procmon-helper <mode> <uuid> <pidfile>
//
// modes: daemon (fork a setsid child that writes the pid file, parent exits
// 0 once it exists), sleep (write own pid, sleep), crash (write own pid,
// exit 1 after 50 ms), stubborn (ignore SIGTERM, write own pid, sleep).
func TestMain(m *testing.M) {
	if len(os.Args) == 5 && os.Args[1] == "procmon-helper" {
		helperMain(os.Args[2], os.Args[4])
		return
	}
	os.Exit(m.Run())
}

func helperMain(mode, pidFile string) {
	writePid := func() {
		tmp := pidFile + ".tmp"
		if err := os.WriteFile(tmp, fmt.Appendf(nil, "%d\n", os.Getpid()), 0o644); err != nil {
			os.Exit(3)
		}
		if err := os.Rename(tmp, pidFile); err != nil {
			os.Exit(3)
		}
	}
	sleepForever := func() {
		for {
			time.Sleep(time.Hour)
		}
	}
	switch mode {
	case "daemon":
		os.Remove(pidFile)
		cmd := exec.Command(os.Args[0], "procmon-helper", "daemon-child", os.Args[3], pidFile)
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		if err := cmd.Start(); err != nil {
			os.Exit(4)
		}
		for range 500 {
			if _, err := os.Stat(pidFile); err == nil {
				os.Exit(0)
			}
			time.Sleep(10 * time.Millisecond)
		}
		os.Exit(5)
	case "daemon-child", "sleep":
		writePid()
		sleepForever()
	case "crash":
		writePid()
		time.Sleep(50 * time.Millisecond)
		os.Exit(1)
	case "stubborn":
		signal.Ignore(syscall.SIGTERM)
		writePid()
		sleepForever()
	}
	os.Exit(2)
}

func needRoot(t testing.TB) {
	t.Helper()
	if os.Getenv("QDHCP_SKIP_ROOT") == "1" {
		t.Skip("QDHCP_SKIP_ROOT=1: skipping a test that needs root and network namespaces")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root (network namespaces, real processes)")
	}
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// newUUID returns a fresh uuid-shaped id that appears in the helper argv.
func newUUID() string {
	h := randHex(16)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// newNetns creates a network namespace for the test and deletes it on
// cleanup.
func newNetns(t testing.TB) string {
	t.Helper()
	name := "h2pm-" + randHex(4)
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add %s: %v: %s", name, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v: %s", name, err, out)
		}
	})
	return name
}

// helperArgv is the argv of a helper daemon for uuid.
func helperArgv(t testing.TB, mode, uuid, pidFile string) []string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return []string{exe, "procmon-helper", mode, uuid, pidFile}
}

// killOnCleanup kills whatever process the pid file names at cleanup, if it
// still carries uuid.
func killOnCleanup(t testing.TB, pidFile, uuid string) {
	t.Cleanup(func() {
		if pid, ok := Active(pidFile, uuid); ok {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	})
}

// waitActive waits until pidFile names a live process with uuid other than
// notPid.
func waitActive(t testing.TB, pidFile, uuid string, notPid int, d time.Duration) int {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if pid, ok := Active(pidFile, uuid); ok && pid != notPid {
			return pid
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("no live process for %s in %s within %s", uuid, pidFile, d)
	return 0
}

// events collects monitor events for assertions.
type events struct {
	ch chan Event
}

func newEvents() *events { return &events{ch: make(chan Event, 1000)} }

func (e *events) on(ev Event) {
	select {
	case e.ch <- ev:
	default:
	}
}

// next waits for the next event of kind.
func (e *events) next(t testing.TB, kind EventKind, d time.Duration) Event {
	t.Helper()
	timeout := time.After(d)
	for {
		select {
		case ev := <-e.ch:
			if ev.Kind == kind {
				return ev
			}
		case <-timeout:
			t.Fatalf("no %s event within %s", kind, d)
			return Event{}
		}
	}
}

// none asserts that no event of kind arrives within d.
func (e *events) none(t testing.TB, kind EventKind, d time.Duration) {
	t.Helper()
	timeout := time.After(d)
	for {
		select {
		case ev := <-e.ch:
			if ev.Kind == kind {
				t.Fatalf("unexpected %s event: %+v", kind, ev)
			}
		case <-timeout:
			return
		}
	}
}

// logBuffer is a goroutine-safe slog sink.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func (l *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// runMonitor runs m until the test ends and returns Run's result channel.
func runMonitor(t testing.TB, m *Monitor) <-chan error {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("monitor Run did not return")
		}
	})
	return done
}

// tempPidFile is a pid file path in a per-test directory named after uuid
// (like neutron's <dhcp_confs>/<net>/pid).
func tempPidFile(t testing.TB, uuid string) string {
	dir := filepath.Join(t.TempDir(), uuid)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, "pid")
}

func unixPrctlSubreaper(v uintptr) error {
	return unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, v, 0, 0, 0)
}
