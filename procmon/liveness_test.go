package procmon

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

func TestReadPidFile(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		content string
		want    int
		ok      bool
	}{
		{"1234\n", 1234, true},
		{" 77 \nextra\n", 77, true},
		{"", 0, false},
		{"abc\n", 0, false},
		{"-5\n", 0, false},
	} {
		p := filepath.Join(dir, "pid")
		if err := os.WriteFile(p, []byte(tc.content), 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := ReadPidFile(p)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ReadPidFile(%q) = %d, %v; want %d ok=%v", tc.content, got, err, tc.want, tc.ok)
		}
	}
	if _, ok := Active(filepath.Join(dir, "missing"), "x"); ok {
		t.Error("Active on a missing pid file")
	}
}

func TestActive(t *testing.T) {
	uuid := newUUID()
	pidFile := tempPidFile(t, uuid)
	c, err := Start(t.Context(), "", helperArgv(t, "sleep", uuid, pidFile))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Kill(); _ = c.Wait() })
	pid := waitActive(t, pidFile, uuid, 0, 5*time.Second)
	if pid != c.Pid {
		t.Errorf("pid file says %d, started %d", pid, c.Pid)
	}
	if _, ok := Active(pidFile, newUUID()); ok {
		t.Error("Active with another uuid: the cmdline check did not apply")
	}
	// a pid file naming some other live process (ours) is not active
	other := filepath.Join(t.TempDir(), "pid")
	if err := os.WriteFile(other, []byte("1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, ok := Active(other, uuid); ok {
		t.Error("Active for PID 1")
	}
}

// A process that has exited but is not yet reaped is dead for Active even
// though kill -0 still succeeds on it (DNSMASQ_QUIRKS 8).
func TestActiveZombie(t *testing.T) {
	uuid := newUUID()
	pidFile := tempPidFile(t, uuid)
	// os.StartProcess without Wait: the child stays a zombie until we reap
	exe := helperArgv(t, "crash", uuid, pidFile)
	p, err := os.StartProcess(exe[0], exe, &os.ProcAttr{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = p.Wait() })
	deadline := time.Now().Add(5 * time.Second)
	for {
		st, err := Stat(p.Pid)
		if err != nil {
			t.Fatal(err)
		}
		if st.Zombie() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("helper did not exit")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := syscall.Kill(p.Pid, 0); err != nil {
		t.Fatalf("kill -0 on the zombie failed (%v): the test does not exercise the quirk", err)
	}
	if pid, ok := Active(pidFile, uuid); ok || pid != p.Pid {
		t.Errorf("Active(zombie) = %d, %v; want %d, false", pid, ok, p.Pid)
	}
}
