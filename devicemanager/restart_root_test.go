package devicemanager

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"qdhcp/internal/testnet"
)

// TestOVSRestartRepair restarts ovs-vswitchd (quirk 3: the namespaced taps
// are orphaned, new ones appear in the root namespace) and checks that
// Check notices and Repair brings the DHCP port back: a client namespace on
// br-int pings it again within 5 s of the repair starting. It disturbs every
// other user of OVS on the machine for a moment, hence the opt-in.
func TestOVSRestartRepair(t *testing.T) {
	skipUnlessRoot(t)
	if os.Getenv("QDHCP_OVS_RESTART_TEST") != "1" {
		t.Skip("restarts ovs-vswitchd: set QDHCP_OVS_RESTART_TEST=1")
	}
	m, _ := newRootManager(t, nil)
	tn := newTestNet(t, false, 1450)
	dev := setup(t, m, tn)
	client := clientOf(t, tn)
	setup(t, m, client)
	cns := NamespaceName(client.net.ID)
	target := tn.port.FixedIPs[0].Addr()
	if _, err := pingWithin(cns, target, 5*time.Second); err != nil {
		t.Fatalf("before the restart: %v", err)
	}

	t.Cleanup(func() { testnet.StartVswitchd(t) }) // never leave OVS down
	testnet.StopVswitchd(t)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// the tap loses its carrier once the exiting daemon's last thread has
	// closed it, a moment after the process looks gone
	var hl Health
	var err error
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if hl, err = m.Check(ctx, tn.net, tn.port); err != nil {
			t.Fatal(err)
		}
		if !hl.Healthy {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Check sees %s healthy 5 s after ovs-vswitchd stopped", dev)
		}
	}
	t.Logf("ovs-vswitchd stopped: %s", hl.Reason)
	// a repair attempt while ovs-vswitchd is down fails but keeps the OVS
	// port, so the restarted daemon recreates the tap
	short, cancelShort := context.WithTimeout(ctx, 300*time.Millisecond)
	if _, err := m.Repair(short, tn.net, tn.port); err == nil || errors.Is(err, ErrPlug) {
		t.Fatalf("Repair with ovs-vswitchd down: %v", err)
	}
	cancelShort()
	if ports, _ := ovsRows(t, m, dev); len(ports) != 1 {
		t.Fatal("failed repair removed the OVS port")
	}

	testnet.StartVswitchd(t)
	if hl, err = m.Check(ctx, tn.net, tn.port); err != nil || hl.Healthy {
		t.Fatalf("Check after the restart: %+v %v", hl, err)
	}
	t.Logf("after restart: %s", hl.Reason)

	start := time.Now()
	for _, n := range []*testNet{tn, client} {
		repaired, err := m.Repair(ctx, n.net, n.port)
		if err != nil || !repaired {
			t.Fatalf("Repair %s: %v %v", n.net.ID, repaired, err)
		}
	}
	repairTook := time.Since(start)
	if _, err := pingWithin(cns, target, 5*time.Second-repairTook); err != nil {
		t.Fatalf("no answer within 5 s of the repair: %v", err)
	}
	t.Logf("repair of both ports took %v; DHCP port answered ping %v after the repair started", repairTook, time.Since(start))
	for _, n := range []*testNet{tn, client} {
		if hl, err := m.Check(ctx, n.net, n.port); err != nil || !hl.Healthy {
			t.Fatalf("Check after Repair: %+v %v", hl, err)
		}
	}
}

// A veth (ovs_use_veth) outlives an ovs-vswitchd restart: the daemon opens
// its root end again from the database, Check stays healthy and traffic
// flows again without a repair.
func TestOVSRestartKeepsVeth(t *testing.T) {
	skipUnlessRoot(t)
	if os.Getenv("QDHCP_OVS_RESTART_TEST") != "1" {
		t.Skip("restarts ovs-vswitchd: set QDHCP_OVS_RESTART_TEST=1")
	}
	mv, _ := newRootManager(t, useVeth)
	mi, _ := newRootManager(t, nil)
	tn := newTestNet(t, false, 1450)
	dev := setup(t, mv, tn)
	client := clientOf(t, tn)
	setup(t, mi, client)
	cns := NamespaceName(client.net.ID)
	target := tn.port.FixedIPs[0].Addr()
	if _, err := pingWithin(cns, target, 5*time.Second); err != nil {
		t.Fatalf("before the restart: %v", err)
	}
	_, l := nsLink(t, tn.net.ID, dev)
	index := l.Attrs().Index

	t.Cleanup(func() { testnet.StartVswitchd(t) }) // never leave OVS down
	testnet.StopVswitchd(t)
	testnet.StartVswitchd(t)
	// the client's internal port needs its repair; the veth does not
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := mi.Repair(ctx, client.net, client.port); err != nil {
		t.Fatal(err)
	}
	if d, err := pingWithin(cns, target, 5*time.Second); err != nil {
		t.Fatalf("veth after the restart: %v", err)
	} else {
		t.Logf("veth answered %v after the client's repair", d)
	}
	if hl, err := mv.Check(ctx, tn.net, tn.port); err != nil || !hl.Healthy {
		t.Fatalf("Check of the veth after the restart: %+v %v", hl, err)
	}
	if repaired, err := mv.Repair(ctx, tn.net, tn.port); err != nil || repaired {
		t.Fatalf("Repair of a healthy veth: %v %v", repaired, err)
	}
	if _, l := nsLink(t, tn.net.ID, dev); l.Attrs().Index != index {
		t.Fatalf("%s was replaced", dev)
	}
}
