package procmon

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// ReadPidFile returns the pid written in a pid file (first line, blanks
// trimmed).
func ReadPidFile(path string) (int, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	line, _, _ := strings.Cut(string(data), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("pid file %s: malformed pid %q", path, strings.TrimSpace(line))
	}
	return pid, nil
}

// ProcStat is what liveness needs from /proc/<pid>/stat.
type ProcStat struct {
	State   byte // R S D Z T t X I ...
	PPid    int
	Session int
}

// Zombie reports a process that has exited but not been reaped (or is
// being torn down).
func (s ProcStat) Zombie() bool { return s.State == 'Z' || s.State == 'X' || s.State == 'x' }

// Stat reads /proc/<pid>/stat.
func Stat(pid int) (ProcStat, error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return ProcStat{}, err
	}
	// "pid (comm) state ppid pgrp session ...": comm may hold anything,
	// including ") ", so cut at the last parenthesis.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return ProcStat{}, fmt.Errorf("/proc/%d/stat: malformed", pid)
	}
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 4 || len(f[0]) != 1 {
		return ProcStat{}, fmt.Errorf("/proc/%d/stat: malformed", pid)
	}
	ppid, err1 := strconv.Atoi(f[1])
	sid, err2 := strconv.Atoi(f[3])
	if err1 != nil || err2 != nil {
		return ProcStat{}, fmt.Errorf("/proc/%d/stat: malformed", pid)
	}
	return ProcStat{State: f[0][0], PPid: ppid, Session: sid}, nil
}

// Cmdline returns the argv of a live process (empty for a zombie or a
// kernel thread).
func Cmdline(pid int) ([]string, error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil {
		return nil, err
	}
	data = bytes.TrimSuffix(data, []byte{0})
	if len(data) == 0 {
		return nil, nil
	}
	return strings.Split(string(data), "\x00"), nil
}

// Alive reports whether pid is a live process (exists and is not a zombie)
// whose command line contains uuid (any uuid when empty).
func Alive(pid int, uuid string) bool {
	if pid <= 0 {
		return false
	}
	st, err := Stat(pid)
	if err != nil || st.Zombie() {
		return false
	}
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil || len(data) == 0 {
		return false
	}
	return uuid == "" || bytes.Contains(data, []byte(uuid))
}

// Active is neutron's ProcessManager.active, zombie-aware: the pid from
// pidFile, and whether that process is alive, not a zombie, and has uuid in
// its command line. pid is 0 when the pid file is missing or malformed.
func Active(pidFile, uuid string) (pid int, ok bool) {
	pid, err := ReadPidFile(pidFile)
	if err != nil {
		return 0, false
	}
	return pid, Alive(pid, uuid)
}
