package driver_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"qdhcp/internal/testnet"
	"qdhcp/model"
	"qdhcp/source/memory"
)

// TestDHCPv6StatefulLease: a real dhclient -6 in a client namespace gets
// its port's address from a dhcpv6-stateful subnet.
func TestDHCPv6StatefulLease(t *testing.T) {
	testnet.RequireRoot(t)
	if _, err := exec.LookPath("dhclient"); err != nil {
		t.Skip("dhclient not installed")
	}
	const netID = "e2e00006-0000-4000-8000-000000000006"
	const v4ID = "e2e00006-5b00-4000-8000-000000000004"
	const v6ID = "e2e00006-5b00-4000-8000-000000000006"
	conf := e2eConf(t)
	server := memory.New(host)
	net := e2eNetwork(netID, v4ID, 95)
	net.Subnets = append(net.Subnets, &model.Subnet{ID: v6ID, IPVersion: 6, CIDR: "fd00:95::/64", EnableDHCP: true,
		GatewayIP: "fd00:95::1", IPv6AddressMode: model.IPv6ModeDHCPv6Stateful, IPv6RAMode: model.IPv6ModeDHCPv6Stateful,
		AllocationPools: []model.AllocPool{{Start: "fd00:95::2", End: "fd00:95::ffff"}}})
	net.Ports[0].FixedIPs = append(net.Ports[0].FixedIPs, model.FixedIP{SubnetID: v6ID, IPAddress: "fd00:95::10"})
	enableServed(t, conf, server, net)
	ctx := context.Background()
	client := testnet.NewClient(t, "qe2e-vm95", "qe2evm95", net.Ports[0].MACAddress)

	dir := t.TempDir()
	script := filepath.Join(dir, "dhclient-script")
	if err := os.WriteFile(script, []byte("#!/bin/sh\n# private hook: print, configure nothing\n"+
		"[ -n \"$new_ip6_address\" ] && echo \"lease6 $reason $new_ip6_address\"\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	// the client's link-local address must have finished DAD before it solicits
	time.Sleep(2500 * time.Millisecond)
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(cctx, "ip", "netns", "exec", client.NS, "dhclient", "-6", "-1", "-v",
		"-sf", script, "-lf", filepath.Join(dir, "leases"), "-pf", filepath.Join(dir, "pid"), client.Dev)
	out, err := cmd.CombinedOutput()
	t.Cleanup(func() {
		if b, err := os.ReadFile(filepath.Join(dir, "pid")); err == nil {
			_ = exec.Command("kill", strings.TrimSpace(string(b))).Run()
		}
	})
	if err != nil || !strings.Contains(string(out), "lease6 BOUND6 fd00:95::10") {
		t.Fatalf("dhclient -6: %v\n%s", err, out)
	}
}
