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

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"qdhcp/procmon"
)

// floor is the floor scenario: per network, the bare cost of what no DHCP
// agent can avoid — a new named network namespace and a dnsmasq with a
// trivial configuration started in it (procmon.Daemon) until its pid file
// names a live process. Measured serially, N times; the cold sync is
// compared with N × that.
//
// Apart from that sum, and after it, each network's namespace also gets
// one device moved into it (a veth end made in a scratch namespace), timed
// alone: the cost an OVS internal port adds to every network, which the
// kernel serialises (floor_with_move_seconds is the sum of both).
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
	moves := make([]time.Duration, 0, n)
	var total, moved time.Duration
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
	// the moves come after (and apart from) the floor proper: devices made
	// in a scratch namespace of their own, so that nothing in the root
	// namespace (ovs-vswitchd watches it) reacts to them
	scratch := fmt.Sprintf("qbench-floor-%04x-mv", e.run)
	if _, err := fmt.Fprintln(record, scratch); err != nil {
		return nil, err
	}
	if err := createBenchNamespace(scratch); err != nil {
		return nil, err
	}
	made = append(made, scratch)
	sh, err := benchHandle(scratch)
	if err != nil {
		return nil, err
	}
	defer sh.Close()
	for i, ns := range made[:n] {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		mv, err := timeDeviceMove(sh, fmt.Sprintf("qbm%d", i), ns)
		if err != nil {
			return nil, err
		}
		moves = append(moves, mv)
		moved += mv
	}
	slices.Sort(per)
	slices.Sort(moves)
	defer func() { cpu.add(res) }()
	return benchResult{
		"networks":       n,
		"seconds":        round3(total.Seconds()),
		"per_network_ms": ms(total / time.Duration(n)),
		"median_ms":      ms(per[len(per)/2]),
		"p95_ms":         ms(per[len(per)*95/100]),
		"what":           "serial: netns create + dnsmasq (trivial config) spawned until its pid file names it",

		"device_move_median_ms":   ms(moves[len(moves)/2]),
		"device_move_p95_ms":      ms(moves[len(moves)*95/100]),
		"floor_with_move_seconds": round3((total + moved).Seconds()),
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

// benchHandle is a netlink handle in the named namespace.
func benchHandle(ns string) (*netlink.Handle, error) {
	fd, err := netns.GetFromName(ns)
	if err != nil {
		return nil, fmt.Errorf("open namespace %s: %w", ns, err)
	}
	defer fd.Close()
	h, err := netlink.NewHandleAt(fd)
	if err != nil {
		return nil, fmt.Errorf("netlink in %s: %w", ns, err)
	}
	return h, nil
}

// timeDeviceMove makes a veth pair in the scratch namespace of h and times
// moving its peer into the namespace ns (where it stays until the
// namespaces go).
func timeDeviceMove(h *netlink.Handle, link, ns string) (time.Duration, error) {
	veth := netlink.NewVeth(netlink.LinkAttrs{Name: link})
	veth.PeerName = link + "p"
	if err := h.LinkAdd(veth); err != nil {
		return 0, fmt.Errorf("floor veth %s: %w", link, err)
	}
	peer, err := h.LinkByName(veth.PeerName)
	if err != nil {
		return 0, fmt.Errorf("floor veth %s: %w", veth.PeerName, err)
	}
	fd, err := netns.GetFromName(ns)
	if err != nil {
		return 0, fmt.Errorf("open namespace %s: %w", ns, err)
	}
	defer fd.Close()
	start := time.Now()
	if err := h.LinkSetNsFd(peer, int(fd)); err != nil {
		return 0, fmt.Errorf("move %s into %s: %w", veth.PeerName, ns, err)
	}
	return time.Since(start), nil
}
