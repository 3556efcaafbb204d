package model

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// Hostile input to DecodeNetwork and Validate: each case is accepted (a
// value the renderer can write safely, like neutron's cut at the first
// newline) or refused with a *ValidationError naming the JSON path of the
// problem in a message of bounded size; never a panic.

const (
	hNet  = "11111111-1111-4111-8111-111111111111"
	hSub  = "22222222-2222-4222-8222-222222222222"
	hSub6 = "22222222-2222-4222-8222-666666666666"
	hPort = "33333333-3333-4333-8333-333333333333"
	hSeg  = "44444444-4444-4444-8444-444444444444"
)

// hostileBase is a valid network: an IPv4 and an IPv6 subnet, one port
// with an option and a dns_assignment.
func hostileBase() *Network {
	return &Network{ID: hNet, MTU: 1500,
		Subnets: []*Subnet{
			{ID: hSub, IPVersion: 4, CIDR: "10.0.0.0/24", GatewayIP: "10.0.0.1", EnableDHCP: true,
				AllocationPools: []AllocPool{{Start: "10.0.0.2", End: "10.0.0.254"}},
				HostRoutes:      []HostRoute{{Destination: "10.9.0.0/16", Nexthop: "10.0.0.9"}},
				DNSNameservers:  []string{"10.0.0.53"}},
			{ID: hSub6, IPVersion: 6, CIDR: "2001:db8::/64", EnableDHCP: true, IPv6AddressMode: IPv6ModeDHCPv6Stateful},
		},
		Ports: []*Port{{ID: hPort, MACAddress: "fa:16:3e:00:00:01", DeviceID: "vm", DeviceOwner: "compute:nova",
			FixedIPs:      []FixedIP{{SubnetID: hSub, IPAddress: "10.0.0.10"}, {SubnetID: hSub6, IPAddress: "2001:db8::10"}},
			ExtraDHCPOpts: []ExtraDHCPOpt{{OptName: "mtu", OptValue: "1400"}},
			DNSAssignment: []DNSAssignment{{Hostname: "vm", FQDN: "vm.example.", IPAddress: "10.0.0.10"}}}},
	}
}

type hostileCase struct {
	name string
	mod  func(n *Network)
	path string // "" when the network must be accepted
}

func idCases() []hostileCase {
	bad := []string{"../../etc", "..", "", "/", hNet[:35] + "/", hNet + "\n", " " + hNet, "{" + hNet[1:35] + "}",
		"urn:uuid:" + hNet, "11111111/1111-4111-8111-111111111111", "1111111..111-4111-8111-111111111111",
		"11111111-1111-4111-8111-11111111111\x00", "11111111-1111-4111-8111-1111111111111", "g1111111-1111-4111-8111-111111111111"}
	var out []hostileCase
	for i, id := range bad {
		id := id
		out = append(out,
			hostileCase{fmt.Sprintf("network id %d %q", i, id), func(n *Network) { n.ID = id }, "id"},
			hostileCase{fmt.Sprintf("subnet id %d", i), func(n *Network) { n.Subnets[1].ID = id }, "subnets[1].id"},
			hostileCase{fmt.Sprintf("port id %d", i), func(n *Network) { n.Ports[0].ID = id }, "ports[0].id"},
			hostileCase{fmt.Sprintf("fixed ip subnet id %d", i), func(n *Network) { n.Ports[0].FixedIPs[1].SubnetID = id }, "ports[0].fixed_ips[1].subnet_id"},
			hostileCase{fmt.Sprintf("non-local subnet id %d", i), func(n *Network) {
				n.NonLocalSubnets = []*Subnet{{ID: id, IPVersion: 4, CIDR: "10.1.0.0/24"}}
			}, "non_local_subnets[0].id"},
		)
		if id != "" { // an empty segment_id means none
			out = append(out, hostileCase{fmt.Sprintf("segment id %d", i), func(n *Network) { n.Subnets[0].SegmentID = id }, "subnets[0].segment_id"})
		}
	}
	return append(out,
		hostileCase{"upper-case UUIDs", func(n *Network) {
			n.ID = strings.ToUpper(hNet)
			n.Ports[0].ID = strings.ToUpper(hPort)
		}, ""},
		hostileCase{"segment id", func(n *Network) { n.Subnets[0].SegmentID = hSeg }, ""},
	)
}

func textCases() []hostileCase {
	var out []hostileCase
	for c := byte(0); c < 0x20; c++ {
		if c == '\n' {
			continue
		}
		s := "a" + string(rune(c)) + "b"
		out = append(out,
			hostileCase{fmt.Sprintf("opt_name with %#02x", c), func(n *Network) { n.Ports[0].ExtraDHCPOpts[0].OptName = s }, "ports[0].extra_dhcp_opts[0].opt_name"},
			hostileCase{fmt.Sprintf("opt_value with %#02x", c), func(n *Network) { n.Ports[0].ExtraDHCPOpts[0].OptValue = s }, "ports[0].extra_dhcp_opts[0].opt_value"},
			hostileCase{fmt.Sprintf("hostname with %#02x", c), func(n *Network) { n.Ports[0].DNSAssignment[0].Hostname = s }, "ports[0].dns_assignment[0].hostname"},
			hostileCase{fmt.Sprintf("fqdn with %#02x", c), func(n *Network) { n.Ports[0].DNSAssignment[0].FQDN = s }, "ports[0].dns_assignment[0].fqdn"},
			hostileCase{fmt.Sprintf("device_owner with %#02x", c), func(n *Network) { n.Ports[0].DeviceOwner = s }, "ports[0].device_owner"},
		)
	}
	long := strings.Repeat("x", MaxTextLen)
	huge := strings.Repeat("y", 1<<20)
	opt := func(f func(o *ExtraDHCPOpt)) func(n *Network) {
		return func(n *Network) { f(&n.Ports[0].ExtraDHCPOpts[0]) }
	}
	dns := func(f func(d *DNSAssignment)) func(n *Network) {
		return func(n *Network) { f(&n.Ports[0].DNSAssignment[0]) }
	}
	return append(out,
		hostileCase{"DEL in opt_value", opt(func(o *ExtraDHCPOpt) { o.OptValue = "a\x7fb" }), "ports[0].extra_dhcp_opts[0].opt_value"},
		hostileCase{"newline in opt_name: cut", opt(func(o *ExtraDHCPOpt) { o.OptName = "mtu\ndhcp-range=x\x00\r" }), ""},
		hostileCase{"newline in opt_value: cut", opt(func(o *ExtraDHCPOpt) { o.OptValue = "1400\n\x00tag:x,option:router,6.6.6.6" }), ""},
		hostileCase{"CR LF in opt_value", opt(func(o *ExtraDHCPOpt) { o.OptValue = "1400\r\ndhcp-range=x" }), "ports[0].extra_dhcp_opts[0].opt_value"},
		hostileCase{"unicode line separators", opt(func(o *ExtraDHCPOpt) { o.OptValue = "a\u2028b\u0085c\u2029d\ufeff" }), ""},
		hostileCase{"empty opt_name", opt(func(o *ExtraDHCPOpt) { o.OptName = "" }), "ports[0].extra_dhcp_opts[0].opt_name"},
		hostileCase{"blank opt_name", opt(func(o *ExtraDHCPOpt) { o.OptName = "  \nmtu" }), "ports[0].extra_dhcp_opts[0].opt_name"},
		hostileCase{"empty opt_value", opt(func(o *ExtraDHCPOpt) { o.OptValue = "" }), ""},
		hostileCase{"opt ip_version 5", opt(func(o *ExtraDHCPOpt) { o.IPVersion = 5 }), "ports[0].extra_dhcp_opts[0].ip_version"},
		hostileCase{"255-byte opt_value", opt(func(o *ExtraDHCPOpt) { o.OptValue = long }), ""},
		hostileCase{"256-byte opt_value", opt(func(o *ExtraDHCPOpt) { o.OptValue = long + "x" }), "ports[0].extra_dhcp_opts[0].opt_value"},
		hostileCase{"1 MB opt_value", opt(func(o *ExtraDHCPOpt) { o.OptValue = huge }), "ports[0].extra_dhcp_opts[0].opt_value"},
		hostileCase{"1 MB after the newline", opt(func(o *ExtraDHCPOpt) { o.OptValue = "1400\n" + huge }), ""},
		hostileCase{"1 MB opt_name", opt(func(o *ExtraDHCPOpt) { o.OptName = huge }), "ports[0].extra_dhcp_opts[0].opt_name"},
		hostileCase{"1 MB client-id", opt(func(o *ExtraDHCPOpt) { o.OptName, o.OptValue = ClientIDOptName, huge }), "ports[0].extra_dhcp_opts[0].opt_value"},
		hostileCase{"client-id with commas", opt(func(o *ExtraDHCPOpt) {
			o.OptName, o.OptValue = ClientIDOptName, "x,fa:16:3e:00:00:02,evil,10.0.0.66"
		}), "ports[0].extra_dhcp_opts[0].opt_value"},
		hostileCase{"option 61 with a comma", opt(func(o *ExtraDHCPOpt) { o.OptName, o.OptValue = "61\nx", "01:02,set:y" }), "ports[0].extra_dhcp_opts[0].opt_value"},
		hostileCase{"client-id with a comma after the newline", opt(func(o *ExtraDHCPOpt) { o.OptName, o.OptValue = "61", "01:02\n,x" }), ""},
		hostileCase{"commas in another option", opt(func(o *ExtraDHCPOpt) { o.OptName, o.OptValue = "tag:a,tag:b,router", "10.0.0.1,10.0.0.2" }), ""},
		hostileCase{"1 MB device_id", func(n *Network) { n.Ports[0].DeviceID = huge }, "ports[0].device_id"},
		hostileCase{"1 MB network id", func(n *Network) { n.ID = huge }, "id"},
		hostileCase{"1 MB MAC", func(n *Network) { n.Ports[0].MACAddress = huge }, "ports[0].mac_address"},
		hostileCase{"1 MB CIDR", func(n *Network) { n.Subnets[0].CIDR = huge }, "subnets[0].cidr"},
		hostileCase{"1 MB fixed IP", func(n *Network) { n.Ports[0].FixedIPs[0].IPAddress = huge }, "ports[0].fixed_ips[0].ip_address"},
		hostileCase{"1 MB ipv6 mode", func(n *Network) { n.Subnets[1].IPv6RAMode = huge }, "subnets[1].ipv6_ra_mode"},
		hostileCase{"newline in hostname: cut", dns(func(d *DNSAssignment) { d.Hostname = "vm\n10.0.0.1 evil" }), ""},
		hostileCase{"newline in fqdn: cut", dns(func(d *DNSAssignment) { d.FQDN = "vm.example.\nfa:16:3e:00:00:66,evil" }), ""},
		hostileCase{"space in hostname", dns(func(d *DNSAssignment) { d.Hostname = "vm evil" }), "ports[0].dns_assignment[0].hostname"},
		hostileCase{"comma in fqdn", dns(func(d *DNSAssignment) { d.FQDN = "vm,10.0.0.66" }), "ports[0].dns_assignment[0].fqdn"},
		hostileCase{"hash in fqdn", dns(func(d *DNSAssignment) { d.FQDN = "vm#x" }), "ports[0].dns_assignment[0].fqdn"},
		hostileCase{"backslash in hostname", dns(func(d *DNSAssignment) { d.Hostname = `vm\x` }), "ports[0].dns_assignment[0].hostname"},
		hostileCase{"255-byte fqdn", dns(func(d *DNSAssignment) { d.FQDN = long }), ""},
		hostileCase{"256-byte fqdn", dns(func(d *DNSAssignment) { d.FQDN = long + "." }), "ports[0].dns_assignment[0].fqdn"},
		hostileCase{"1 MB hostname", dns(func(d *DNSAssignment) { d.Hostname = huge }), "ports[0].dns_assignment[0].hostname"},
		hostileCase{"dns_assignment address with a zone", dns(func(d *DNSAssignment) { d.IPAddress = "fe80::1%eth0\nx" }), "ports[0].dns_assignment[0].ip_address"},
	)
}

func numberCases() []hostileCase {
	var out []hostileCase
	for _, m := range []struct {
		mtu int
		ok  bool
	}{{-1, false}, {-1 << 31, false}, {-1 << 62, false}, {0, true}, {68, true}, {1500, true}, {9000, true},
		{65535, true}, {65536, false}, {70000, false}, {1 << 40, false}} {
		path := "mtu"
		if m.ok {
			path = ""
		}
		mtu := m.mtu
		out = append(out, hostileCase{fmt.Sprintf("mtu %d", mtu), func(n *Network) { n.MTU = mtu }, path})
	}
	for _, c := range []struct {
		version int
		cidr    string
		ok      bool
	}{
		{4, "0.0.0.0/0", true}, {4, "10.0.0.0/0", true}, {4, "10.0.0.0/31", true}, {4, "10.0.0.0/32", true},
		{4, "10.0.0.0/33", false}, {4, "10.0.0.0/-1", false}, {4, "10.0.0.0/", false}, {4, "10.0.0.0", false},
		{4, "10.0.0.0/024", false}, {4, "10.0.0.0/+8", false}, {4, "10.0.0.0/ 8", false}, {4, "10.0.0.0/8\n", false},
		{4, "10.0.0.0/99999999999999999999", false}, {4, "2001:db8::/64", false},
		{6, "::/0", true}, {6, "2001:db8::/64", true}, {6, "2001:db8::/127", true}, {6, "2001:db8::/128", true},
		{6, "2001:db8::/129", false}, {6, "2001:db8::%eth0/64", false}, {6, "10.0.0.0/8", false},
		{6, "::ffff:10.0.0.0/104", true},
	} {
		path := "subnets[0].cidr"
		if c.ok {
			path = ""
		}
		c := c
		out = append(out, hostileCase{fmt.Sprintf("IPv%d cidr %q", c.version, c.cidr), func(n *Network) {
			n.Subnets[0] = &Subnet{ID: hSub, IPVersion: c.version, CIDR: c.cidr, EnableDHCP: true}
			n.Ports[0].FixedIPs = n.Ports[0].FixedIPs[1:]
			n.Ports[0].DNSAssignment = nil
		}, path})
	}
	return append(out,
		hostileCase{"ip_version 5", func(n *Network) { n.Subnets[0].IPVersion = 5 }, "subnets[0].ip_version"},
		hostileCase{"host route /33", func(n *Network) { n.Subnets[0].HostRoutes[0].Destination = "10.9.0.0/33" }, "subnets[0].host_routes[0].destination"},
		hostileCase{"host route nexthop with a zone", func(n *Network) { n.Subnets[0].HostRoutes[0].Nexthop = "fe80::1%a,b" }, "subnets[0].host_routes[0].nexthop"},
		hostileCase{"nameserver with a newline", func(n *Network) { n.Subnets[0].DNSNameservers = []string{"10.0.0.53\nport=53"} }, "subnets[0].dns_nameservers[0]"},
		hostileCase{"pool end not an IP", func(n *Network) { n.Subnets[0].AllocationPools[0].End = "10.0.0.254/../x" }, "subnets[0].allocation_pools[0].end"},
		hostileCase{"MAC with a newline", func(n *Network) { n.Ports[0].MACAddress = "fa:16:3e:00:00:1\n" }, "ports[0].mac_address"},
		hostileCase{"MAC 20 bytes", func(n *Network) {
			n.Ports[0].MACAddress = "00:00:00:00:fe:80:00:00:00:00:00:00:02:00:5e:10:00:00:00:01"
		}, "ports[0].mac_address"},
		hostileCase{"fixed IP with a zone", func(n *Network) { n.Ports[0].FixedIPs[1].IPAddress = "2001:db8::10%x,set:y" }, "ports[0].fixed_ips[1].ip_address"},
		hostileCase{"duplicate IPs: the agent resyncs, the renderer writes both", func(n *Network) {
			p := n.Ports[0].Clone()
			p.ID, p.MACAddress = "33333333-3333-4333-8333-000000000002", "fa:16:3e:00:00:02"
			n.Ports = append(n.Ports, p)
		}, ""},
		hostileCase{"duplicate subnet", func(n *Network) { n.Subnets = append(n.Subnets, n.Subnets[0].Clone()) }, "subnets[2].id"},
		hostileCase{"null subnet", func(n *Network) { n.Subnets = append(n.Subnets, nil) }, "subnets[2]"},
		hostileCase{"null port", func(n *Network) { n.Ports = append([]*Port{nil}, n.Ports...) }, "ports[0]"},
	)
}

func TestValidateHostile(t *testing.T) {
	var cases []hostileCase
	cases = append(cases, idCases()...)
	cases = append(cases, textCases()...)
	cases = append(cases, numberCases()...)
	for _, tc := range cases {
		n := hostileBase()
		tc.mod(n)
		checkHostile(t, tc.name, n.Validate(), tc.path)
		// the same through JSON, as a network file or the RPC delivers it
		b, err := json.Marshal(n)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		got, err := DecodeNetwork(b)
		checkHostile(t, tc.name+" (JSON)", err, tc.path)
		if (err == nil) != (got != nil) {
			t.Errorf("%s: network %v with error %v", tc.name, got, err)
		}
	}
}

func checkHostile(t *testing.T, name string, err error, path string) {
	t.Helper()
	if path == "" {
		if err != nil {
			t.Errorf("%s: refused: %v", name, err)
		}
		return
	}
	var ve *ValidationError
	if !errors.As(err, &ve) || ve.Path != path {
		t.Errorf("%s: got %v, want an error at %s", name, err, path)
		return
	}
	if len(err.Error()) > 400 {
		t.Errorf("%s: %d-byte error message", name, len(err.Error()))
	}
}

// JSON that is hostile before it is a network.
func TestDecodeHostileJSON(t *testing.T) {
	for _, tc := range []struct{ name, json, path string }{
		{"mtu as a string", `{"id":"` + hNet + `","mtu":"1500"}`, "mtu"},
		{"mtu beyond int64", `{"id":"` + hNet + `","mtu":1e20}`, "mtu"},
		{"mtu fraction", `{"id":"` + hNet + `","mtu":1500.5}`, "mtu"},
		{"revision beyond int64", `{"id":"` + hNet + `","revision_number":1e400}`, "revision_number"},
		{"id as a number", `{"id":5}`, "id"},
		{"port id as an object", `{"id":"` + hNet + `","ports":[{"id":{"a":1}}]}`, "ports[0].id"},
		{"last duplicate key wins", `{"id":"` + hNet + `","id":"../../etc"}`, "id"},
		{"trailing document", `{"id":"` + hNet + `"} {"id":"../x"}`, ""},
		{"deep nesting", `{"id":"` + hNet + `","ports":` + strings.Repeat("[", 100000) + strings.Repeat("]", 100000) + `}`, ""},
		{"truncated", `{"id":"` + hNet + `","ports":[{"id":"`, ""},
		{"not JSON", "\x00\xff\xfe", ""},
		{"empty", "", ""},
	} {
		n, err := DecodeNetwork([]byte(tc.json))
		var ve *ValidationError
		if n != nil || !errors.As(err, &ve) {
			t.Errorf("%s: got %v, %v", tc.name, n, err)
			continue
		}
		if tc.path != "" && ve.Path != tc.path {
			t.Errorf("%s: path %q, want %q (%v)", tc.name, ve.Path, tc.path, err)
		}
		if len(err.Error()) > 400 {
			t.Errorf("%s: %d-byte error message", tc.name, len(err.Error()))
		}
	}
}

// A port notification's network_id becomes a path too.
func TestPortValidateHostile(t *testing.T) {
	p := hostileBase().Ports[0]
	p.NetworkID = hNet
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"", "../" + hNet[3:], hNet + "/.."} {
		p.NetworkID = id
		checkHostile(t, "network_id "+id, p.Validate(), "port.network_id")
	}
	p.NetworkID = hNet
	p.ExtraDHCPOpts[0].OptValue = "a\rb"
	checkHostile(t, "CR in a port notification", p.Validate(), "port.extra_dhcp_opts[0].opt_value")
}

// hugeNetwork has n ports on a /8, each with a dns_assignment and every
// tenth with options.
func hugeNetwork(n int) *Network {
	net := &Network{ID: hNet, Subnets: []*Subnet{{ID: hSub, IPVersion: 4, CIDR: "10.0.0.0/8", GatewayIP: "10.0.0.1", EnableDHCP: true}}}
	net.Ports = make([]*Port, n)
	for i := range net.Ports {
		ip := fmt.Sprintf("10.%d.%d.%d", (i+2)>>16&0xff, (i+2)>>8&0xff, (i+2)&0xff)
		p := &Port{ID: fmt.Sprintf("33333333-3333-4333-8333-%012d", i), MACAddress: fmt.Sprintf("fa:16:3e:%02x:%02x:%02x", i>>16&0xff, i>>8&0xff, i&0xff),
			DeviceID: "vm", DeviceOwner: "compute:nova", FixedIPs: []FixedIP{{SubnetID: hSub, IPAddress: ip}},
			DNSAssignment: []DNSAssignment{{Hostname: fmt.Sprintf("vm%d", i), FQDN: fmt.Sprintf("vm%d.example.", i), IPAddress: ip}}}
		if i%10 == 0 {
			p.ExtraDHCPOpts = []ExtraDHCPOpt{{OptName: "mtu", OptValue: "1400"}, {OptName: "tag:x,domain-search", OptValue: "a.example"}}
		}
		net.Ports[i] = p
	}
	return net
}

// 100,000 ports validate (and decode); a bad last port is found with its
// index. Speed: BenchmarkDecodeHugeNetwork.
func TestValidateHugeNetwork(t *testing.T) {
	n := hugeNetwork(100000)
	if err := n.Validate(); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(n)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeNetwork(b)
	if err != nil || len(got.Ports) != 100000 {
		t.Fatalf("decode: %v", err)
	}
	n.Ports[99999].ExtraDHCPOpts = []ExtraDHCPOpt{{OptName: "mtu", OptValue: "1\r"}}
	checkHostile(t, "bad last port", n.Validate(), "ports[99999].extra_dhcp_opts[0].opt_value")
}

func BenchmarkDecodeHugeNetwork(b *testing.B) {
	data, err := json.Marshal(hugeNetwork(100000))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := DecodeNetwork(data); err != nil {
			b.Fatal(err)
		}
	}
}

func TestWithoutInvalidPorts(t *testing.T) {
	n := hostileBase()
	if got, bad := n.WithoutInvalidPorts(); got != n || len(bad) != 0 {
		t.Fatalf("valid network: %v", bad)
	}
	good := n.Ports[0].ID
	hostile := n.Ports[0].Clone()
	hostile.ID = "b0b0b0b0-0000-4000-8000-000000000001"
	hostile.ExtraDHCPOpts = []ExtraDHCPOpt{{OptName: "bootfile-name", OptValue: "pxe\x00"}}
	n.Ports = append(n.Ports, hostile, nil)
	got, bad := n.WithoutInvalidPorts()
	if len(bad) != 2 || bad[0].Port != hostile || bad[1].Port != nil ||
		!strings.Contains(bad[0].Err.Error(), "ports[1].extra_dhcp_opts[0].opt_value") ||
		!strings.Contains(bad[1].Err.Error(), "ports[2]") {
		t.Fatalf("invalid ports %+v", bad)
	}
	if len(got.Ports) != 1 || got.Ports[0].ID != good || got.ID != n.ID || len(got.Subnets) != 2 {
		t.Fatalf("kept %+v", got.Ports)
	}
	if len(n.Ports) != 3 {
		t.Fatal("the original network was changed")
	}
	if err := got.Validate(); err != nil {
		t.Fatalf("network without them: %v", err)
	}
}
