package driver_test

import (
	"context"
	"log/slog"
	"net/netip"
	"sync"
	"testing"
	"time"

	"qdhcp/devicemanager"
	"qdhcp/dnsmasq/driver"
	"qdhcp/internal/testnet"
	"qdhcp/procmon"
	"qdhcp/source/memory"
)

// gatedDevices is the real device manager whose WaitAddressReady first
// waits for the test to open its gate: duplicate address detection that
// takes as long as the test wants.
type gatedDevices struct {
	*devicemanager.Manager
	mu      sync.Mutex
	gate    chan struct{}
	waiting chan struct{} // closed when a wait is at the gate
}

func (g *gatedDevices) close() chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.gate, g.waiting = make(chan struct{}), make(chan struct{})
	return g.gate
}

func (g *gatedDevices) WaitAddressReady(ctx context.Context, networkID, devName string, addr netip.Addr) error {
	g.mu.Lock()
	gate, waiting := g.gate, g.waiting
	g.mu.Unlock()
	close(waiting)
	select {
	case <-gate:
	case <-ctx.Done():
		return ctx.Err()
	}
	return g.Manager.WaitAddressReady(ctx, networkID, devName, addr)
}

// A proxy that binds fe80::a9fe:a9fe is started in the background once the
// address is usable: Enable returns with dnsmasq serving while the address
// is still tentative, haproxy follows once it is not, and a Disable meanwhile
// leaves no haproxy behind.
func TestMetadataProxyWaitsForDADInBackground(t *testing.T) {
	testnet.RequireRoot(t)
	const netID = "e2e0000a-0000-4000-8000-000000000175"
	const subnetID = "e2e0000a-5b00-4000-8000-000000000175"
	conf := metadataConf(t)
	newMetadataStub(t, conf.MetadataProxySocket)
	server := memory.New(host)
	server.Put(e2eNetwork(netID, subnetID, 175))
	backstop(t, conf, netID, netID)
	r := newRig(t, conf, server)
	if !r.dev.IPv6Enabled() {
		t.Skip("kernel without IPv6: the proxy binds no IPv6 address")
	}
	g := &gatedDevices{Manager: r.dev}
	log := slog.New(slog.NewTextHandler(testWriter{t}, nil))
	drv := driver.New(conf, server, g, r.mon, driver.Options{Logger: log})
	t.Cleanup(func() {
		if err := drv.Disable(context.Background(), netID, false); err != nil {
			t.Logf("cleanup disable: %v", err)
		}
	})
	ctx := context.Background()
	pidFile, _ := proxyFiles(conf, netID)
	settle := func() {
		t.Helper()
		wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		if err := drv.WaitMetadataProxy(wctx, netID); err != nil {
			t.Fatalf("proxy update still pending: %v", err)
		}
	}

	gate := g.close()
	n, _ := server.GetNetworkInfo(ctx, netID)
	if err := drv.Enable(ctx, n); err != nil {
		t.Fatal(err)
	}
	<-g.waiting
	dnsmasqPid(t, conf, netID)
	if pid, ok := procmon.Active(pidFile, netID); ok {
		t.Fatalf("haproxy %d started before its address was usable", pid)
	}
	close(gate)
	settle()
	pid, ok := procmon.Active(pidFile, netID)
	if !ok || !r.mon.Registered(netID, driver.ServiceHaproxy) {
		t.Fatalf("no supervised haproxy once the address was usable (pid %d)", pid)
	}

	// the address settled: a reload updates the proxy at once, nothing
	// waits in the background (the gate, closed again, would hold it)
	gate = g.close()
	n, _ = server.GetNetworkInfo(ctx, netID)
	if err := drv.ReloadAllocations(ctx, n); err != nil {
		t.Fatal(err)
	}
	done, cancel := context.WithCancel(ctx)
	cancel()
	if err := drv.WaitMetadataProxy(done, netID); err != nil {
		t.Fatalf("a reload with the address settled left an update waiting: %v", err)
	}
	if now, ok := procmon.Active(pidFile, netID); !ok || now != pid {
		t.Fatalf("haproxy %d after the reload, want %d kept", now, pid)
	}
	close(gate)

	// torn down while a proxy update waits: nothing starts afterwards
	if err := drv.Disable(ctx, netID, false); err != nil {
		t.Fatal(err)
	}
	gate = g.close()
	n, _ = server.GetNetworkInfo(ctx, netID)
	if err := drv.Enable(ctx, n); err != nil {
		t.Fatal(err)
	}
	<-g.waiting
	if err := drv.Disable(ctx, netID, false); err != nil {
		t.Fatal(err)
	}
	close(gate)
	settle()
	time.Sleep(100 * time.Millisecond) // a wrongly started haproxy writes its pid file by now
	if pid, ok := procmon.Active(pidFile, netID); ok {
		t.Fatalf("haproxy %d started for a network torn down meanwhile", pid)
	}
	if r.mon.Registered(netID, driver.ServiceHaproxy) {
		t.Fatal("haproxy registered for a network torn down meanwhile")
	}
}
