package dnsmasq

import (
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"strings"
	"testing"
	"time"

	"qdhcp/dhcpagent/config"
	"qdhcp/model"
)

// Hostile input to Render: each case is refused with a
// *model.ValidationError naming the JSON path (or the option), or rendered
// safely: every line of every file has the shape dnsmasq expects, names
// only the network's MACs, addresses and tags, holds no control character
// and fits in the 1024-byte chunks dnsmasq reads its hosts and opts files
// in (the rest of a longer line would be read as a line of its own).

// dnsmasqLineMax is the longest line (without its newline) dnsmasq's
// option-file reader takes in one piece.
const dnsmasqLineMax = 1023

// hostileNet: IPv4, IPv6 stateful and stateless subnets; this agent's DHCP
// port and a VM port with options and a dns_assignment.
func hostileNet() *model.Network {
	vm := port(tVM1, "fa:16:3e:00:00:10", "compute:nova", tS1, "10.1.0.10", tS2, "2001:db8:2::10", tS3, "2001:db8:3::10")
	vm.ExtraDHCPOpts = []model.ExtraDHCPOpt{{OptName: "client-id", OptValue: "01:fa:16:3e:00:00:10"},
		{OptName: "bootfile-name", OptValue: "pxelinux.0"}, {OptName: "dns-server", OptValue: "[2001:db8::53]", IPVersion: 6}}
	vm.DNSAssignment = []model.DNSAssignment{{Hostname: "vm", FQDN: "vm.example.", IPAddress: "10.1.0.10"}}
	return &model.Network{ID: tNet, MTU: 1450,
		Subnets: []*model.Subnet{v4(tS1, "10.1.0.0/24", "10.1.0.1"), v6(tS2, "2001:db8:2::/64", "dhcpv6-stateful"),
			v6(tS3, "2001:db8:3::/64", "dhcpv6-stateless")},
		Ports: []*model.Port{ourPort(tS1, "10.1.0.2", tS2, "2001:db8:2::2"), vm,
			port(tVM2, "fa:16:3e:00:00:11", "compute:nova", tS1, "10.1.0.11")}}
}

type renderCase struct {
	name string
	mod  func(n *model.Network)
	conf []string // config overrides
	path string   // "" when it must render
}

func vmOpt(i int, f func(o *model.ExtraDHCPOpt)) func(n *model.Network) {
	return func(n *model.Network) { f(&n.Ports[1].ExtraDHCPOpts[i]) }
}

func vmDNS(f func(d *model.DNSAssignment)) func(n *model.Network) {
	return func(n *model.Network) { f(&n.Ports[1].DNSAssignment[0]) }
}

func hostileRenderCases() []renderCase {
	max := strings.Repeat("m", model.MaxTextLen)
	// a client-id whose tail starts dnsmasq's second 1024-byte chunk with a
	// host line of its own
	chunked := strings.Repeat("x", 1024-len("fa:16:3e:00:00:10,tag:dhcpv6,id:")) + "fa:16:3e:00:00:66,evil.,10.1.0.66"
	cases := []renderCase{
		{"newline in opt_name and opt_value: cut", vmOpt(1, func(o *model.ExtraDHCPOpt) {
			o.OptName, o.OptValue = "bootfile-name\ntag:subnet-"+tS1+",option:router,6.6.6.6", "pxe\ndhcp-range=evil"
		}), nil, ""},
		{"newline in client-id: cut", vmOpt(0, func(o *model.ExtraDHCPOpt) { o.OptValue = "01:02\nfa:16:3e:00:00:66,evil,10.1.0.66" }), nil, ""},
		{"newline in names: cut", vmDNS(func(d *model.DNSAssignment) {
			d.Hostname, d.FQDN = "vm\n10.1.0.66\tevil evil", "vm.example.\nfa:16:3e:00:00:66,evil,10.1.0.66"
		}), nil, ""},
		{"unicode line separators stay in their line", vmOpt(1, func(o *model.ExtraDHCPOpt) { o.OptValue = "a\u2028b\u0085c\u2029d" }), nil, ""},
		{"longest values everywhere", func(n *model.Network) {
			vm := n.Ports[1]
			vm.ExtraDHCPOpts[0].OptValue = strings.Repeat("c", model.MaxTextLen)
			vm.ExtraDHCPOpts[1].OptName, vm.ExtraDHCPOpts[1].OptValue = "tag:"+max[:model.MaxTextLen-len("tag:,bootfile-name")]+",bootfile-name", max
			vm.DNSAssignment = append(vm.DNSAssignment, model.DNSAssignment{Hostname: max, FQDN: max, IPAddress: "2001:db8:2::10"})
		}, []string{"dnsmasq_enable_addr6_list", "true"}, ""},
		{"256-byte opt_value", vmOpt(1, func(o *model.ExtraDHCPOpt) { o.OptValue = max + "x" }), nil, "ports[1].extra_dhcp_opts[1].opt_value"},
		{"256-byte opt_name", vmOpt(1, func(o *model.ExtraDHCPOpt) { o.OptName = max + "x" }), nil, "ports[1].extra_dhcp_opts[1].opt_name"},
		{"client-id read as two lines by dnsmasq", vmOpt(0, func(o *model.ExtraDHCPOpt) { o.OptValue = chunked }), nil, "ports[1].extra_dhcp_opts[0].opt_value"},
		{"client-id with commas claims another MAC", vmOpt(0, func(o *model.ExtraDHCPOpt) { o.OptValue = "x,fa:16:3e:00:00:11,evil,10.1.0.66" }), nil,
			"ports[1].extra_dhcp_opts[0].opt_value"},
		{"1 MB opt_value", vmOpt(1, func(o *model.ExtraDHCPOpt) { o.OptValue = strings.Repeat("v", 1<<20) }), nil, "ports[1].extra_dhcp_opts[1].opt_value"},
		{"256-byte fqdn", vmDNS(func(d *model.DNSAssignment) { d.FQDN = max + "." }), nil, "ports[1].dns_assignment[0].fqdn"},
		{"1 MB hostname", vmDNS(func(d *model.DNSAssignment) { d.Hostname = strings.Repeat("h", 1<<20) }), nil, "ports[1].dns_assignment[0].hostname"},
		{"tab in hostname", vmDNS(func(d *model.DNSAssignment) { d.Hostname = "vm\tevil" }), nil, "ports[1].dns_assignment[0].hostname"},
		{"CR in opt_value", vmOpt(1, func(o *model.ExtraDHCPOpt) { o.OptValue = "pxe\r\ndhcp-range=x" }), nil, "ports[1].extra_dhcp_opts[1].opt_value"},
		{"NUL in opt_name", vmOpt(1, func(o *model.ExtraDHCPOpt) { o.OptName = "boot\x00file" }), nil, "ports[1].extra_dhcp_opts[1].opt_name"},
		{"../ in network id", func(n *model.Network) { n.ID = "../../../etc/cron.d" }, nil, "id"},
		{"../ in port id", func(n *model.Network) { n.Ports[1].ID = "../" + tVM1[3:] }, nil, "ports[1].id"},
		{"../ in subnet id", func(n *model.Network) { n.Subnets[2].ID = "../" + tS3[3:] }, nil, "subnets[2].id"},
		{"mtu -1: no mtu option", func(n *model.Network) { n.MTU = -1 }, nil, ""},
		{"mtu 0: no mtu option", func(n *model.Network) { n.MTU = 0 }, nil, ""},
		{"mtu 70000: model.Validate refuses it; rendered as a number", func(n *model.Network) { n.MTU = 70000 }, nil, ""},
		{"IPv4 /0", func(n *model.Network) { n.Subnets[0].CIDR = "0.0.0.0/0" }, nil, ""},
		{"IPv4 /32", func(n *model.Network) { n.Subnets[0].CIDR = "10.1.0.2/32" }, nil, ""},
		{"IPv4 /33", func(n *model.Network) { n.Subnets[0].CIDR = "10.1.0.0/33" }, nil, "subnets[0].cidr"},
		{"IPv6 /127", func(n *model.Network) { n.Subnets[1].CIDR = "2001:db8:2::/127" }, nil, ""},
		{"IPv6 /0", func(n *model.Network) { n.Subnets[1].CIDR = "::/0" }, nil, ""},
		{"IPv6 /129", func(n *model.Network) { n.Subnets[1].CIDR = "2001:db8:2::/129" }, nil, "subnets[1].cidr"},
		{"duplicate IPs", func(n *model.Network) { n.Ports[2].FixedIPs[0].IPAddress = "10.1.0.10" }, nil, ""},
		{"duplicate subnet ids", func(n *model.Network) {
			n.NonLocalSubnets = []*model.Subnet{v4(tS1, "10.9.0.0/24", "10.9.0.1")}
		}, nil, ""},
		{"duplicate ports", func(n *model.Network) { n.Ports = append(n.Ports, n.Ports[1].Clone()) }, nil, ""},
		{"dns_domain with a newline", nil, []string{"dns_domain", "example.\ndhcp-range=evil"}, "dns_domain"},
		{"dns_domain too long for a name", nil, []string{"dns_domain", strings.Repeat("d", 1000)}, "dns_domain"},
		{"dnsmasq_dns_servers with a newline", nil, []string{"dnsmasq_dns_servers", "8.8.8.8\n--port=53"}, "dnsmasq_dns_servers"},
	}
	for c := byte(1); c < 0x20; c++ {
		if c == '\n' {
			continue
		}
		s := "a" + string(rune(c)) + "b"
		cases = append(cases,
			renderCase{fmt.Sprintf("client-id with %#02x", c), vmOpt(0, func(o *model.ExtraDHCPOpt) { o.OptValue = s }), nil, "ports[1].extra_dhcp_opts[0].opt_value"},
			renderCase{fmt.Sprintf("fqdn with %#02x", c), vmDNS(func(d *model.DNSAssignment) { d.FQDN = s }), nil, "ports[1].dns_assignment[0].fqdn"})
	}
	return cases
}

func TestRenderHostile(t *testing.T) {
	for _, tc := range hostileRenderCases() {
		for _, hostTags := range []bool{false, true} {
			n := hostileNet()
			if tc.mod != nil {
				tc.mod(n)
			}
			c := testConf(t, append([]string{"enable_isolated_metadata", "true"}, tc.conf...)...)
			name := fmt.Sprintf("%s (host tags %v)", tc.name, hostTags)
			files, err := Render(&Input{Network: n, Conf: c, Env: Env{HostTagSupport: hostTags, IPv6Enabled: true, Now: time.Unix(fixtureEpoch, 0)}})
			if tc.path != "" {
				var ve *model.ValidationError
				if !errors.As(err, &ve) || ve.Path != tc.path {
					t.Errorf("%s: got %v, want an error at %s", name, err, tc.path)
				} else if len(err.Error()) > 400 {
					t.Errorf("%s: %d-byte error", name, len(err.Error()))
				}
				continue
			}
			if err != nil {
				t.Errorf("%s: %v", name, err)
				continue
			}
			checkShapes(t, name, n, files)
			for _, f := range [][]byte{files.Host, files.AddnHosts, files.Opts, files.Leases} {
				if strings.Contains(string(f), "evil") || strings.Contains(string(f), "6.6.6.6") {
					t.Errorf("%s: text after a newline was written:\n%s", name, f)
				}
			}
		}
	}
}

// The MTU and the prefix lengths come out as numbers in their argv
// element; an MTU of 0 or less announces none.
func TestRenderHostileNumbers(t *testing.T) {
	for _, tc := range []struct {
		mtu  int
		want string
	}{{-1, ""}, {0, ""}, {68, "68"}, {70000, "70000"}} {
		n := hostileNet()
		n.MTU = tc.mtu
		f := render(t, n, testConf(t), Env{}, "")
		got := ""
		for _, a := range f.Argv {
			if v, ok := strings.CutPrefix(a, "--dhcp-option-force=option:mtu,"); ok {
				got = v
			}
		}
		if got != tc.want {
			t.Errorf("mtu %d: option %q, want %q", tc.mtu, got, tc.want)
		}
	}
	n := hostileNet()
	n.Subnets[0].CIDR = "0.0.0.0/0"
	n.Subnets[1].CIDR = "::/0" // below /64: neutron gives it no range
	n.Subnets[2].CIDR = "2001:db8:3::/127"
	f := render(t, n, testConf(t, "dnsmasq_lease_max", "5000"), Env{}, "")
	if !argvHas(f.Argv, "--dhcp-range=set:subnet-"+tS1+",0.0.0.0,static,0.0.0.0,86400s",
		"--dhcp-range=set:subnet-"+tS3+",2001:db8:3::,static,127,86400s", "--dhcp-lease-max=5000") {
		t.Errorf("argv %q", f.Argv)
	}
	for _, a := range f.Argv {
		if strings.Contains(a, "subnet-"+tS2) {
			t.Errorf("range for a /0 IPv6 subnet: %q", a)
		}
	}
}

var (
	macRe   = `(?:[0-9a-f]{2}:){5}[0-9a-f]{2}`
	uuidRe  = `[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}`
	nameRe  = `[^\s,#\\]+`
	addrRe  = `(?:[0-9.]+|\[[0-9a-fA-F:.]+\](?:,\[[0-9a-fA-F:.]+\])*)`
	hostRe  = regexp.MustCompile(`^(` + macRe + `),(?:tag:dhcpv6,)?(?:set:port-(` + uuidRe + `)|(?:id:[^,\s]*,)?` + nameRe + `,(` + addrRe + `)(?:,set:port-(` + uuidRe + `))?)$`)
	addnRe  = regexp.MustCompile(`^([0-9a-fA-F:.]+)\t` + nameRe + ` ` + nameRe + `$`)
	optsRe  = regexp.MustCompile(`^tag:(subnet|port)-(` + uuidRe + `),(?:tag:[^,\s]*,)*(?:option6?:[^,\s]+|[0-9]+)(?:,[^\s]*)?$`)
	leaseRe = regexp.MustCompile(`^(?:duid \S+|\d+ (` + macRe + `|\d+) ([0-9a-fA-F:.]+) \S+ \S+)$`)
)

// checkShapes checks every line of the rendered files against the shapes
// dnsmasq parses, the network's own MACs, addresses, ports and subnets,
// and dnsmasq's line length; argv elements hold no line break.
func checkShapes(t *testing.T, name string, n *model.Network, f *Files) {
	t.Helper()
	portOfMAC := map[string]map[string]bool{}
	ports, subnets, addrs := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, p := range n.Ports {
		if portOfMAC[p.MACAddress] == nil {
			portOfMAC[p.MACAddress] = map[string]bool{}
		}
		portOfMAC[p.MACAddress][p.ID] = true
		ports[p.ID] = true
		for _, ip := range p.FixedIPs {
			addrs[ip.IPAddress] = true
		}
	}
	for _, s := range n.AllSubnets() {
		subnets[s.ID] = true
	}
	fail := func(file, l, why string) {
		t.Helper()
		if len(l) > 120 {
			l = l[:120] + fmt.Sprintf("... (%d bytes)", len(l))
		}
		t.Errorf("%s: %s line %q: %s", name, file, l, why)
	}
	each := func(file string, b []byte, trailing bool, tabOK bool, check func(l string)) {
		s := string(b)
		if s == "" {
			return
		}
		if trailing {
			if !strings.HasSuffix(s, "\n") {
				fail(file, s, "no final newline")
				return
			}
			s = s[:len(s)-1]
		}
		for _, l := range strings.Split(s, "\n") {
			switch {
			case len(l) > dnsmasqLineMax:
				fail(file, l, "longer than dnsmasq reads in one piece")
			case strings.ContainsFunc(l, func(r rune) bool { return (r < 0x20 && !(tabOK && r == '\t')) || r == 0x7f }):
				fail(file, l, "control character")
			default:
				check(l)
			}
		}
	}
	each("host", f.Host, true, false, func(l string) {
		m := hostRe.FindStringSubmatch(l)
		if m == nil {
			fail("host", l, "not a dhcp-host line")
			return
		}
		mine := portOfMAC[m[1]]
		if mine == nil {
			fail("host", l, "unknown MAC")
		}
		for _, id := range []string{m[2], m[4]} {
			if id != "" && !mine[id] {
				fail("host", l, "tag of another port")
			}
		}
		for _, a := range strings.Split(m[3], ",") {
			if a != "" && !addrs[strings.Trim(a, "[]")] {
				fail("host", l, "address of no port")
			}
		}
	})
	each("addn_hosts", f.AddnHosts, true, true, func(l string) {
		if m := addnRe.FindStringSubmatch(l); m == nil || !addrs[m[1]] {
			fail("addn_hosts", l, "not '<port address>\\t<fqdn> <hostname>'")
		}
	})
	each("opts", f.Opts, false, false, func(l string) {
		m := optsRe.FindStringSubmatch(l)
		switch {
		case m == nil:
			fail("opts", l, "not a dhcp-option line")
		case m[1] == "subnet" && !subnets[m[2]], m[1] == "port" && !ports[m[2]]:
			fail("opts", l, "tag of no subnet or port")
		}
	})
	each("leases", f.Leases, true, false, func(l string) {
		if m := leaseRe.FindStringSubmatch(l); m == nil || m[1] != "" && portOfMAC[m[1]] == nil && !isDigits(m[1]) || m[2] != "" && !addrs[m[2]] {
			fail("leases", l, "not a lease of a port")
		}
	})
	for _, a := range f.Argv {
		if strings.ContainsAny(a, "\n\r\x00") {
			t.Errorf("%s: argv element %q", name, a)
		}
	}
	if f.Interface == "" || strings.ContainsAny(f.Interface, "/\n ,") {
		t.Errorf("%s: interface %q", name, f.Interface)
	}
}

// hugeNet has n VM ports on a /8 (every tenth with options and a
// dns_assignment) plus this agent's DHCP port.
func hugeNet(n int) *model.Network {
	net := &model.Network{ID: tNet, Subnets: []*model.Subnet{v4(tS1, "10.0.0.0/8", "10.0.0.1")},
		Ports: []*model.Port{ourPort(tS1, "10.0.0.2")}}
	base := netip.MustParseAddr("10.0.0.10")
	for i := 0; i < n; i++ {
		ip := base.String()
		base = base.Next()
		p := port(fmt.Sprintf("dddddddd-0000-4000-8000-%012d", i), fmt.Sprintf("fa:16:3e:%02x:%02x:%02x", i>>16&0xff, i>>8&0xff, i&0xff),
			"compute:nova", tS1, ip)
		if i%10 == 0 {
			p.ExtraDHCPOpts = []model.ExtraDHCPOpt{{OptName: "bootfile-name", OptValue: "pxe"}, {OptName: "client-id", OptValue: fmt.Sprintf("id-%d", i)}}
			p.DNSAssignment = []model.DNSAssignment{{Hostname: fmt.Sprintf("vm%d", i), FQDN: fmt.Sprintf("vm%d.example.", i), IPAddress: ip}}
		}
		net.Ports = append(net.Ports, p)
	}
	return net
}

// 100,000 ports render completely and well-formed. Speed:
// BenchmarkRenderHuge.
func TestRenderHugeNetwork(t *testing.T) {
	const n = 100000
	net := hugeNet(n)
	f := render(t, net, testConf(t), Env{}, "")
	checkShapes(t, "100k ports", net, f)
	for _, c := range []struct {
		name string
		b    []byte
		want int
	}{{"host", f.Host, n}, {"addn_hosts", f.AddnHosts, n}, {"leases", f.Leases, n}} {
		if got := strings.Count(string(c.b), "\n"); got != c.want {
			t.Errorf("%s: %d lines, want %d", c.name, got, c.want)
		}
	}
	if got := strings.Count(string(f.Opts), "tag:port-"); got != n/10 {
		t.Errorf("opts: %d port options, want %d", got, n/10)
	}
	last := net.Ports[n]
	if !strings.HasSuffix(string(f.Host), last.MACAddress+",host-"+strings.ReplaceAll(last.FixedIPs[0].IPAddress, ".", "-")+".openstacklocal,"+last.FixedIPs[0].IPAddress+"\n") {
		t.Errorf("host file does not end with the last port")
	}
}

func BenchmarkRenderHuge(b *testing.B) {
	c := config.Defaults()
	for _, kv := range [][2]string{{"host", "net-1"}, {"interface_driver", "openvswitch"}} {
		if err := c.Set("", kv[0], kv[1]); err != nil {
			b.Fatal(err)
		}
	}
	in := &Input{Network: hugeNet(100000), Conf: c, Env: Env{Now: time.Unix(fixtureEpoch, 0)}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Render(in); err != nil {
			b.Fatal(err)
		}
	}
}
