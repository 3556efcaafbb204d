package main

import (
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// cpuSnap is where CPU time went, for a scenario's line: this process,
// its waited-for children (iptables, dnsmasq's starting parent, ...), the
// OVS daemons, and the whole machine (other load shows there).
type cpuSnap struct {
	self, children, vswitchd, ovsdb, machineBusy time.Duration
}

const clockTick = 10 * time.Millisecond // USER_HZ 100

func takeCPU() cpuSnap {
	var s cpuSnap
	var ru unix.Rusage
	if unix.Getrusage(unix.RUSAGE_SELF, &ru) == nil {
		s.self = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	if unix.Getrusage(unix.RUSAGE_CHILDREN, &ru) == nil {
		s.children = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	s.vswitchd = pidFileCPU("/var/run/openvswitch/ovs-vswitchd.pid")
	s.ovsdb = pidFileCPU("/var/run/openvswitch/ovsdb-server.pid")
	if b, err := os.ReadFile("/proc/stat"); err == nil {
		line, _, _ := strings.Cut(string(b), "\n")
		f := strings.Fields(line)
		// cpu user nice system idle iowait irq softirq steal ...
		for i := 1; i < len(f) && i <= 8; i++ { // guest time is in user already
			if i == 4 || i == 5 {
				continue
			}
			n, _ := strconv.ParseInt(f[i], 10, 64)
			s.machineBusy += time.Duration(n) * clockTick
		}
	}
	return s
}

// pidFileCPU is the user+system time of the process a pid file names.
func pidFileCPU(path string) time.Duration {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	st, err := os.ReadFile("/proc/" + strings.TrimSpace(string(b)) + "/stat")
	if err != nil {
		return 0
	}
	s := string(st)
	if i := strings.LastIndexByte(s, ')'); i >= 0 {
		s = s[i+1:]
	}
	f := strings.Fields(s) // f[0] is the state (field 3); utime is field 14
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	k, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+k) * clockTick
}

// add puts the CPU seconds used since before into r.
func (before cpuSnap) add(r benchResult) {
	if r == nil {
		return
	}
	now := takeCPU()
	r["cpu_self_s"] = round3((now.self - before.self).Seconds())
	r["cpu_children_s"] = round3((now.children - before.children).Seconds())
	r["cpu_ovs_vswitchd_s"] = round3((now.vswitchd - before.vswitchd).Seconds())
	r["cpu_ovsdb_server_s"] = round3((now.ovsdb - before.ovsdb).Seconds())
	r["cpu_machine_s"] = round3((now.machineBusy - before.machineBusy).Seconds())
}

// loadAvg is the 1-minute load average (other work on the machine skews
// every figure; it is printed with them).
func loadAvg() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return -1
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return -1
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}
