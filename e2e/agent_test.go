package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// agent is one run of the qdhcp-agent binary.
type agent struct {
	t    *testing.T
	cmd  *exec.Cmd
	log  string // its stderr
	done chan struct{}
}

// startAgent runs `qdhcp-agent run` for the world in its own process
// group; the test's cleanup kills the group if it is still running and,
// when the test failed, prints the end of the agent's log.
func (w *world) startAgent() *agent {
	w.t.Helper()
	logf, err := os.CreateTemp(w.t.TempDir(), "agent-*.log")
	if err != nil {
		w.t.Fatal(err)
	}
	cmd := exec.Command(agentBin, "run", "--config-file", w.conf, "--source", "dir:"+w.netDir, "--ovsdb", ovsdbSocket)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		w.t.Fatalf("start qdhcp-agent: %v", err)
	}
	logf.Close()
	a := &agent{t: w.t, cmd: cmd, log: logf.Name(), done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(a.done) }()
	w.t.Cleanup(func() {
		a.killGroup()
		if w.t.Failed() {
			w.t.Logf("agent %d log (end):\n%s", cmd.Process.Pid, tail(a.logText(), 60))
		}
	})
	return a
}

// running reports whether the agent process has not exited.
func (a *agent) running() bool {
	select {
	case <-a.done:
		return false
	default:
		return true
	}
}

// kill SIGKILLs the agent process alone (as the OOM killer would) and
// waits for it; the processes it started keep running.
func (a *agent) kill() {
	a.t.Helper()
	if err := a.cmd.Process.Signal(syscall.SIGKILL); err != nil && a.running() {
		a.t.Fatalf("kill agent: %v", err)
	}
	<-a.done
}

// killGroup SIGKILLs the agent's process group (the agent and helpers it
// runs in the foreground; daemonised dnsmasq has its own session).
func (a *agent) killGroup() {
	if a.running() {
		_ = syscall.Kill(-a.cmd.Process.Pid, syscall.SIGKILL)
		select {
		case <-a.done:
		case <-time.After(10 * time.Second):
			a.t.Errorf("agent %d does not die", a.cmd.Process.Pid)
		}
	}
}

func (a *agent) logText() string {
	b, _ := os.ReadFile(a.log)
	return string(b)
}

// checkNoPanic fails the test if the agent died or its log shows a Go
// panic or fatal runtime error.
func (a *agent) checkNoPanic() {
	a.t.Helper()
	l := a.logText()
	for _, bad := range []string{"panic:", "fatal error:", "goroutine 1 ["} {
		if strings.Contains(l, bad) {
			a.t.Fatalf("agent log shows %q:\n%s", bad, tail(l, 60))
		}
	}
	if !a.running() {
		a.t.Fatalf("agent exited (%v):\n%s", a.cmd.ProcessState, tail(l, 60))
	}
}

// logLines returns the lines of the agent's log that contain every part.
func (a *agent) logLines(parts ...string) []string {
	var out []string
	for _, l := range strings.Split(a.logText(), "\n") {
		ok := true
		for _, p := range parts {
			ok = ok && strings.Contains(l, p)
		}
		if ok && l != "" {
			out = append(out, l)
		}
	}
	return out
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// run runs a command and fails the test with its output on error.
func run(t *testing.T, argv ...string) string {
	t.Helper()
	var out bytes.Buffer
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(argv, " "), err, out.String())
	}
	return out.String()
}

// servedCheck returns what is still wrong with network id being served
// with host file want ("" when it is): one live dnsmasq (the pid file's),
// the host file, the namespace holding exactly the tap named in the
// interface file, and that tap's OVS port carrying a DHCP port id the
// source persisted.
func (w *world) servedCheck(id, want string) string {
	pid := w.dnsmasqPid(id)
	if pid == 0 {
		return "no live dnsmasq behind the pid file"
	}
	if all := w.dnsmasqPids(id); len(all) != 1 {
		return fmt.Sprintf("%d dnsmasq processes: %v", len(all), all)
	}
	if got := w.file(id, "host"); got != want {
		return fmt.Sprintf("host file %d bytes, want %d", len(got), len(want))
	}
	tap := w.file(id, "interface")
	links, err := nsLinks(nsName(id))
	if err != nil {
		return err.Error()
	}
	if len(links) != 1 || links[0] != tap {
		return fmt.Sprintf("namespace holds %v, interface file says %q", links, tap)
	}
	ports := w.persistedPorts()[id]
	if len(ports) != 1 || tapName(ports[0]) != tap {
		return fmt.Sprintf("persisted DHCP ports %v for tap %q", ports, tap)
	}
	return ""
}

// filesWithPrefix lists the files under dir whose name has the prefix.
func filesWithPrefix(dir, prefix string) []string {
	var out []string
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.HasPrefix(d.Name(), prefix) {
			out = append(out, p)
		}
		return nil
	})
	return out
}
