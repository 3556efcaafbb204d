// Package testnet builds the client side of end-to-end tests: a "VM" network
// namespace with an OVS internal port on br-int carrying a port's MAC, and a
// real DHCP client (busybox udhcpc) with a private hook script that never
// touches the host's resolv.conf. Tests may run tools; the agent never does.
package testnet

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Bridge is the integration bridge the tests use.
const Bridge = "br-int"

// RequireRoot skips the test unless it runs as root with OVS and dnsmasq
// available. QDHCP_SKIP_ROOT=1 skips too (unprivileged runs).
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Getenv("QDHCP_SKIP_ROOT") == "1" {
		t.Skip("QDHCP_SKIP_ROOT=1")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	for _, tool := range []string{"ovs-vsctl", "dnsmasq", "udhcpc", "ip"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed (run scripts/testenv.sh setup)", tool)
		}
	}
	if err := exec.Command("ovs-vsctl", "--timeout=5", "br-exists", Bridge).Run(); err != nil {
		t.Skipf("OVS bridge %s not available (run scripts/testenv.sh setup): %v", Bridge, err)
	}
}

// Run runs a command and fails the test with its output on error.
func Run(t testing.TB, argv ...string) string {
	t.Helper()
	out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(argv, " "), err, out)
	}
	return string(out)
}

// Client is a VM stand-in: namespace NS with device Dev on br-int.
type Client struct {
	NS, Dev, MAC string
	dir          string
}

// NewClient creates namespace ns with an OVS internal port dev (at most 15
// characters) carrying mac, and removes both when the test ends.
func NewClient(t testing.TB, ns, dev, mac string) *Client {
	t.Helper()
	c := &Client{NS: ns, Dev: dev, MAC: mac, dir: t.TempDir()}
	t.Cleanup(c.cleanup)
	c.cleanup() // leftovers of an earlier, killed run
	Run(t, "ip", "netns", "add", ns)
	Run(t, "ovs-vsctl", "--timeout=30", "--may-exist", "add-port", Bridge, dev, "--",
		"set", "Interface", dev, "type=internal")
	waitLink(t, dev)
	Run(t, "ip", "link", "set", dev, "netns", ns)
	Run(t, "ip", "-n", ns, "link", "set", "lo", "up")
	Run(t, "ip", "-n", ns, "link", "set", dev, "address", mac, "up")
	script := filepath.Join(c.dir, "udhcpc.sh")
	err := os.WriteFile(script, []byte(`#!/bin/sh
# private hook: configure the client's own device, print what was offered
case "$1" in
bound|renew)
	ip addr flush dev "$interface"
	ip addr add "$ip/${mask:-24}" dev "$interface"
	echo "lease ip=$ip mask=$mask router=$router dns=$dns domain=$domain mtu=$mtu lease=$lease hostname=$hostname staticroutes=$staticroutes"
	;;
deconfig) ip addr flush dev "$interface" ;;
esac
exit 0
`), 0o755)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func waitLink(t testing.TB, dev string) {
	t.Helper()
	for i := 0; i < 100; i++ {
		if exec.Command("ip", "link", "show", dev).Run() == nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("device %s did not appear", dev)
}

func (c *Client) cleanup() {
	_ = exec.Command("ovs-vsctl", "--timeout=10", "--if-exists", "del-port", Bridge, c.Dev).Run()
	_ = exec.Command("ip", "netns", "del", c.NS).Run()
}

// Lease is what the DHCP server offered.
type Lease map[string]string

// DHCP runs one udhcpc exchange (discover/request, or a renewal of the
// address the device holds) and returns the lease.
func (c *Client) DHCP(ctx context.Context) (Lease, error) {
	script := filepath.Join(c.dir, "udhcpc.sh")
	cmd := exec.CommandContext(ctx, "ip", "netns", "exec", c.NS, "udhcpc", "-f", "-q", "-n",
		"-t", "6", "-T", "1", "-i", c.Dev, "-s", script, "-O", "mtu", "-O", "staticroutes")
	out, err := cmd.CombinedOutput()
	l := Lease{}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "lease ") {
			continue
		}
		for _, kv := range splitFields(strings.TrimPrefix(line, "lease ")) {
			k, v, _ := strings.Cut(kv, "=")
			l[k] = v
		}
	}
	if l["ip"] == "" {
		return nil, fmt.Errorf("no lease (udhcpc: %v): %s", err, out)
	}
	return l, nil
}

// splitFields splits "k=v k2=a b k3=c" at the spaces that start a new key.
func splitFields(s string) []string {
	var out []string
	for _, f := range strings.Fields(s) {
		if strings.Contains(f, "=") || len(out) == 0 {
			out = append(out, f)
		} else {
			out[len(out)-1] += " " + f
		}
	}
	return out
}

// Ping sends a few pings from the client namespace to ip.
func (c *Client) Ping(ip string) error {
	out, err := exec.Command("ip", "netns", "exec", c.NS, "ping", "-c", "1", "-W", "1", ip).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ping %s from %s: %v: %s", ip, c.NS, err, out)
	}
	return nil
}

// StateDir returns a fresh world-readable directory for a test's state_path
// (dnsmasq re-reads its files after dropping root, so the path must be
// traversable like /var/lib/neutron), removed when the test ends.
func StateDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "qdhcp-test-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}
