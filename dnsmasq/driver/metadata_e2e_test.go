package driver_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"qdhcp/dhcpagent/config"
	"qdhcp/dnsmasq"
	"qdhcp/dnsmasq/driver"
	"qdhcp/internal/testnet"
	"qdhcp/model"
	"qdhcp/procmon"
	"qdhcp/source/memory"
)

// metaRequest is one request the stub metadata agent received.
type metaRequest struct {
	path      string
	networkID []string // X-Neutron-Network-ID values
	routerID  []string // X-Neutron-Router-ID values
	forwarded []string // X-Forwarded-For values
}

// metadataStub stands in for neutron-metadata-agent: an HTTP server on the
// metadata_proxy_socket unix socket that records what haproxy forwards.
type metadataStub struct {
	mu   sync.Mutex
	reqs map[string]metaRequest
}

func newMetadataStub(t *testing.T, sock string) *metadataStub {
	t.Helper()
	s := &metadataStub{reqs: map[string]metaRequest{}}
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatalf("metadata stub: %v", err)
	}
	if err := os.Chmod(sock, 0o666); err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.reqs[r.URL.Path] = metaRequest{path: r.URL.Path,
			networkID: r.Header.Values("X-Neutron-Network-ID"),
			routerID:  r.Header.Values("X-Neutron-Router-ID"),
			forwarded: r.Header.Values("X-Forwarded-For")}
		s.mu.Unlock()
		fmt.Fprintf(w, "stub %s", r.URL.Path)
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close(); os.Remove(sock) })
	return s
}

func (s *metadataStub) request(path string) (metaRequest, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.reqs[path]
	return r, ok
}

// fetchMetadata GETs url from inside namespace ns with curl, sending
// spoofed X-Neutron-* headers that the proxy must replace, and checks the
// stub answered. Retries for a few seconds (a fresh IPv6 link-local address
// of the client may still be tentative).
func fetchMetadata(t *testing.T, ns, url string) {
	t.Helper()
	var out []byte
	var err error
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		out, err = exec.Command("ip", "netns", "exec", ns, "curl", "-sS", "-g", "-m", "5", "--noproxy", "*",
			"-H", "X-Neutron-Network-ID: spoofed", "-H", "X-Neutron-Router-ID: spoofed", url).CombinedOutput()
		if err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		t.Fatalf("curl %s in %s: %v: %s", url, ns, err, out)
	}
	if want := "stub " + url[strings.LastIndex(url, "/"):]; string(out) != want {
		t.Fatalf("curl %s: got %q, want %q", url, out, want)
	}
}

// checkForwarded checks the request the stub saw at path: exactly the
// wanted id header (the client's spoofed ones replaced or removed) and the
// client address in X-Forwarded-For.
func checkForwarded(t *testing.T, stub *metadataStub, path, header, id, clientIP string) {
	t.Helper()
	r, ok := stub.request(path)
	if !ok {
		t.Fatalf("stub never saw %s", path)
	}
	wantNet, wantRouter := []string{id}, []string(nil)
	if header == "X-Neutron-Router-ID" {
		wantNet, wantRouter = nil, []string{id}
	}
	if !slices.Equal(r.networkID, wantNet) || !slices.Equal(r.routerID, wantRouter) {
		t.Errorf("%s: X-Neutron-Network-ID %q, X-Neutron-Router-ID %q; want %s %s only", path, r.networkID, r.routerID, header, id)
	}
	if !slices.Equal(r.forwarded, []string{clientIP}) {
		t.Errorf("%s: X-Forwarded-For %q, want %s", path, r.forwarded, clientIP)
	}
}

func metadataConf(t *testing.T) *config.Config {
	c := e2eConf(t)
	c.EnableIsolatedMetadata = true
	return c
}

// proxyFiles are the haproxy files of proxy uuid, per NEUTRON_FACTS (f).
func proxyFiles(conf *config.Config, uuid string) (pidFile, confFile string) {
	return filepath.Join(conf.ExternalPids, uuid+".pid.haproxy"),
		filepath.Join(conf.StatePath, "ns-metadata-proxy", uuid+".conf")
}

// backstop cleans up after a failed test once the driver's own teardown
// has run (register it before newRig and teardown): it kills the haproxy
// of each uuid and every process left in the network's namespace, unplugs
// the devices left in it from br-int and deletes it.
func backstop(t *testing.T, conf *config.Config, netID string, uuids ...string) {
	t.Cleanup(func() {
		for _, u := range uuids {
			pidFile, _ := proxyFiles(conf, u)
			if pid, ok := procmon.Active(pidFile, u); ok {
				t.Logf("cleanup: killing haproxy %d for %s", pid, u)
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		ns := "qdhcp-" + netID
		if _, err := os.Stat("/var/run/netns/" + ns); err != nil {
			return
		}
		t.Logf("cleanup: namespace %s left behind", ns)
		out, _ := exec.Command("ip", "netns", "pids", ns).Output()
		for _, f := range strings.Fields(string(out)) {
			var pid int
			if _, err := fmt.Sscan(f, &pid); err == nil && pid > 1 {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		out, _ = exec.Command("ip", "-n", ns, "-o", "link", "show").Output()
		for _, line := range strings.Split(string(out), "\n") {
			if f := strings.Fields(line); len(f) > 1 && strings.HasPrefix(f[1], "tap") {
				dev, _, _ := strings.Cut(strings.TrimSuffix(f[1], ":"), "@")
				_ = exec.Command("ovs-vsctl", "--timeout=10", "--if-exists", "del-port", testnet.Bridge, dev).Run()
			}
		}
		_ = exec.Command("ip", "netns", "del", ns).Run()
	})
}

// runningProxy checks that the haproxy for uuid runs as neutron runs it:
// pid file, argv, inside the network's namespace, supervised; it returns
// the pid and the config file's content.
func runningProxy(t *testing.T, r *rig, netID, uuid string) (int, string) {
	t.Helper()
	proxySettled(t, r, netID)
	pidFile, confFile := proxyFiles(r.conf, uuid)
	pid, ok := procmon.Active(pidFile, uuid)
	if !ok {
		t.Fatalf("no haproxy behind %s (pid %d)", pidFile, pid)
	}
	cmd, err := procmon.Cmdline(pid)
	if want := []string{"haproxy", "-f", confFile}; err != nil || !slices.Equal(cmd, want) {
		t.Fatalf("haproxy %d argv %q (%v), want %q", pid, cmd, err, want)
	}
	if !sameNetnsAs(pid, "qdhcp-"+netID) {
		t.Fatalf("haproxy %d is not in namespace qdhcp-%s", pid, netID)
	}
	if !r.mon.Registered(uuid, driver.ServiceHaproxy) {
		t.Fatalf("haproxy for %s not registered with the monitor", uuid)
	}
	data, err := os.ReadFile(confFile)
	if err != nil {
		t.Fatal(err)
	}
	return pid, string(data)
}

// goldenProxyConfig is neutron's haproxy.cfg of a reference fixture made
// to name this test's network, state path, device, user and group.
func goldenProxyConfig(t *testing.T, fixture, state, netID, tap, user, group string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "testdata", "golden", fixture, "haproxy.cfg"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(data)
	_, rest, _ := strings.Cut(s, "haproxy-metadata-proxy-")
	goldenID, _, _ := strings.Cut(rest, "\n")
	pairs := []string{"$STATE", state, goldenID, netID}
	if _, rest, ok := strings.Cut(s, "interface "); ok {
		goldenTap, _, _ := strings.Cut(rest, "\n")
		pairs = append(pairs, goldenTap, tap)
	}
	r := strings.NewReplacer(append(pairs,
		"user        nobody\n", "user        "+user+"\n", "group       nogroup\n", "group       "+group+"\n")...)
	return r.Replace(s)
}

// proxySettled waits for the network's metadata proxy update that waits
// in the background for fe80::a9fe:a9fe.
func proxySettled(t *testing.T, r *rig, netID string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := r.drv.WaitMetadataProxy(ctx, netID); err != nil {
		t.Fatalf("metadata proxy update of %s still pending: %v", netID, err)
	}
}

// proxyGone checks that no haproxy runs for uuid any more and its files
// are gone.
func proxyGone(t *testing.T, r *rig, netID, uuid string, pids ...int) {
	t.Helper()
	proxySettled(t, r, netID)
	pidFile, confFile := proxyFiles(r.conf, uuid)
	for _, p := range []string{pidFile, confFile} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s still there (%v)", p, err)
		}
	}
	for _, pid := range pids {
		if procmon.Alive(pid, uuid) {
			t.Errorf("haproxy %d still running", pid)
		}
	}
	if r.mon.Registered(uuid, driver.ServiceHaproxy) {
		t.Errorf("haproxy for %s still registered", uuid)
	}
}

func sameNetnsAs(pid int, ns string) bool {
	a, err1 := os.Stat(fmt.Sprintf("/proc/%d/ns/net", pid))
	b, err2 := os.Stat("/var/run/netns/" + ns)
	return err1 == nil && err2 == nil && os.SameFile(a, b)
}

// waitNewProxy waits until a haproxy other than old runs for uuid.
func waitNewProxy(t *testing.T, conf *config.Config, uuid string, old int, within time.Duration) int {
	t.Helper()
	pidFile, _ := proxyFiles(conf, uuid)
	for deadline := time.Now().Add(within); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if p, ok := procmon.Active(pidFile, uuid); ok && p != old {
			return p
		}
	}
	t.Fatalf("no new haproxy for %s within %v", uuid, within)
	return 0
}

// routeFromLease installs the lease's option 121 route to the metadata IP
// in the client (the testnet hook installs no routes) and returns its
// next hop.
func routeFromLease(t *testing.T, c *testnet.Client, lease testnet.Lease) string {
	t.Helper()
	f := strings.Fields(lease["staticroutes"])
	for i := 0; i+1 < len(f); i += 2 {
		if f[i] == model.MetadataV4CIDR {
			testnet.Run(t, "ip", "-n", c.NS, "route", "replace", f[i], "via", f[i+1], "dev", c.Dev)
			return f[i+1]
		}
	}
	t.Fatalf("lease has no route to %s: staticroutes %q", model.MetadataV4CIDR, lease["staticroutes"])
	return ""
}

// addLinkLocal gives the client an IPv6 link-local address (the testnet
// hook flushes every address of the device when it binds a lease) and
// returns it.
func addLinkLocal(t *testing.T, c *testnet.Client) string {
	t.Helper()
	const lla = "fe80::f816:3eff:feab:10"
	testnet.Run(t, "ip", "-n", c.NS, "addr", "replace", lla+"/64", "dev", c.Dev, "nodad")
	return lla
}

func dhcpIP(t *testing.T, server *memory.Server, netID string) string {
	t.Helper()
	p := server.Network(netID).DHCPPortOf(host)
	if p == nil || len(p.FixedIPs) == 0 {
		t.Fatalf("no DHCP port on %s", netID)
	}
	return p.FixedIPs[0].IPAddress
}

func routerPort(netID, subnetID, ip, routerID string) *model.Port {
	return &model.Port{ID: "e2e0000a-40e7-4000-8000-" + routerID[len(routerID)-12:], NetworkID: netID,
		MACAddress: "fa:16:3e:ee:00:" + routerID[len(routerID)-2:], DeviceOwner: model.OwnerRouterInterface,
		DeviceID: routerID,
		FixedIPs: []model.FixedIP{{SubnetID: subnetID, IPAddress: ip}}}
}

// TestIsolatedMetadataProxy: a network with an isolated DHCP subnet and
// enable_isolated_metadata gets haproxy in its namespace; a client reaches
// 169.254.169.254 through the option 121 route and the metadata agent sees
// the network id; the proxy is respawned when killed, restarted once by a
// new agent run, stopped with its files when a router takes the subnet,
// and torn down with the network (SIGKILL after 5 s if SIGTERM is ignored).
func TestIsolatedMetadataProxy(t *testing.T) {
	testnet.RequireRoot(t)
	const netID = "e2e0000a-0000-4000-8000-000000000171"
	const subnetID = "e2e0000a-5b00-4000-8000-000000000171"
	const routerID = "e2e0000a-7000-4000-8000-000000000171"
	conf := metadataConf(t)
	stub := newMetadataStub(t, conf.MetadataProxySocket)
	server := memory.New(host)
	net := e2eNetwork(netID, subnetID, 171)
	server.Put(net)
	backstop(t, conf, netID, netID)
	r := newRig(t, conf, server)
	teardown(t, r, netID)
	ctx := context.Background()

	n, _ := server.GetNetworkInfo(ctx, netID)
	start := time.Now()
	if err := r.drv.Enable(ctx, n); err != nil {
		t.Fatal(err)
	}
	t.Logf("enable with metadata proxy took %v", time.Since(start).Round(time.Millisecond))
	pid, cfg := runningProxy(t, r, netID, netID)
	dhcp := dhcpIP(t, server, netID)
	tap, _ := os.ReadFile(dnsmasq.ConfPaths(conf, netID).Interface)
	ipv6 := r.dev.IPv6Enabled()
	// byte for byte neutron's file for this network: user and group are
	// the effective ones (metadata_proxy_user/group empty)
	golden := "isolated_metadata_no_router"
	if !ipv6 {
		golden = "isolated_metadata_ipv6_disabled"
	}
	if want := goldenProxyConfig(t, golden, conf.StatePath, netID, string(tap), "root", "root"); cfg != want {
		t.Errorf("haproxy config:\n%s\nwant (neutron's):\n%s", cfg, want)
	}
	if opts, _ := os.ReadFile(dnsmasq.ConfPaths(conf, netID).Opts); !strings.Contains(string(opts), "169.254.169.254/32,"+dhcp) {
		t.Errorf("opts lack the metadata route via %s:\n%s", dhcp, opts)
	}

	client := testnet.NewClient(t, "qe2e-md171", "qe2emd171", net.Ports[0].MACAddress)
	lease, err := client.DHCP(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if hop := routeFromLease(t, client, lease); hop != dhcp {
		t.Fatalf("metadata route via %s, want the DHCP port %s", hop, dhcp)
	}
	fetchMetadata(t, client.NS, "http://169.254.169.254/v4-first")
	checkForwarded(t, stub, "/v4-first", "X-Neutron-Network-ID", netID, lease["ip"])
	if ipv6 {
		lla := addLinkLocal(t, client)
		fetchMetadata(t, client.NS, "http://[fe80::a9fe:a9fe%25"+client.Dev+"]/v6-first")
		checkForwarded(t, stub, "/v6-first", "X-Neutron-Network-ID", netID, lla)
	}

	// a reload that changes nothing keeps the proxy
	n, _ = server.GetNetworkInfo(ctx, netID)
	if err := r.drv.ReloadAllocations(ctx, n); err != nil {
		t.Fatal(err)
	}
	if got, _ := runningProxy(t, r, netID, netID); got != pid {
		t.Fatalf("reload replaced haproxy %d by %d", pid, got)
	}

	// SIGKILL: the monitor respawns it
	killed := time.Now()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	pid = waitNewProxy(t, conf, netID, pid, 5*time.Second)
	t.Logf("SIGKILL -> haproxy respawned (pid %d) after %v", pid, time.Since(killed).Round(time.Millisecond))
	fetchMetadata(t, client.NS, "http://169.254.169.254/v4-respawned")
	checkForwarded(t, stub, "/v4-respawned", "X-Neutron-Network-ID", netID, lease["ip"])

	// a new agent run restarts the proxy once (neutron's first-time
	// restart), while dnsmasq is adopted
	dns := dnsmasqPid(t, conf, netID)
	r.stop()
	r = newRig(t, conf, server)
	teardown(t, r, netID)
	n, _ = server.GetNetworkInfo(ctx, netID)
	if err := r.drv.Enable(ctx, n); err != nil {
		t.Fatal(err)
	}
	if got := dnsmasqPid(t, conf, netID); got != dns {
		t.Errorf("new agent run replaced dnsmasq %d by %d", dns, got)
	}
	newPid, _ := runningProxy(t, r, netID, netID)
	if newPid == pid || procmon.Alive(pid, netID) {
		t.Fatalf("new agent run kept haproxy %d (now %d)", pid, newPid)
	}
	pid = newPid
	if err := r.drv.ReloadAllocations(ctx, n); err != nil {
		t.Fatal(err)
	}
	if got, _ := runningProxy(t, r, netID, netID); got != pid {
		t.Fatalf("second update in the same run restarted haproxy %d -> %d", pid, got)
	}
	fetchMetadata(t, client.NS, "http://169.254.169.254/v4-new-agent")
	checkForwarded(t, stub, "/v4-new-agent", "X-Neutron-Network-ID", netID, lease["ip"])

	// a router takes the gateway: the subnet is no longer isolated, the
	// proxy stops and its files go
	routed := server.Network(netID)
	routed.Ports = append(routed.Ports, routerPort(netID, subnetID, "10.171.0.1", routerID))
	server.Put(routed)
	n, _ = server.GetNetworkInfo(ctx, netID)
	start = time.Now()
	if err := r.drv.ReloadAllocations(ctx, n); err != nil {
		t.Fatal(err)
	}
	t.Logf("reload stopping the proxy took %v", time.Since(start).Round(time.Millisecond))
	proxyGone(t, r, netID, netID, pid)
	if opts, _ := os.ReadFile(dnsmasq.ConfPaths(conf, netID).Opts); !strings.Contains(string(opts), "169.254.169.254/32,10.171.0.1") {
		t.Errorf("routed subnet: opts lack the metadata route via the gateway:\n%s", opts)
	}

	// the router leaves again: the proxy comes back
	isolated := server.Network(netID)
	isolated.Ports = slices.DeleteFunc(isolated.Ports, func(p *model.Port) bool { return p.DeviceID == routerID })
	server.Put(isolated)
	n, _ = server.GetNetworkInfo(ctx, netID)
	if err := r.drv.ReloadAllocations(ctx, n); err != nil {
		t.Fatal(err)
	}
	pid, _ = runningProxy(t, r, netID, netID)
	fetchMetadata(t, client.NS, "http://169.254.169.254/v4-back")
	checkForwarded(t, stub, "/v4-back", "X-Neutron-Network-ID", netID, lease["ip"])

	// disable with a haproxy that ignores SIGTERM (stopped): SIGKILL after
	// the 5 s grace, everything removed
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	if err := r.drv.Disable(ctx, netID, false); err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	t.Logf("disable with a SIGTERM-deaf haproxy took %v", took.Round(time.Millisecond))
	if took < 5*time.Second {
		t.Errorf("disable took %v: haproxy was not given the 5 s SIGTERM grace", took)
	}
	proxyGone(t, r, netID, netID, pid)
	if _, err := os.Stat("/var/run/netns/qdhcp-" + netID); !os.IsNotExist(err) {
		t.Errorf("namespace still there: %v", err)
	}
}

// TestForceMetadataProxy: force_metadata serves metadata on a routed
// network too, with the option 121 route via the DHCP port.
func TestForceMetadataProxy(t *testing.T) {
	testnet.RequireRoot(t)
	const netID = "e2e0000a-0000-4000-8000-000000000172"
	const subnetID = "e2e0000a-5b00-4000-8000-000000000172"
	conf := e2eConf(t)
	conf.ForceMetadata = true
	conf.MetadataProxyUser, conf.MetadataProxyGroup = "nobody", "65534" // a gid resolves to its name
	stub := newMetadataStub(t, conf.MetadataProxySocket)
	server := memory.New(host)
	net := e2eNetwork(netID, subnetID, 172)
	net.Ports = append(net.Ports, routerPort(netID, subnetID, "10.172.0.1", "e2e0000a-7000-4000-8000-000000000172"))
	server.Put(net)
	backstop(t, conf, netID, netID)
	r := newRig(t, conf, server)
	teardown(t, r, netID)
	ctx := context.Background()
	n, _ := server.GetNetworkInfo(ctx, netID)
	if err := r.drv.Enable(ctx, n); err != nil {
		t.Fatal(err)
	}
	pid, cfg := runningProxy(t, r, netID, netID)
	if !strings.Contains(cfg, "    user        nobody\n    group       nogroup\n") {
		t.Errorf("user/group not resolved to names:\n%s", cfg)
	}
	client := testnet.NewClient(t, "qe2e-md172", "qe2emd172", net.Ports[0].MACAddress)
	lease, err := client.DHCP(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if hop, dhcp := routeFromLease(t, client, lease), dhcpIP(t, server, netID); hop != dhcp {
		t.Fatalf("forced metadata route via %s, want the DHCP port %s", hop, dhcp)
	}
	fetchMetadata(t, client.NS, "http://169.254.169.254/forced")
	checkForwarded(t, stub, "/forced", "X-Neutron-Network-ID", netID, lease["ip"])
	// haproxy dropped to nobody/nogroup once it had bound port 80
	if uid, gid := procIDs(t, pid); uid != "65534" || gid != "65534" {
		t.Errorf("haproxy %d runs as uid %s gid %s, want nobody/nogroup (65534)", pid, uid, gid)
	}
	if err := r.drv.Disable(ctx, netID, false); err != nil {
		t.Fatal(err)
	}
	proxyGone(t, r, netID, netID, pid)
}

// TestMetadataNetworkProxy: with enable_metadata_network, a network with a
// subnet in 169.254.0.0/16 and a router port is a metadata network: its
// proxy is keyed by the router and sends X-Neutron-Router-ID. Before the
// router port exists the subnet is isolated and the proxy is keyed by the
// network; attaching the router swaps one proxy for the other.
func TestMetadataNetworkProxy(t *testing.T) {
	testnet.RequireRoot(t)
	const netID = "e2e0000a-0000-4000-8000-000000000173"
	const subnetID = "e2e0000a-5b00-4000-8000-000000000173"
	const routerID = "e2e0000a-7000-4000-8000-000000000173"
	conf := metadataConf(t)
	conf.EnableMetadataNetwork = true
	stub := newMetadataStub(t, conf.MetadataProxySocket)
	server := memory.New(host)
	net := &model.Network{ID: netID, MTU: 1450, ProjectID: "p1",
		Subnets: []*model.Subnet{{ID: subnetID, IPVersion: 4, CIDR: "169.254.173.0/24", EnableDHCP: true,
			GatewayIP:       "169.254.173.1",
			AllocationPools: []model.AllocPool{{Start: "169.254.173.2", End: "169.254.173.254"}}}},
		Ports: []*model.Port{{
			ID: "e2e0000a-0000-4000-8000-0000000a0173", NetworkID: netID,
			MACAddress: "fa:16:3e:ad:00:10", DeviceOwner: "compute:nova", DeviceID: "vm1",
			FixedIPs: []model.FixedIP{{SubnetID: subnetID, IPAddress: "169.254.173.10"}},
		}},
	}
	server.Put(net)
	backstop(t, conf, netID, netID, routerID)
	r := newRig(t, conf, server)
	teardown(t, r, netID)
	ctx := context.Background()
	n, _ := server.GetNetworkInfo(ctx, netID)
	if err := r.drv.Enable(ctx, n); err != nil {
		t.Fatal(err)
	}
	netPid, _ := runningProxy(t, r, netID, netID)
	client := testnet.NewClient(t, "qe2e-md173", "qe2emd173", net.Ports[0].MACAddress)
	lease, err := client.DHCP(ctx)
	if err != nil {
		t.Fatal(err)
	}
	dhcp := dhcpIP(t, server, netID)
	if hop := routeFromLease(t, client, lease); hop != dhcp {
		t.Fatalf("metadata route via %s, want the DHCP port %s", hop, dhcp)
	}
	fetchMetadata(t, client.NS, "http://169.254.169.254/metanet-isolated")
	checkForwarded(t, stub, "/metanet-isolated", "X-Neutron-Network-ID", netID, lease["ip"])

	withRouter := server.Network(netID)
	withRouter.Ports = append(withRouter.Ports, routerPort(netID, subnetID, "169.254.173.1", routerID))
	server.Put(withRouter)
	n, _ = server.GetNetworkInfo(ctx, netID)
	if err := r.drv.ReloadAllocations(ctx, n); err != nil {
		t.Fatal(err)
	}
	proxyGone(t, r, netID, netID, netPid)
	routerPid, cfg := runningProxy(t, r, netID, routerID)
	if tap, _ := os.ReadFile(dnsmasq.ConfPaths(conf, netID).Interface); r.dev.IPv6Enabled() {
		if want := goldenProxyConfig(t, "metadata_network", conf.StatePath, routerID, string(tap), "root", "root"); cfg != want {
			t.Errorf("router-keyed haproxy config:\n%s\nwant (neutron's):\n%s", cfg, want)
		}
	} else if !strings.Contains(cfg, "http-request set-header X-Neutron-Router-ID "+routerID+"\n") {
		t.Errorf("router-keyed config:\n%s", cfg)
	}
	// the subnet is routed now (option 121 via the gateway, which this rig
	// does not have): reach the proxy through the DHCP port as before
	fetchMetadata(t, client.NS, "http://169.254.169.254/metanet-router")
	checkForwarded(t, stub, "/metanet-router", "X-Neutron-Router-ID", routerID, lease["ip"])

	// a new agent run finds the router detached: the router-keyed proxy
	// it never started is stopped, the network-keyed one takes over
	r.stop()
	r = newRig(t, conf, server)
	teardown(t, r, netID)
	detached := server.Network(netID)
	detached.Ports = slices.DeleteFunc(detached.Ports, func(p *model.Port) bool { return p.DeviceID == routerID })
	server.Put(detached)
	n, _ = server.GetNetworkInfo(ctx, netID)
	if err := r.drv.Enable(ctx, n); err != nil {
		t.Fatal(err)
	}
	proxyGone(t, r, netID, routerID, routerPid)
	netPid, _ = runningProxy(t, r, netID, netID)
	fetchMetadata(t, client.NS, "http://169.254.169.254/metanet-restarted")
	checkForwarded(t, stub, "/metanet-restarted", "X-Neutron-Network-ID", netID, lease["ip"])

	// the router comes back in the same run: swapped again
	server.Put(withRouter)
	n, _ = server.GetNetworkInfo(ctx, netID)
	if err := r.drv.ReloadAllocations(ctx, n); err != nil {
		t.Fatal(err)
	}
	proxyGone(t, r, netID, netID, netPid)
	routerPid, _ = runningProxy(t, r, netID, routerID)

	// and a further agent run disables the network without enabling it
	// first (deleted while the agent was down): the router-keyed proxy it
	// never saw goes too
	r.stop()
	r = newRig(t, conf, server)
	teardown(t, r, netID)
	if err := r.drv.Disable(ctx, netID, false); err != nil {
		t.Fatal(err)
	}
	proxyGone(t, r, netID, routerID, routerPid)
}

// TestMetadataProxyIPv4OnlyWhenDADFails: another DHCP agent of the network
// already holds fe80::a9fe:a9fe, so the agent's copy fails duplicate
// address detection; the proxy must still serve 169.254.169.254.
func TestMetadataProxyIPv4OnlyWhenDADFails(t *testing.T) {
	testnet.RequireRoot(t)
	const netID = "e2e0000a-0000-4000-8000-000000000174"
	const subnetID = "e2e0000a-5b00-4000-8000-000000000174"
	conf := metadataConf(t)
	stub := newMetadataStub(t, conf.MetadataProxySocket)
	server := memory.New(host)
	net := e2eNetwork(netID, subnetID, 174)
	server.Put(net)
	backstop(t, conf, netID, netID)
	r := newRig(t, conf, server)
	if !r.dev.IPv6Enabled() {
		t.Skip("IPv6 disabled: no IPv6 metadata address to collide")
	}
	teardown(t, r, netID)
	ctx := context.Background()
	// the "other agent": a namespace on the same segment owning the address
	other := testnet.NewClient(t, "qe2e-md174b", "qe2emd174b", "fa:16:3e:ae:00:99")
	testnet.Run(t, "ip", "-n", other.NS, "addr", "add", model.MetadataV6CIDR, "dev", other.Dev, "nodad")

	n, _ := server.GetNetworkInfo(ctx, netID)
	start := time.Now()
	if err := r.drv.Enable(ctx, n); err != nil {
		t.Fatal(err)
	}
	t.Logf("enable with a duplicate fe80::a9fe:a9fe took %v", time.Since(start).Round(time.Millisecond))
	_, cfg := runningProxy(t, r, netID, netID)
	if strings.Contains(cfg, "fe80::a9fe:a9fe") || !strings.Contains(cfg, "    bind 169.254.169.254:80\n    \n") {
		t.Errorf("config should bind IPv4 only:\n%s", cfg)
	}
	client := testnet.NewClient(t, "qe2e-md174", "qe2emd174", net.Ports[0].MACAddress)
	lease, err := client.DHCP(ctx)
	if err != nil {
		t.Fatal(err)
	}
	routeFromLease(t, client, lease)
	fetchMetadata(t, client.NS, "http://169.254.169.254/dad-failed")
	checkForwarded(t, stub, "/dad-failed", "X-Neutron-Network-ID", netID, lease["ip"])
}

// procIDs returns the real uid and gid of pid.
func procIDs(t *testing.T, pid int) (uid, gid string) {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) > 1 && f[0] == "Uid:" {
			uid = f[1]
		} else if len(f) > 1 && f[0] == "Gid:" {
			gid = f[1]
		}
	}
	return uid, gid
}
