package devicemanager

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"qdhcp/dhcpagent/config"
	"qdhcp/model"
)

var checksumV4 = "-A POSTROUTING -p udp -m udp --dport 68 -j CHECKSUM --checksum-fill"
var checksumV6 = "-A POSTROUTING -p udp -m udp --dport 546 -j CHECKSUM --checksum-fill"

func countRule(t *testing.T, ns, family, rule string) int {
	t.Helper()
	rules, err := listRules(ns, family, "mangle", "POSTROUTING")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, r := range rules {
		if r == rule {
			n++
		}
	}
	return n
}

func defaultGateway(t *testing.T, h *netlink.Handle, l netlink.Link, v int) netip.Addr {
	t.Helper()
	gw, err := currentGateway(h, l, v)
	if err != nil {
		t.Fatal(err)
	}
	return gw
}

func TestSetupRealDevice(t *testing.T) {
	skipUnlessRoot(t)
	m, _ := newRootManager(t, func(c *config.Config) { c.ForceMetadata = true })
	if !m.IPv6Enabled() {
		t.Skip("kernel without IPv6")
	}
	tn := newTestNet(t, true, 1400)
	dev := setup(t, m, tn)
	ns := NamespaceName(tn.net.ID)

	if _, err := os.Stat("/var/run/netns/" + ns); err != nil || !namespaceExists(ns) {
		t.Fatalf("namespace %s not visible to ip netns: %v", ns, err)
	}
	h, l := nsLink(t, tn.net.ID, dev)
	if _, lo := nsLink(t, tn.net.ID, "lo"); lo.Attrs().RawFlags&unix.IFF_UP == 0 {
		t.Fatal("lo down in the namespace")
	}
	a := l.Attrs()
	if a.HardwareAddr.String() != tn.port.MACAddress || a.MTU != 1400 || !hasCarrier(l) {
		t.Fatalf("device %s: mac %s mtu %d flags %v", dev, a.HardwareAddr, a.MTU, a.RawFlags)
	}
	if root, _ := rootHandle(); root != nil {
		if l, _ := linkByName(root, dev); l != nil {
			t.Fatalf("%s still in the root namespace", dev)
		}
		root.Close()
	}

	// addresses: the port's IPs with their prefix and both metadata addresses
	want := sortedPrefixes([]netip.Prefix{
		netip.MustParsePrefix(tn.port.FixedIPs[0].IPAddress + "/24"),
		netip.MustParsePrefix(tn.port.FixedIPs[1].IPAddress + "/64"),
		netip.MustParsePrefix("169.254.169.254/32"),
		netip.MustParsePrefix("fe80::a9fe:a9fe/64"),
	})
	if got := addrSet(t, h, l); !reflect.DeepEqual(got, want) {
		t.Fatalf("addresses %v, want %v", got, want)
	}
	if gw := defaultGateway(t, h, l, 4); gw.String() != tn.net.Subnets[0].GatewayIP {
		t.Fatalf("IPv4 default via %v", gw)
	}
	if gw := defaultGateway(t, h, l, 6); gw.String() != tn.net.Subnets[1].GatewayIP {
		t.Fatalf("IPv6 default via %v", gw)
	}

	if n := countRule(t, ns, "ipv4", checksumV4); n != 1 {
		t.Fatalf("IPv4 checksum rule %d times", n)
	}
	if n := countRule(t, ns, "ipv6", checksumV6); n != 1 {
		t.Fatalf("IPv6 checksum rule %d times", n)
	}
	for key, want := range map[string]string{"net.ipv4.ip_nonlocal_bind": "1", "net.ipv6.conf.default.accept_ra": "0"} {
		if v, err := readSysctl(ns, key); err != nil || v != want {
			t.Fatalf("%s = %q (%v), want %s", key, v, err, want)
		}
	}

	ports, ifaces := ovsRows(t, m, dev)
	if len(ports) != 1 || len(ifaces) != 1 {
		t.Fatalf("OVS rows: %d ports, %d interfaces", len(ports), len(ifaces))
	}
	ext := ifaces[0].ExternalIDs
	if ifaces[0].Type != "internal" || ext["iface-id"] != tn.port.ID || ext["iface-status"] != "active" || ext["attached-mac"] != tn.port.MACAddress {
		t.Fatalf("interface row %+v", ifaces[0])
	}
	c, _ := m.ovs.client(context.Background())
	have, err := m.ovs.lookupPort(context.Background(), c, dev)
	if err != nil || have == nil || len(have.bridges) != 1 || have.bridges[0].Name != "br-int" {
		t.Fatalf("port not on br-int: %+v %v", have, err)
	}
	if hl, err := m.Check(context.Background(), tn.net, tn.port); err != nil || !hl.Healthy {
		t.Fatalf("Check after Setup: %+v %v", hl, err)
	}
}

func TestSetupIdempotent(t *testing.T) {
	skipUnlessRoot(t)
	m, _ := newRootManager(t, nil)
	tn := newTestNet(t, false, 1450)
	dev := setup(t, m, tn)
	ns := NamespaceName(tn.net.ID)
	_, l := nsLink(t, tn.net.ID, dev)
	index := l.Attrs().Index

	// a second Setup reuses everything
	if _, err := m.Setup(context.Background(), tn.net, tn.port); err != nil {
		t.Fatal(err)
	}
	_, l = nsLink(t, tn.net.ID, dev)
	if l.Attrs().Index != index {
		t.Fatal("second Setup re-plugged a ready device")
	}
	ports, ifaces := ovsRows(t, m, dev)
	if len(ports) != 1 || len(ifaces) != 1 || countRule(t, ns, "ipv4", checksumV4) != 1 {
		t.Fatalf("after 2nd Setup: %d ports, %d interfaces, rule x%d", len(ports), len(ifaces), countRule(t, ns, "ipv4", checksumV4))
	}

	// the device vanishes (deleted behind our back): its OVS row is stale,
	// Setup must recreate the port and not duplicate rows or rules
	h, l := nsLink(t, tn.net.ID, dev)
	if err := h.LinkDel(l); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Setup(context.Background(), tn.net, tn.port); err != nil {
		t.Fatalf("Setup after the device vanished: %v", err)
	}
	_, l = nsLink(t, tn.net.ID, dev)
	if !hasCarrier(l) || l.Attrs().HardwareAddr.String() != tn.port.MACAddress {
		t.Fatalf("re-plugged device: flags %v mac %s", l.Attrs().RawFlags, l.Attrs().HardwareAddr)
	}
	ports, ifaces = ovsRows(t, m, dev)
	if len(ports) != 1 || len(ifaces) != 1 {
		t.Fatalf("after re-plug: %d ports, %d interfaces", len(ports), len(ifaces))
	}
	if n := countRule(t, ns, "ipv4", checksumV4); n != 1 {
		t.Fatalf("IPv4 checksum rule %d times after re-plug", n)
	}
}

func TestOnLinkGatewayAndUpdate(t *testing.T) {
	skipUnlessRoot(t)
	m, _ := newRootManager(t, nil)
	tn := newTestNet(t, false, 0)
	sub := tn.net.Subnets[0]
	base := strings.TrimSuffix(sub.CIDR, ".0/24")
	outside := "100.73.250.1"
	sub.GatewayIP = outside
	dev := setup(t, m, tn)
	h, l := nsLink(t, tn.net.ID, dev)

	gw := netip.MustParseAddr(outside)
	if ok, err := hasHostRoute(h, l, gw); err != nil || !ok {
		t.Fatalf("no on-link route to %s (%v)", gw, err)
	}
	if got := defaultGateway(t, h, l, 4); got != gw {
		t.Fatalf("default via %v, want %v", got, gw)
	}

	// gateway moves into the subnet: the on-link route goes, default follows
	sub.GatewayIP = base + ".1"
	if err := m.Update(context.Background(), tn.net, tn.port); err != nil {
		t.Fatal(err)
	}
	if ok, _ := hasHostRoute(h, l, gw); ok {
		t.Fatal("stale on-link route to the old gateway kept")
	}
	if got := defaultGateway(t, h, l, 4); got.String() != base+".1" {
		t.Fatalf("default via %v after update", got)
	}

	// no gateway at all: the default route is deleted
	sub.GatewayIP = ""
	if err := m.Update(context.Background(), tn.net, tn.port); err != nil {
		t.Fatal(err)
	}
	if got := defaultGateway(t, h, l, 4); got.IsValid() {
		t.Fatalf("default route via %v left without a gateway", got)
	}
}

func TestForeignAddressesAndStaleDevices(t *testing.T) {
	skipUnlessRoot(t)
	m, _ := newRootManager(t, func(c *config.Config) { c.EnableIsolatedMetadata = true })
	tn := newTestNet(t, false, 0)
	dev := setup(t, m, tn)
	ns := NamespaceName(tn.net.ID)
	h, l := nsLink(t, tn.net.ID, dev)

	// a foreign address and a stray device in the namespace
	foreign := netip.MustParsePrefix("100.73.251.7/24")
	if err := h.AddrAdd(l, &netlink.Addr{IPNet: toIPNet(foreign)}); err != nil {
		t.Fatal(err)
	}
	stray := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "qdtstray0"}, PeerName: "qdtstray1"}
	if err := h.LinkAdd(stray); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Setup(context.Background(), tn.net, tn.port); err != nil {
		t.Fatal(err)
	}
	got := addrSet(t, h, l)
	if slices.Contains(got, foreign) {
		t.Fatalf("foreign address kept: %v", got)
	}
	if !slices.Contains(got, netip.MustParsePrefix("169.254.169.254/32")) {
		t.Fatalf("metadata address missing: %v", got)
	}
	if m.IPv6Enabled() && !slices.Contains(got, netip.MustParsePrefix("fe80::a9fe:a9fe/64")) {
		t.Fatalf("IPv6 metadata address missing: %v", got)
	}
	// the kernel's link-local address survives init_l3
	all, _ := h.AddrList(l, netlink.FAMILY_V6)
	lla := false
	for _, a := range all {
		if p, ok := addrPrefix(a); ok && isKernelLLA(p) {
			lla = true
		}
	}
	if m.IPv6Enabled() && !lla {
		t.Fatal("kernel link-local address removed")
	}
	if s, _ := linkByName(h, "qdtstray0"); s != nil {
		t.Fatalf("stale device left in %s", ns)
	}
	if s, _ := linkByName(h, "qdtstray1"); s != nil {
		t.Fatalf("stale device left in %s", ns)
	}
}

func TestConnectivityAndDestroy(t *testing.T) {
	skipUnlessRoot(t)
	m, _ := newRootManager(t, nil)
	tn := newTestNet(t, m.IPv6Enabled(), 1450)
	dev := setup(t, m, tn)
	client := clientOf(t, tn)
	setup(t, m, client)
	cns := NamespaceName(client.net.ID)
	for _, f := range tn.port.FixedIPs {
		if d, err := pingWithin(cns, f.Addr(), 5*time.Second); err != nil {
			t.Fatalf("DHCP port unreachable: %v", err)
		} else {
			t.Logf("ping %s answered after %v", f.IPAddress, d)
		}
	}

	fp := newFakePlugin(testHost, tn.net)
	if err := m.Destroy(context.Background(), tn.net.ID, dev, fp); err != nil {
		t.Fatal(err)
	}
	if m := fp.methods(); !reflect.DeepEqual(m, []string{"release_dhcp_port"}) || fp.calls[0].Args["device_id"] != model.DHCPDeviceID(testHost, tn.net.ID) {
		t.Fatalf("RPC %v", fp.calls)
	}
	ns := NamespaceName(tn.net.ID)
	if namespaceExists(ns) {
		t.Fatalf("namespace %s left", ns)
	}
	if _, err := os.Lstat(nsPath(ns)); err == nil {
		t.Fatalf("%s left", nsPath(ns))
	}
	if ports, ifaces := ovsRows(t, m, dev); len(ports)+len(ifaces) != 0 {
		t.Fatalf("OVS rows left: %d ports, %d interfaces", len(ports), len(ifaces))
	}
	root, err := rootHandle()
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	if l, _ := linkByName(root, dev); l != nil {
		t.Fatalf("%s left in the root namespace", dev)
	}
	if err := ping(cns, tn.port.FixedIPs[0].Addr()); err == nil {
		t.Fatal("destroyed DHCP port still answers")
	}
	// destroying again is harmless
	if err := m.Destroy(context.Background(), tn.net.ID, dev, nil); err != nil {
		t.Fatalf("second Destroy: %v", err)
	}
}

func TestCheckAndRepairAfterPortDeleted(t *testing.T) {
	skipUnlessRoot(t)
	m, _ := newRootManager(t, nil)
	tn := newTestNet(t, false, 1450)
	dev := setup(t, m, tn)
	client := clientOf(t, tn)
	setup(t, m, client)
	ctx := context.Background()

	if repaired, err := m.Repair(ctx, tn.net, tn.port); err != nil || repaired {
		t.Fatalf("Repair on a healthy device: %v %v", repaired, err)
	}
	// someone deletes our OVS port: ovs-vswitchd destroys the tap
	if _, err := m.ovs.deletePort(ctx, dev); err != nil {
		t.Fatal(err)
	}
	hl, err := m.Check(ctx, tn.net, tn.port)
	if err != nil || hl.Healthy {
		t.Fatalf("Check after the port was deleted: %+v %v", hl, err)
	}
	t.Logf("unhealthy: %s", hl.Reason)
	if repaired, err := m.Repair(ctx, tn.net, tn.port); err != nil || !repaired {
		t.Fatalf("Repair: %v %v", repaired, err)
	}
	if hl, err := m.Check(ctx, tn.net, tn.port); err != nil || !hl.Healthy {
		t.Fatalf("Check after Repair: %+v %v", hl, err)
	}
	if _, err := pingWithin(NamespaceName(client.net.ID), tn.port.FixedIPs[0].Addr(), 5*time.Second); err != nil {
		t.Fatal(err)
	}
}

func TestWaitAddressReady(t *testing.T) {
	skipUnlessRoot(t)
	m, _ := newRootManager(t, func(c *config.Config) { c.EnableIsolatedMetadata = true })
	if !m.IPv6Enabled() {
		t.Skip("kernel without IPv6")
	}
	tn := newTestNet(t, true, 0)
	dev := setup(t, m, tn)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := m.WaitAddressReady(ctx, tn.net.ID, dev, netip.MustParseAddr(model.MetadataLinkLocalV6)); err != nil {
		t.Fatal(err)
	}
	h, l := nsLink(t, tn.net.ID, dev)
	_, tentative, _, err := addressState(h, l, netip.MustParseAddr(model.MetadataLinkLocalV6))
	if err != nil || tentative {
		t.Fatalf("still tentative (%v)", err)
	}
	short, cancel2 := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel2()
	if err := m.WaitAddressReady(short, tn.net.ID, dev, netip.MustParseAddr("fd00:73::dead")); err == nil {
		t.Fatal("absent address reported ready")
	}
}

// TestConcurrentNetworks sets up and destroys several networks at once, as
// the agent's sync threads do.
func TestConcurrentNetworks(t *testing.T) {
	skipUnlessRoot(t)
	m, _ := newRootManager(t, nil)
	nets := make([]*testNet, 6)
	for i := range nets {
		nets[i] = newTestNet(t, m.IPv6Enabled(), 1450)
	}
	errs := make(chan error, len(nets))
	for _, tn := range nets {
		go func() {
			dev := model.DeviceName("tap", tn.port.ID)
			t.Cleanup(func() {
				_ = m.Destroy(context.Background(), tn.net.ID, dev, nil)
			})
			if _, err := m.Setup(context.Background(), tn.net, tn.port); err != nil {
				errs <- err
				return
			}
			if hl, err := m.Check(context.Background(), tn.net, tn.port); err != nil || !hl.Healthy {
				errs <- fmt.Errorf("check %s: %+v %v", dev, hl, err)
				return
			}
			errs <- m.Destroy(context.Background(), tn.net.ID, dev, nil)
		}()
	}
	for range nets {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	for _, tn := range nets {
		if namespaceExists(NamespaceName(tn.net.ID)) {
			t.Errorf("namespace of %s left", tn.net.ID)
		}
		if p, i := ovsRows(t, m, model.DeviceName("tap", tn.port.ID)); len(p)+len(i) != 0 {
			t.Errorf("OVS rows of %s left", tn.port.ID)
		}
	}
}
