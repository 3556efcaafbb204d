package devicemanager

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"qdhcp/dhcpagent/config"
	"qdhcp/model"
)

func useVeth(c *config.Config) { c.OVSUseVeth = true }

// rootLink returns the device of the root namespace (nil when absent).
func rootLink(t *testing.T, name string) netlink.Link {
	t.Helper()
	root, err := rootHandle()
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	l, err := linkByName(root, name)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// With ovs_use_veth the DHCP device is the namespace end ns-... of a veth
// pair made in place; the root end tap... is a system port on br-int.
func TestVethSetupConnectivityAndDestroy(t *testing.T) {
	skipUnlessRoot(t)
	m, _ := newRootManager(t, useVeth)
	tn := newTestNet(t, m.IPv6Enabled(), 1400)
	dev := setup(t, m, tn)
	tap := model.DeviceName("tap", tn.port.ID)
	if !strings.HasPrefix(dev, "ns-") || len(dev) != 14 {
		t.Fatalf("device %q, want ns-<port id[:11]>", dev)
	}
	ctx := context.Background()

	h, l := nsLink(t, tn.net.ID, dev)
	a := l.Attrs()
	if l.Type() != "veth" || a.HardwareAddr.String() != tn.port.MACAddress || a.MTU != 1400 || !hasCarrier(l) {
		t.Fatalf("namespace end %s: type %s mac %s mtu %d flags %v", dev, l.Type(), a.HardwareAddr, a.MTU, a.RawFlags)
	}
	if got := addrSet(t, h, l); len(got) == 0 || got[0].Addr().String() != tn.port.FixedIPs[0].IPAddress {
		t.Fatalf("addresses %v", got)
	}
	if gw := defaultGateway(t, h, l, 4); gw.String() != tn.net.Subnets[0].GatewayIP {
		t.Fatalf("IPv4 default via %v", gw)
	}
	if n := countRule(t, NamespaceName(tn.net.ID), "ipv4", checksumV4); n != 1 {
		t.Fatalf("IPv4 checksum rule %d times (veth replies need it, quirk 6)", n)
	}
	if stray, _ := linkByName(h, tap); stray != nil {
		t.Fatalf("%s inside the namespace", tap)
	}

	r := rootLink(t, tap)
	if r == nil {
		t.Fatalf("root end %s missing", tap)
	}
	if r.Type() != "veth" || r.Attrs().MTU != 1400 || r.Attrs().RawFlags&0x1 == 0 {
		t.Fatalf("root end %s: type %s mtu %d flags %#x", tap, r.Type(), r.Attrs().MTU, r.Attrs().RawFlags)
	}
	if rootLink(t, dev) != nil {
		t.Fatalf("%s in the root namespace", dev)
	}
	if m.IPv6Enabled() {
		if v, err := os.ReadFile("/proc/sys/net/ipv6/conf/" + tap + "/disable_ipv6"); err != nil || strings.TrimSpace(string(v)) != "1" {
			t.Fatalf("disable_ipv6 on %s = %q (%v)", tap, v, err)
		}
	}

	ports, ifaces := ovsRows(t, m, tap)
	if len(ports) != 1 || len(ifaces) != 1 {
		t.Fatalf("OVS rows for %s: %d ports, %d interfaces", tap, len(ports), len(ifaces))
	}
	ext := ifaces[0].ExternalIDs
	if ifaces[0].Type != "" || ext["iface-id"] != tn.port.ID || ext["iface-status"] != "active" || ext["attached-mac"] != tn.port.MACAddress {
		t.Fatalf("interface row %+v", ifaces[0])
	}
	if p, i := ovsRows(t, m, dev); len(p)+len(i) != 0 {
		t.Fatalf("OVS rows named %s", dev)
	}
	if hl, err := m.Check(ctx, tn.net, tn.port); err != nil || !hl.Healthy {
		t.Fatalf("Check after Setup: %+v %v", hl, err)
	}

	// a second Setup keeps the pair
	index := l.Attrs().Index
	setup(t, m, tn)
	if _, l2 := nsLink(t, tn.net.ID, dev); l2.Attrs().Index != index {
		t.Fatalf("second Setup replaced %s", dev)
	}

	// traffic through the bridge, from an internal-port client
	mi, _ := newRootManager(t, nil)
	client := clientOf(t, tn)
	setup(t, mi, client)
	cns := NamespaceName(client.net.ID)
	for _, f := range tn.port.FixedIPs {
		if d, err := pingWithin(cns, f.Addr(), 5*time.Second); err != nil {
			t.Fatalf("DHCP port unreachable: %v", err)
		} else {
			t.Logf("ping %s through the veth answered after %v", f.IPAddress, d)
		}
	}

	// the OVS port goes, the veth stays: Check notices, Repair re-adds it
	if _, err := m.ovs.deletePort(ctx, tap); err != nil {
		t.Fatal(err)
	}
	if hl, err := m.Check(ctx, tn.net, tn.port); err != nil || hl.Healthy {
		t.Fatalf("Check without the OVS port: %+v %v", hl, err)
	}
	if repaired, err := m.Repair(ctx, tn.net, tn.port); err != nil || !repaired {
		t.Fatalf("Repair: %v %v", repaired, err)
	}
	if _, err := pingWithin(cns, tn.port.FixedIPs[0].Addr(), 5*time.Second); err != nil {
		t.Fatalf("after Repair: %v", err)
	}

	// the root end loses its name (ovs-vswitchd can no longer open it):
	// Check notices, Repair makes a new pair and re-adds the port
	renamed := "qdtv" + tap[3:13]
	t.Cleanup(func() { _ = deleteRootLink(renamed) })
	if r := rootLink(t, tap); r == nil {
		t.Fatal("root end gone")
	} else {
		root, _ := rootHandle()
		err := root.LinkSetDown(r)
		if err == nil {
			err = root.LinkSetName(r, renamed)
		}
		if err == nil {
			err = root.LinkSetUp(r)
		}
		root.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	if hl, err := m.Check(ctx, tn.net, tn.port); err != nil || hl.Healthy {
		t.Fatalf("Check with the root end renamed: %+v %v", hl, err)
	} else {
		t.Logf("unhealthy: %s", hl.Reason)
	}
	if repaired, err := m.Repair(ctx, tn.net, tn.port); err != nil || !repaired {
		t.Fatalf("Repair: %v %v", repaired, err)
	}
	if rootLink(t, renamed) != nil {
		t.Fatalf("old root end %s left", renamed)
	}
	if _, err := pingWithin(cns, tn.port.FixedIPs[0].Addr(), 5*time.Second); err != nil {
		t.Fatalf("after Repair: %v", err)
	}
	if hl, err := m.Check(ctx, tn.net, tn.port); err != nil || !hl.Healthy {
		t.Fatalf("Check after Repair: %+v %v", hl, err)
	}

	if err := m.Destroy(ctx, tn.net.ID, dev, nil); err != nil {
		t.Fatal(err)
	}
	if namespaceExists(NamespaceName(tn.net.ID)) {
		t.Fatal("namespace left")
	}
	if p, i := ovsRows(t, m, tap); len(p)+len(i) != 0 {
		t.Fatalf("OVS rows left: %d ports, %d interfaces", len(p), len(i))
	}
	if rootLink(t, tap) != nil {
		t.Fatalf("root end %s left", tap)
	}
}

// An operator switching ovs_use_veth keeps the network: the device of the
// other flavour is replaced, the OVS port (same name, tap...) kept or
// retyped, never deleted from under the new device.
func TestSwitchBetweenInternalAndVeth(t *testing.T) {
	skipUnlessRoot(t)
	mi, _ := newRootManager(t, nil)
	mv, _ := newRootManager(t, useVeth)
	tn := newTestNet(t, false, 1450)
	tap := setup(t, mi, tn)
	client := clientOf(t, tn)
	setup(t, mi, client)
	cns := NamespaceName(client.net.ID)
	addr := tn.port.FixedIPs[0].Addr()

	for i, step := range []struct {
		m        *Manager
		dev, typ string
	}{{mv, "ns-" + tap[3:], ""}, {mi, tap, "internal"}} {
		dev := setup(t, step.m, tn)
		if dev != step.dev {
			t.Fatalf("step %d: device %s, want %s", i, dev, step.dev)
		}
		h, l := nsLink(t, tn.net.ID, dev)
		links, err := h.LinkList()
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, x := range links {
			names = append(names, x.Attrs().Name)
		}
		if len(names) != 2 || !hasCarrier(l) {
			t.Fatalf("step %d: devices in the namespace %v, carrier %v", i, names, hasCarrier(l))
		}
		_, ifaces := ovsRows(t, step.m, tap)
		if len(ifaces) != 1 || ifaces[0].Type != step.typ {
			t.Fatalf("step %d: OVS interface %s rows %+v, want type %q", i, tap, ifaces, step.typ)
		}
		if _, err := pingWithin(cns, addr, 5*time.Second); err != nil {
			t.Fatalf("step %d (%s): %v", i, dev, err)
		}
	}
}
