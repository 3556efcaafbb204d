package devicemanager

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/vishvananda/netlink"

	vs "qdhcp/devicemanager/ovsdb"
	"qdhcp/dhcpagent/config"
	"qdhcp/model"
)

// Integration tests run as root on the machine's real OVS (br-int, userspace
// datapath) and namespaces. Every network, port and namespace gets a fresh
// random UUID, so they collide with nothing else; subnets come from
// 100.73.0.0/16 and fd00:73::/32, which no other package uses. Everything is
// removed with t.Cleanup, also when the test fails.

func skipUnlessRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (real namespaces and OVS)")
	}
	if os.Getenv("QDHCP_SKIP_ROOT") == "1" {
		t.Skip("QDHCP_SKIP_ROOT=1")
	}
	if _, err := os.Stat("/var/run/openvswitch/db.sock"); err != nil {
		t.Fatalf("OVS not running (run scripts/testenv.sh setup): %v", err)
	}
}

func testLogger() *slog.Logger {
	var w io.Writer = io.Discard
	if testing.Verbose() {
		w = os.Stderr
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// newRootManager returns a Manager on the local OVSDB socket. The config
// keeps neutron's default tcp:127.0.0.1:6640 first, which is not listening
// here, so the fallback to the unix socket is exercised too.
func newRootManager(t *testing.T, mutate func(*config.Config)) (*Manager, *config.Config) {
	t.Helper()
	conf := testConf()
	if mutate != nil {
		mutate(conf)
	}
	m, err := New(conf, testLogger())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	return m, conf
}

var subnetSeq = byte(time.Now().UnixNano()%200) + 1

// testNet is a network with one v4 (and optionally one v6) DHCP subnet and
// this agent's DHCP port at .2 / ::2.
type testNet struct {
	net  *model.Network
	port *model.Port
}

func newTestNet(t *testing.T, v6 bool, mtu int) *testNet {
	t.Helper()
	subnetSeq++
	v4 := fmt.Sprintf("100.73.%d", subnetSeq)
	n := &model.Network{ID: uuid.NewString(), ProjectID: "p", MTU: mtu}
	s4 := &model.Subnet{ID: uuid.NewString(), IPVersion: 4, CIDR: v4 + ".0/24", GatewayIP: v4 + ".1", EnableDHCP: true}
	n.Subnets = append(n.Subnets, s4)
	port := &model.Port{
		ID:          uuid.NewString(),
		NetworkID:   n.ID,
		MACAddress:  fmt.Sprintf("fa:16:3e:73:%02x:02", subnetSeq),
		DeviceID:    model.DHCPDeviceID(testHost, n.ID),
		DeviceOwner: model.OwnerDHCP,
		FixedIPs:    []model.FixedIP{{SubnetID: s4.ID, IPAddress: v4 + ".2"}},
	}
	if v6 {
		p6 := fmt.Sprintf("fd00:73:%x::", subnetSeq)
		s6 := &model.Subnet{ID: uuid.NewString(), IPVersion: 6, CIDR: p6 + "/64", GatewayIP: p6 + "1", EnableDHCP: true,
			IPv6AddressMode: model.IPv6ModeDHCPv6Stateful, IPv6RAMode: model.IPv6ModeDHCPv6Stateful}
		n.Subnets = append(n.Subnets, s6)
		port.FixedIPs = append(port.FixedIPs, model.FixedIP{SubnetID: s6.ID, IPAddress: p6 + "2"})
	}
	n.Ports = []*model.Port{port}
	return &testNet{net: n, port: port}
}

// clientOf is a second network object on the same subnets (another
// namespace on br-int) whose "DHCP port" is at .10: a VM stand-in.
func clientOf(t *testing.T, tn *testNet) *testNet {
	t.Helper()
	c := &testNet{net: tn.net.Clone()}
	c.net.ID = uuid.NewString()
	for _, s := range c.net.Subnets {
		s.GatewayIP = ""
	}
	c.port = tn.port.Clone()
	c.port.ID = uuid.NewString()
	c.port.MACAddress = tn.port.MACAddress[:15] + "10"
	for i := range c.port.FixedIPs {
		a := c.port.FixedIPs[i].Addr()
		b := a.AsSlice()
		b[len(b)-1] = 0x10
		na, _ := netip.AddrFromSlice(b)
		c.port.FixedIPs[i].IPAddress = na.String()
	}
	c.port.DeviceID = model.DHCPDeviceID(testHost, c.net.ID)
	c.net.Ports = []*model.Port{c.port}
	return c
}

// setup runs Setup and registers a cleanup that removes everything the
// network may have left: OVS port, namespace.
func setup(t *testing.T, m *Manager, tn *testNet) string {
	t.Helper()
	dev := model.DeviceName(m.conf.DeviceNamePrefix(), tn.port.ID)
	ns := NamespaceName(tn.net.ID)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := m.Destroy(ctx, tn.net.ID, dev, nil); err != nil {
			t.Logf("cleanup %s: %v", ns, err)
		}
		// belt and braces when Destroy itself is what failed
		_, _ = m.ovs.deletePort(ctx, ovsPortOf(dev))
		if ovsPortOf(dev) != dev {
			_ = deleteRootLink(ovsPortOf(dev))
		}
		_ = deleteNamespace(ns)
	})
	got, err := m.Setup(context.Background(), tn.net, tn.port)
	if err != nil {
		t.Fatalf("Setup: %v", err)
	}
	if got != dev {
		t.Fatalf("device %s, want %s", got, dev)
	}
	return dev
}

// nsLink returns the device inside the network's namespace.
func nsLink(t *testing.T, netID, dev string) (*netlink.Handle, netlink.Link) {
	t.Helper()
	h, err := nsHandle(NamespaceName(netID))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	l, err := linkByName(h, dev)
	if err != nil || l == nil {
		t.Fatalf("%s in %s: %v (link %v)", dev, NamespaceName(netID), err, l)
	}
	return h, l
}

func addrSet(t *testing.T, h *netlink.Handle, l netlink.Link) []netip.Prefix {
	t.Helper()
	addrs, err := h.AddrList(l, netlink.FAMILY_ALL)
	if err != nil {
		t.Fatal(err)
	}
	var out []netip.Prefix
	for _, a := range addrs {
		if p, ok := addrPrefix(a); ok && !isKernelLLA(p) {
			out = append(out, p)
		}
	}
	slices.SortFunc(out, func(a, b netip.Prefix) int { return a.Addr().Compare(b.Addr()) })
	return out
}

func sortedPrefixes(in []netip.Prefix) []netip.Prefix {
	out := slices.Clone(in)
	slices.SortFunc(out, func(a, b netip.Prefix) int { return a.Addr().Compare(b.Addr()) })
	return out
}

// ovsRows returns the Port rows and Interface rows named name, read from
// OVSDB through the Manager's client.
func ovsRows(t *testing.T, m *Manager, name string) ([]*vs.Port, []*vs.Interface) {
	t.Helper()
	ctx := context.Background()
	c, err := m.ovs.client(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ports []*vs.Port
	if err := c.WhereCache(func(p *vs.Port) bool { return p.Name == name }).List(ctx, &ports); err != nil {
		t.Fatal(err)
	}
	var ifaces []*vs.Interface
	if err := c.WhereCache(func(i *vs.Interface) bool { return i.Name == name }).List(ctx, &ifaces); err != nil {
		t.Fatal(err)
	}
	return ports, ifaces
}

// ping sends one echo request from the namespace (the test may run tools;
// the library never does).
func ping(ns string, addr netip.Addr) error {
	args := []string{"netns", "exec", ns, "ping", "-c1", "-W1"}
	if addr.Is6() {
		args = append(args, "-6")
	}
	out, err := exec.Command("ip", append(args, addr.String())...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ping %s from %s: %v: %s", addr, ns, err, out)
	}
	return nil
}

// pingWithin retries ping until it answers or the deadline passes.
func pingWithin(ns string, addr netip.Addr, d time.Duration) (time.Duration, error) {
	start := time.Now()
	for {
		err := ping(ns, addr)
		if err == nil {
			return time.Since(start), nil
		}
		if time.Since(start) > d {
			return time.Since(start), err
		}
		time.Sleep(50 * time.Millisecond)
	}
}
