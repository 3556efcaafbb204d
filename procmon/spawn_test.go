package procmon

import (
	"context"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

func nsInode(t *testing.T, path string) uint64 {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}

func TestRunInNetns(t *testing.T) {
	needRoot(t)
	ns := newNetns(t)
	out, err := Run(t.Context(), ns, []string{"readlink", "/proc/self/ns/net"})
	if err != nil {
		t.Fatal(err)
	}
	want := nsInode(t, "/var/run/netns/"+ns)
	if got := strings.TrimSpace(string(out)); got != fmt.Sprintf("net:[%d]", want) {
		t.Errorf("child netns %s, want net:[%d]", got, want)
	}
	// the agent's own threads stay where they were
	out, err = Run(t.Context(), "", []string{"readlink", "/proc/self/ns/net"})
	if err != nil {
		t.Fatal(err)
	}
	own, err := os.Readlink("/proc/self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(out)); got != own {
		t.Errorf("a start outside any namespace ran in %s, the agent is in %s", got, own)
	}
	// only lo exists in a fresh namespace
	out, err = Run(t.Context(), ns, []string{"ip", "-o", "link"})
	if err != nil {
		t.Fatal(err)
	}
	if lines := strings.Split(strings.TrimSpace(string(out)), "\n"); len(lines) != 1 || !strings.Contains(lines[0], "lo:") {
		t.Errorf("links in %s: %q", ns, out)
	}
}

func TestRunErrors(t *testing.T) {
	_, err := Run(t.Context(), "", []string{"sh", "-c", "echo boom >&2; exit 3"})
	if err == nil || !strings.Contains(err.Error(), "boom") || !strings.Contains(err.Error(), "exit status 3") {
		t.Errorf("Run failing command: %v", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := Run(ctx, "", []string{"sleep", "10"}); err == nil {
		t.Error("Run past its deadline succeeded")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Run took %s after its deadline", d)
	}
	if _, err := Run(t.Context(), "no-such-ns-h2", []string{"true"}); err == nil {
		t.Error("Run in a missing namespace succeeded")
	}
	if _, err := Start(t.Context(), "", nil); err == nil {
		t.Error("Start with empty argv succeeded")
	}
}

// Daemon waits for the started parent only; the daemon keeps running in
// the namespace and the parent's failure is reported with its output.
func TestDaemonInNetns(t *testing.T) {
	needRoot(t)
	ns := newNetns(t)
	uuid := newUUID()
	pidFile := tempPidFile(t, uuid)
	killOnCleanup(t, pidFile, uuid)
	start := time.Now()
	if err := Daemon(t.Context(), ns, helperArgv(t, "daemon", uuid, pidFile)); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Daemon took %s", d)
	}
	pid, ok := Active(pidFile, uuid)
	if !ok {
		t.Fatal("daemon not running after Daemon returned")
	}
	link, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", pid))
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("net:[%d]", nsInode(t, "/var/run/netns/"+ns)); link != want {
		t.Errorf("daemon in %s, want %s", link, want)
	}
	err = Daemon(t.Context(), ns, []string{"dnsmasq", "--no-such-option"})
	if err == nil || !strings.Contains(err.Error(), "no-such-option") {
		t.Errorf("Daemon with a bad dnsmasq option: %v", err)
	}
}
