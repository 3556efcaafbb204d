package procmon

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func startHelper(t *testing.T, mode string) (pid int, uuid, pidFile string) {
	t.Helper()
	uuid = newUUID()
	pidFile = tempPidFile(t, uuid)
	c, err := Start(t.Context(), "", helperArgv(t, mode, uuid, pidFile))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Kill(); _ = c.Wait() })
	return waitActive(t, pidFile, uuid, 0, 5*time.Second), uuid, pidFile
}

func TestStop(t *testing.T) {
	// a process that obeys SIGTERM stops long before the grace period
	pid, uuid, pidFile := startHelper(t, "sleep")
	start := time.Now()
	if err := (Killer{}).Stop("haproxy", pid, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Stop of a cooperative process took %s", d)
	}
	if _, ok := Active(pidFile, uuid); ok {
		t.Error("still active after Stop")
	}

	// one that ignores SIGTERM gets SIGKILL after the grace period
	pid, uuid, pidFile = startHelper(t, "stubborn")
	start = time.Now()
	if err := (Killer{}).Stop("haproxy", pid, 300*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Errorf("Stop of a SIGTERM-ignoring process took only %s", d)
	}
	if _, ok := Active(pidFile, uuid); ok {
		t.Error("stubborn process still active after Stop")
	}

	// gone already: not an error
	if err := (Killer{}).Stop("haproxy", pid, time.Second); err != nil {
		t.Errorf("Stop of a dead process: %v", err)
	}
}

// With <kill_scripts_path>/<service>-kill present, signals go through it
// with neutron's arguments; other services still use kill(2).
func TestKillScript(t *testing.T) {
	dir := t.TempDir()
	record := filepath.Join(dir, "calls")
	script := "#!/bin/sh\necho \"$@\" >> " + record + "\nkill -$1 $2\n"
	if err := os.WriteFile(filepath.Join(dir, "sleeper-kill"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	k := Killer{ScriptsPath: dir}
	pid, uuid, pidFile := startHelper(t, "stubborn")
	if err := k.Signal("sleeper", pid, syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitGone(t, pidFile, uuid) // the helper does not handle HUP: it dies of it
	pid2, uuid2, pidFile2 := startHelper(t, "stubborn")
	if err := k.Stop("sleeper", pid2, 200*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	waitGone(t, pidFile2, uuid2)
	data, err := os.ReadFile(record)
	if err != nil {
		t.Fatal(err)
	}
	want := "HUP " + itoa(pid) + "\n15 " + itoa(pid2) + "\n9 " + itoa(pid2) + "\n"
	if string(data) != want {
		t.Errorf("kill script calls:\n%s\nwant:\n%s", data, want)
	}
	// no script for this service: plain kill
	pid3, uuid3, pidFile3 := startHelper(t, "sleep")
	if err := k.Signal("other", pid3, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitGone(t, pidFile3, uuid3)
	if data2, _ := os.ReadFile(record); string(data2) != want {
		t.Errorf("script called for a service without one: %s", data2)
	}
	// a failing script is an error
	if err := os.WriteFile(filepath.Join(dir, "broken-kill"), []byte("#!/bin/sh\necho nope >&2\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := k.Signal("broken", pid3, syscall.SIGHUP); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("failing kill script: %v", err)
	}
}

func waitGone(t *testing.T, pidFile, uuid string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if _, ok := Active(pidFile, uuid); !ok {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("%s still active", uuid)
}

func itoa(n int) string { return strconv.Itoa(n) }
