package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"syscall"
	"time"

	"github.com/vishvananda/netns"

	"qdhcp/procmon"
)

// floor is the floor scenario: per network, the bare cost of what no DHCP
// agent can avoid — a new named network namespace and a dnsmasq with a
// trivial configuration started in it (procmon.Daemon) until its pid file
// names a live process. Measured serially, N times; the cold sync is
// compared with N × that.
func (e *benchEnv) floor(ctx context.Context) (res benchResult, err error) {
	dir := filepath.Join(e.root, "floor")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	record, err := os.OpenFile(filepath.Join(dir, "namespaces"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	var made []string
	var pids []int
	defer func() {
		record.Close()
		var errs []error
		for _, pid := range pids {
			errs = append(errs, procmon.Signal(pid, syscall.SIGKILL))
		}
		for _, ns := range made {
			errs = append(errs, deleteBenchNamespace(ns))
		}
		errs = append(errs, os.RemoveAll(dir))
		if cerr := errors.Join(errs...); cerr != nil && err == nil {
			err = fmt.Errorf("floor cleanup: %w", cerr)
		}
	}()

	cpu := takeCPU()
	n := e.f.networks
	per := make([]time.Duration, 0, n)
	var total time.Duration
	for i := 0; i < n; i++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		ns := fmt.Sprintf("qbench-floor-%04x-%d", e.run, i)
		sub := filepath.Join(dir, strconv.Itoa(i))
		if err := os.MkdirAll(sub, 0o755); err != nil {
			return nil, err
		}
		if _, err := fmt.Fprintln(record, ns); err != nil {
			return nil, err
		}
		pidFile := filepath.Join(sub, "pid")
		argv := []string{"dnsmasq", "--no-hosts", "--no-resolv", "--pid-file=" + pidFile,
			"--dhcp-leasefile=" + filepath.Join(sub, "leases"), "--conf-file=/dev/null",
			"--bind-dynamic", "--interface=lo",
			fmt.Sprintf("--dhcp-range=10.%d.%d.0,static,255.255.255.0,86400s", 64+i/256, i%256)}

		start := time.Now()
		if err := createBenchNamespace(ns); err != nil {
			return nil, err
		}
		made = append(made, ns)
		if err := procmon.Daemon(ctx, ns, argv); err != nil {
			return nil, err
		}
		pid, ok := procmon.Active(pidFile, sub)
		for deadline := time.Now().Add(5 * time.Second); !ok && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond)
			pid, ok = procmon.Active(pidFile, sub)
		}
		d := time.Since(start)
		if pid > 0 {
			pids = append(pids, pid)
		}
		if !ok {
			return nil, fmt.Errorf("floor dnsmasq %d did not come up", i)
		}
		per = append(per, d)
		total += d
	}
	slices.Sort(per)
	defer func() { cpu.add(res) }()
	return benchResult{
		"networks":       n,
		"seconds":        round3(total.Seconds()),
		"per_network_ms": ms(total / time.Duration(n)),
		"median_ms":      ms(per[len(per)/2]),
		"p95_ms":         ms(per[len(per)*95/100]),
		"what":           "serial: netns create + dnsmasq (trivial config) spawned until its pid file names it",
	}, nil
}

// createBenchNamespace creates a named network namespace on a throw-away
// thread (the thread that unshared is left locked and dies with its
// goroutine, so no other goroutine runs in the new namespace).
func createBenchNamespace(name string) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		h, err := netns.NewNamed(name)
		if err == nil {
			h.Close()
		}
		errc <- err
	}()
	if err := <-errc; err != nil {
		return fmt.Errorf("create namespace %s: %w", name, err)
	}
	return nil
}

// deleteBenchNamespace unmounts and removes a named namespace.
func deleteBenchNamespace(name string) error {
	if err := netns.DeleteNamed(name); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("delete namespace %s: %w", name, err)
	}
	return nil
}
