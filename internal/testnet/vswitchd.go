package testnet

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Where scripts/testenv.sh runs Open vSwitch.
const (
	OVSRunDir       = "/var/run/openvswitch"
	VswitchdPidFile = OVSRunDir + "/ovs-vswitchd.pid"
)

// VswitchdPid returns the live ovs-vswitchd's pid, 0 when none runs (a
// zombie counts as gone: PID 1 reaps slowly here).
func VswitchdPid() int {
	b, err := os.ReadFile(VswitchdPidFile)
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0
	}
	if !processLives(pid) {
		return 0
	}
	return pid
}

// StartVswitchd starts ovs-vswitchd exactly as scripts/testenv.sh does,
// unless it runs, and waits until it answers on its control socket.
func StartVswitchd(t testing.TB) {
	t.Helper()
	if VswitchdPid() == 0 {
		out, err := exec.Command("ovs-vswitchd", "unix:"+OVSRunDir+"/db.sock",
			"--pidfile="+VswitchdPidFile, "--log-file=/var/log/openvswitch/ovs-vswitchd.log",
			"-vconsole:emer", "-vsyslog:err", "-vfile:info", "--no-chdir", "--detach").CombinedOutput()
		if err != nil {
			t.Fatalf("start ovs-vswitchd: %v: %s", err, out)
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for exec.Command("ovs-appctl", "-t", "ovs-vswitchd", "version").Run() != nil {
		if time.Now().After(deadline) {
			t.Fatal("ovs-vswitchd does not answer")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// StopVswitchd makes ovs-vswitchd exit and waits until it is gone.
func StopVswitchd(t testing.TB) {
	t.Helper()
	pid := VswitchdPid()
	if out, err := exec.Command("ovs-appctl", "-t", "ovs-vswitchd", "exit").CombinedOutput(); err != nil {
		t.Fatalf("ovs-appctl exit: %v: %s", err, out)
	}
	// its pid file goes before the process has closed its devices: wait
	// for the process itself (gone or a zombie)
	deadline := time.Now().Add(20 * time.Second)
	for pid != 0 && processLives(pid) {
		if time.Now().After(deadline) {
			t.Fatal("ovs-vswitchd does not exit")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// processLives reports whether pid exists and is not a zombie.
func processLives(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(string(stat), ')')
	f := strings.Fields(string(stat)[i+1:])
	return len(f) > 0 && f[0] != "Z"
}
