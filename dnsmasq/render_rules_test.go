package dnsmasq

import (
	"errors"
	"strings"
	"testing"
	"time"

	"qdhcp/dhcpagent/config"
	"qdhcp/model"
)

// Table tests for NEUTRON_FACTS (d) rules the reference fixtures do not
// exercise. The expected files are written out by hand from the rules.

const (
	tNet   = "11111111-1111-4111-8111-111111111111"
	tS1    = "aaaaaaaa-0000-4000-8000-000000000001"
	tS2    = "aaaaaaaa-0000-4000-8000-000000000002"
	tS3    = "aaaaaaaa-0000-4000-8000-000000000003"
	tS4    = "aaaaaaaa-0000-4000-8000-000000000004"
	tSegA  = "bbbbbbbb-0000-4000-8000-00000000000a"
	tSegB  = "bbbbbbbb-0000-4000-8000-00000000000b"
	tDHCP  = "cccccccc-0000-4000-8000-000000000001"
	tDHCP2 = "cccccccc-0000-4000-8000-000000000002"
	tVM1   = "dddddddd-0000-4000-8000-000000000001"
	tVM2   = "dddddddd-0000-4000-8000-000000000002"
	tRtr   = "eeeeeeee-0000-4000-8000-000000000001"
)

func testConf(t *testing.T, kv ...string) *config.Config {
	t.Helper()
	c := config.Defaults()
	all := append([]string{"state_path", "/var/lib/neutron", "host", "net-1", "interface_driver", "openvswitch"}, kv...)
	for i := 0; i < len(all); i += 2 {
		if err := c.Set("", all[i], all[i+1]); err != nil {
			t.Fatalf("set %s: %v", all[i], err)
		}
	}
	return c
}

func v4(id, cidr, gw string) *model.Subnet {
	return &model.Subnet{ID: id, IPVersion: 4, CIDR: cidr, GatewayIP: gw, EnableDHCP: true}
}

func v6(id, cidr, mode string) *model.Subnet {
	return &model.Subnet{ID: id, IPVersion: 6, CIDR: cidr, EnableDHCP: true, IPv6AddressMode: mode, IPv6RAMode: mode}
}

func port(id, mac, owner string, ips ...string) *model.Port {
	p := &model.Port{ID: id, MACAddress: mac, DeviceOwner: owner, DeviceID: "vm-" + id}
	for i := 0; i+1 < len(ips); i += 2 {
		p.FixedIPs = append(p.FixedIPs, model.FixedIP{SubnetID: ips[i], IPAddress: ips[i+1]})
	}
	return p
}

// ourPort is this agent's DHCP port (host net-1).
func ourPort(ips ...string) *model.Port {
	p := port(tDHCP, "fa:16:3e:00:00:02", model.OwnerDHCP, ips...)
	p.DeviceID = model.DHCPDeviceID("net-1", tNet)
	return p
}

func render(t *testing.T, n *model.Network, c *config.Config, env Env, prev string) *Files {
	t.Helper()
	if env.Now.IsZero() {
		env.Now = time.Unix(fixtureEpoch, 0)
	}
	in := &Input{Network: n, Conf: c, Env: env}
	if prev != "" {
		in.PrevLeases = []byte(prev)
	}
	f, err := Render(in)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func lines(s ...string) string { return strings.Join(s, "\n") + "\n" }

func expectFile(t *testing.T, name string, got []byte, want string) {
	t.Helper()
	if string(got) != want {
		t.Errorf("%s:\n got %q\nwant %q", name, got, want)
	}
}

func argvHas(argv []string, want ...string) bool {
	i := 0
	for _, a := range argv {
		if i < len(want) && a == want[i] {
			i++
		}
	}
	return i == len(want)
}

// Segments: on-link routes only between IPv4 subnets of one segment (any
// enable_dhcp), inserted at the front; non-local subnets get ranges and
// options too; a second DHCP port makes a dns-server list.
func TestRenderSegments(t *testing.T) {
	s1, s2, s4 := v4(tS1, "10.1.0.0/24", "10.1.0.1"), v4(tS2, "10.2.0.0/24", "10.2.0.1"), v4(tS4, "10.4.0.0/24", "10.4.0.1")
	s1.SegmentID, s2.SegmentID, s4.SegmentID = tSegA, tSegA, tSegA
	s4.EnableDHCP = false
	s3 := v4(tS3, "10.3.0.0/24", "10.3.0.1")
	s3.SegmentID = tSegB
	other := port(tDHCP2, "fa:16:3e:00:00:03", model.OwnerDHCP, tS1, "10.1.0.3")
	n := &model.Network{ID: tNet, Subnets: []*model.Subnet{s1, s2, s4}, NonLocalSubnets: []*model.Subnet{s3},
		Ports: []*model.Port{ourPort(tS1, "10.1.0.2", tS2, "10.2.0.2"), other,
			port(tVM1, "fa:16:3e:00:00:10", "compute:nova", tS1, "10.1.0.10")}}
	f := render(t, n, testConf(t), Env{}, "")
	expectFile(t, "opts", f.Opts, strings.Join([]string{
		"tag:subnet-" + tS1 + ",option:classless-static-route,10.4.0.0/24,0.0.0.0,10.2.0.0/24,0.0.0.0,0.0.0.0/0,10.1.0.1",
		"tag:subnet-" + tS1 + ",249,10.4.0.0/24,0.0.0.0,10.2.0.0/24,0.0.0.0,0.0.0.0/0,10.1.0.1",
		"tag:subnet-" + tS1 + ",option:router,10.1.0.1",
		"tag:subnet-" + tS2 + ",option:classless-static-route,10.4.0.0/24,0.0.0.0,10.1.0.0/24,0.0.0.0,0.0.0.0/0,10.2.0.1",
		"tag:subnet-" + tS2 + ",249,10.4.0.0/24,0.0.0.0,10.1.0.0/24,0.0.0.0,0.0.0.0/0,10.2.0.1",
		"tag:subnet-" + tS2 + ",option:router,10.2.0.1",
		"tag:subnet-" + tS3 + ",option:router,10.3.0.1",
		"tag:subnet-" + tS1 + ",option:dns-server,10.1.0.2,10.1.0.3",
	}, "\n"))
	if !argvHas(f.Argv,
		"--dhcp-range=set:subnet-"+tS1+",10.1.0.0,static,255.255.255.0,86400s",
		"--dhcp-range=set:subnet-"+tS2+",10.2.0.0,static,255.255.255.0,86400s",
		"--dhcp-range=set:subnet-"+tS3+",10.3.0.0,static,255.255.255.0,86400s",
		"--dhcp-lease-max=768") {
		t.Errorf("argv %q", f.Argv)
	}
}

// dhcp_lease_duration = -1: ranges are infinite and initial leases expire
// at 0; dnsmasq_lease_max caps the lease count.
func TestRenderInfiniteLease(t *testing.T) {
	n := &model.Network{ID: tNet, MTU: 0, Subnets: []*model.Subnet{v4(tS1, "10.1.0.0/16", "")},
		Ports: []*model.Port{ourPort(tS1, "10.1.0.2"), port(tVM1, "fa:16:3e:00:00:10", "", tS1, "10.1.0.10")}}
	f := render(t, n, testConf(t, "dhcp_lease_duration", "-1", "dnsmasq_lease_max", "1000"), Env{}, "")
	expectFile(t, "leases", f.Leases, lines("0 fa:16:3e:00:00:10 10.1.0.10 * *"))
	expectFile(t, "opts", f.Opts, "tag:subnet-"+tS1+",option:router")
	if !argvHas(f.Argv, "--dhcp-range=set:subnet-"+tS1+",10.1.0.0,static,255.255.0.0,infinite", "--dhcp-lease-max=1000") {
		t.Errorf("argv %q", f.Argv)
	}
	for _, a := range f.Argv {
		if strings.Contains(a, "option:mtu") {
			t.Errorf("mtu 0 advertised: %q", a)
		}
	}
}

// dnsmasq_enable_addr6_list merges a port's addresses on one stateful
// subnet into one host line, after its other entries; addn_hosts and
// leases stay per address; old IPv6 leases and the duid line are kept.
func TestRenderAddr6List(t *testing.T) {
	s1, s2, s3 := v4(tS1, "10.1.0.0/24", "10.1.0.1"), v6(tS2, "2001:db8:2::/64", "dhcpv6-stateful"), v6(tS3, "2001:db8:3::/64", "dhcpv6-stateful")
	vm := port(tVM1, "fa:16:3e:00:00:10", "compute:nova", tS2, "2001:db8:2::10", tS1, "10.1.0.10", tS2, "2001:db8:2::11", tS3, "2001:db8:3::10")
	vm.DNSAssignment = []model.DNSAssignment{
		{Hostname: "vm", IPAddress: "2001:db8:2::11", FQDN: "vm.example."},
		{Hostname: "vm1", IPAddress: "10.1.0.10", FQDN: "vm1.example."},
	}
	n := &model.Network{ID: tNet, Subnets: []*model.Subnet{s1, s2, s3},
		Ports: []*model.Port{ourPort(tS1, "10.1.0.2", tS2, "2001:db8:2::2", tS3, "2001:db8:3::2"), vm}}
	prev := lines(
		"duid 00:01:00:01:aa:bb",
		"1699999999 77 2001:db8:2::11 vm 00:03:00:01:fa:16:3e:00:00:10",
		"1699999999 fa:16:3e:00:00:99 10.1.0.99 old *",
		"1699999999 78 2001:db8:2::99 gone 00:03:00:01:fa:16:3e:00:00:99")
	f := render(t, n, testConf(t, "dnsmasq_enable_addr6_list", "true"), Env{HostTagSupport: true}, prev)
	expectFile(t, "host", f.Host, lines(
		"fa:16:3e:00:00:10,vm1.example.,10.1.0.10",
		// the first address of the list has no dns_assignment: the name is generated from it
		"fa:16:3e:00:00:10,tag:dhcpv6,host-2001-db8-2--10.openstacklocal,[2001:db8:2::10],[2001:db8:2::11]",
		"fa:16:3e:00:00:10,tag:dhcpv6,host-2001-db8-3--10.openstacklocal,[2001:db8:3::10]"))
	expectFile(t, "addn_hosts", f.AddnHosts, lines(
		"2001:db8:2::10\thost-2001-db8-2--10.openstacklocal host-2001-db8-2--10",
		"10.1.0.10\tvm1.example. vm1",
		"2001:db8:2::11\tvm.example. vm",
		"2001:db8:3::10\thost-2001-db8-3--10.openstacklocal host-2001-db8-3--10"))
	expectFile(t, "leases", f.Leases, lines(
		"duid 00:01:00:01:aa:bb",
		"1700086400 fa:16:3e:00:00:10 10.1.0.10 * *",
		"1699999999 77 2001:db8:2::11 vm 00:03:00:01:fa:16:3e:00:00:10"))

	// without the option: one line per address, in fixed_ips order
	f = render(t, n, testConf(t), Env{HostTagSupport: true}, prev)
	expectFile(t, "host", f.Host, lines(
		"fa:16:3e:00:00:10,tag:dhcpv6,host-2001-db8-2--10.openstacklocal,[2001:db8:2::10]",
		"fa:16:3e:00:00:10,vm1.example.,10.1.0.10",
		"fa:16:3e:00:00:10,tag:dhcpv6,vm.example.,[2001:db8:2::11]",
		"fa:16:3e:00:00:10,tag:dhcpv6,host-2001-db8-3--10.openstacklocal,[2001:db8:3::10]"))
}

// Without host tag support IPv6 entries carry no tag:dhcpv6.
func TestRenderHostTagsOff(t *testing.T) {
	n := &model.Network{ID: tNet, Subnets: []*model.Subnet{v6(tS2, "2001:db8:2::/64", "dhcpv6-stateful")},
		Ports: []*model.Port{ourPort(tS2, "2001:db8:2::2"), port(tVM1, "fa:16:3e:00:00:10", "compute:nova", tS2, "2001:db8:2::10")}}
	f := render(t, n, testConf(t, "dns_domain", ""), Env{HostTagSupport: false}, "")
	expectFile(t, "host", f.Host, lines("fa:16:3e:00:00:10,host-2001-db8-2--10,[2001:db8:2::10]"))
	expectFile(t, "addn_hosts", f.AddnHosts, lines("2001:db8:2::10\thost-2001-db8-2--10 host-2001-db8-2--10"))
	expectFile(t, "opts", f.Opts, "") // no dns_domain, no domain-search
	for _, a := range f.Argv {
		if strings.HasPrefix(a, "--domain") {
			t.Errorf("no dns_domain, got %q", a)
		}
	}
}

// Extra options on IPv6: option6 names, a stateless subnet's options line
// ("mac,tag:dhcpv6,set:port-X"), nothing for SLAAC, and an option whose
// ip_version the port has no address of is skipped; name/value are cut at
// the first newline; client-id alone gives an id: line without set:.
func TestRenderExtraOptsV6AndClientID(t *testing.T) {
	sl, st, v4s := v6(tS2, "2001:db8:2::/64", "dhcpv6-stateless"), v6(tS3, "2001:db8:3::/64", "slaac"), v4(tS1, "10.1.0.0/24", "10.1.0.1")
	vm1 := port(tVM1, "fa:16:3e:00:00:10", "compute:nova", tS3, "2001:db8:3::10", tS2, "2001:db8:2::10")
	vm1.ExtraDHCPOpts = []model.ExtraDHCPOpt{
		{OptName: "dns-server", OptValue: "[2001:db8::53]", IPVersion: 6},
		{OptName: "23", OptValue: "x\ny", IPVersion: 6},
		{OptName: "bootfile-name", OptValue: "pxe", IPVersion: 4}, // vm1 has no IPv4 address
	}
	vm2 := port(tVM2, "fa:16:3e:00:00:11", "compute:nova", tS1, "10.1.0.11")
	vm2.ExtraDHCPOpts = []model.ExtraDHCPOpt{{OptName: "61", OptValue: "01:02\nset:evil", IPVersion: 4}}
	slaacOnly := port(tRtr, "fa:16:3e:00:00:12", "compute:nova", tS3, "2001:db8:3::12")
	slaacOnly.ExtraDHCPOpts = []model.ExtraDHCPOpt{{OptName: "tag:x,tag:y,domain-search", OptValue: "a.b", IPVersion: 6}}
	n := &model.Network{ID: tNet, Subnets: []*model.Subnet{v4s, sl, st},
		Ports: []*model.Port{ourPort(tS1, "10.1.0.2", tS2, "2001:db8:2::2"), vm1, vm2, slaacOnly}}
	f := render(t, n, testConf(t), Env{HostTagSupport: true}, "")
	expectFile(t, "host", f.Host, lines(
		"fa:16:3e:00:00:10,tag:dhcpv6,set:port-"+tVM1,
		"fa:16:3e:00:00:11,id:01:02,host-10-1-0-11.openstacklocal,10.1.0.11"))
	expectFile(t, "opts", f.Opts, strings.Join([]string{
		"tag:subnet-" + tS1 + ",option:router,10.1.0.1", // isolated, no metadata option: no route
		"tag:subnet-" + tS2 + ",option6:domain-search,openstacklocal",
		"tag:port-" + tVM1 + ",option6:dns-server,[2001:db8::53]",
		"tag:port-" + tVM1 + ",option6:23,x",
		"tag:port-" + tRtr + ",tag:x,tag:y,option6:domain-search,a.b",
	}, "\n"))
	// the router port holds the gateway: tS1 is not isolated (route via gw)
	n.Ports = append(n.Ports, port("eeeeeeee-0000-4000-8000-000000000002", "fa:16:3e:00:00:01", model.OwnerRouterInterface, tS1, "10.1.0.1"))
	if iso := IsolatedSubnets(n); iso[tS1] || !iso[tS2] {
		t.Errorf("isolated %v", iso)
	}
}

// dnsmasq_local_resolv keeps an empty argv element where --no-resolv would
// be, unless DNS servers are set; a /48 IPv6 subnet gets no range and does
// not count; the null driver is not bridged; other options.
func TestRenderArgvVariants(t *testing.T) {
	n := &model.Network{ID: tNet, MTU: 1500, Subnets: []*model.Subnet{v6(tS2, "2001:db8::/48", "dhcpv6-stateful"), v6(tS3, "2001:db9::/120", "")},
		Ports: []*model.Port{ourPort(tS3, "2001:db9::2")}}
	f := render(t, n, testConf(t, "dnsmasq_local_resolv", "true", "interface_driver", "null",
		"dhcp_confs", "/srv//neutron/./dhcp/", "dnsmasq_config_file", "  ", "dhcp_lease_duration", "0"), Env{}, "")
	dir := "/srv/neutron/dhcp/" + tNet
	want := []string{"dnsmasq", "--no-hosts", "", "--pid-file=" + dir + "/pid",
		"--dhcp-hostsfile=" + dir + "/host", "--addn-hosts=" + dir + "/addn_hosts",
		"--dhcp-optsfile=" + dir + "/opts", "--dhcp-leasefile=" + dir + "/leases",
		"--dhcp-match=set:ipxe,175", "--dhcp-userclass=set:ipxe6,iPXE", "--local-service", "--bind-dynamic",
		"--bridge-interface=tapcccccccc-00,tap*",
		"--dhcp-range=set:subnet-" + tS3 + ",2001:db9::,static,120,0s",
		"--dhcp-option-force=option:mtu,1500", "--dhcp-lease-max=256",
		"--conf-file=/dev/null", "--domain=openstacklocal"}
	if strings.Join(f.Argv, "|") != strings.Join(want, "|") {
		t.Errorf("argv\n got %q\nwant %q", f.Argv, want)
	}
	f = render(t, n, testConf(t, "dnsmasq_local_resolv", "true", "dnsmasq_dns_servers", "1.1.1.1"), Env{}, "")
	if f.Argv[2] != "--no-resolv" || !argvHas(f.Argv, "--server=1.1.1.1") {
		t.Errorf("argv %q", f.Argv)
	}
}

// The interface name comes from the DHCP port (ns- prefix with
// ovs_use_veth) unless given; a network without this agent's port or
// without a DHCP subnet is refused with a clear error.
func TestRenderInterfaceAndErrors(t *testing.T) {
	n := &model.Network{ID: tNet, Subnets: []*model.Subnet{v4(tS1, "10.1.0.0/24", "10.1.0.1")},
		Ports: []*model.Port{ourPort(tS1, "10.1.0.2")}}
	if f := render(t, n, testConf(t, "ovs_use_veth", "true"), Env{}, ""); f.Interface != "ns-cccccccc-00" {
		t.Errorf("interface %q", f.Interface)
	}
	f, err := Render(&Input{Network: n, Conf: testConf(t), DeviceName: "tapfoo"})
	if err != nil || f.Interface != "tapfoo" {
		t.Errorf("interface %v %v", f, err)
	}
	n2 := n.Clone()
	n2.Ports = nil
	_, err = Render(&Input{Network: n2, Conf: testConf(t)})
	if !errors.Is(err, ErrNoDHCPPort) || !strings.Contains(err.Error(), model.DHCPDeviceID("net-1", tNet)) {
		t.Errorf("no port: %v", err)
	}
	n2 = n.Clone()
	n2.Subnets[0].EnableDHCP = false
	n2.NonLocalSubnets = []*model.Subnet{v4(tS2, "10.2.0.0/24", "")} // non-local subnets do not count
	if _, err = Render(&Input{Network: n2, Conf: testConf(t)}); !errors.Is(err, ErrNoDHCPSubnet) {
		t.Errorf("no dhcp subnet: %v", err)
	}
}

// Hostile values that model.Validate lets through (an IPv6 zone may hold
// any text) are refused with their JSON path; newlines in names and
// values are cut, never written.
func TestRenderRefusesInjection(t *testing.T) {
	base := func() *model.Network {
		s := v6(tS2, "2001:db8:2::/64", "dhcpv6-stateful")
		return &model.Network{ID: tNet, Subnets: []*model.Subnet{v4(tS1, "10.1.0.0/24", "10.1.0.1"), s},
			Ports: []*model.Port{ourPort(tS1, "10.1.0.2"), port(tVM1, "fa:16:3e:00:00:10", "compute:nova", tS1, "10.1.0.10")}}
	}
	cases := []struct {
		path string
		mod  func(n *model.Network)
	}{
		{"subnets[1].dns_nameservers[0]", func(n *model.Network) { n.Subnets[1].DNSNameservers = []string{"fe80::1%x\ndhcp-range=evil"} }},
		{"subnets[0].host_routes[0].nexthop", func(n *model.Network) {
			n.Subnets[0].HostRoutes = []model.HostRoute{{Destination: "10.9.0.0/16", Nexthop: "fe80::1%a,b"}}
		}},
		{"ports[1].fixed_ips[0].ip_address", func(n *model.Network) { n.Ports[1].FixedIPs[0].IPAddress = "fe80::1%\n" }},
		{"ports[1].mac_address", func(n *model.Network) { n.Ports[1].MACAddress = "fa:16:3e:00:00:1\n" }},
		{"ports[1].id", func(n *model.Network) { n.Ports[1].ID = "x,set:y" }},
		{"ports[1].extra_dhcp_opts[0].opt_value", func(n *model.Network) {
			n.Ports[1].ExtraDHCPOpts = []model.ExtraDHCPOpt{{OptName: "mtu", OptValue: "1400\r"}}
		}},
		{"ports[1].dns_assignment[0].fqdn", func(n *model.Network) {
			n.Ports[1].DNSAssignment = []model.DNSAssignment{{Hostname: "a", FQDN: "a b", IPAddress: "10.1.0.10"}}
		}},
		{"id", func(n *model.Network) { n.ID = "../../etc" }},
	}
	for _, tc := range cases {
		n := base()
		tc.mod(n)
		_, err := Render(&Input{Network: n, Conf: testConf(t)})
		var ve *model.ValidationError
		if !errors.As(err, &ve) || ve.Path != tc.path {
			t.Errorf("%s: got %v", tc.path, err)
		}
	}
	if _, err := Render(&Input{Network: base(), Conf: testConf(t, "dns_domain", "a,b")}); err == nil {
		t.Error("dns_domain with a comma accepted")
	}

	n := base()
	n.Ports[1].ExtraDHCPOpts = []model.ExtraDHCPOpt{{OptName: "domain-search\ntag:x", OptValue: "a.example\ndhcp-range=1"}}
	n.Ports[1].DNSAssignment = []model.DNSAssignment{{Hostname: "vm\nx", FQDN: "vm.example.\n10.0.0.1 evil", IPAddress: "10.1.0.10"}}
	f := render(t, n, testConf(t), Env{}, "")
	expectFile(t, "host", f.Host, lines("fa:16:3e:00:00:10,vm.example.,10.1.0.10,set:port-"+tVM1))
	expectFile(t, "addn_hosts", f.AddnHosts, lines("10.1.0.10\tvm.example. vm"))
	if !strings.HasSuffix(string(f.Opts), "\ntag:port-"+tVM1+",option:domain-search,a.example") {
		t.Errorf("opts %q", f.Opts)
	}
}

// The metadata route goes via the DHCP port's address on isolated subnets
// (enable_isolated_metadata) and via the gateway on routed ones; an
// isolated subnet where the port has no address gets no route.
func TestRenderMetadataRoutes(t *testing.T) {
	n := &model.Network{ID: tNet, Subnets: []*model.Subnet{v4(tS1, "10.1.0.0/24", "10.1.0.1"), v4(tS2, "10.2.0.0/24", "10.2.0.1")},
		Ports: []*model.Port{ourPort(tS1, "10.1.0.2"),
			port(tRtr, "fa:16:3e:00:00:01", model.OwnerHARouterReplicated, tS2, "10.2.0.1")}}
	f := render(t, n, testConf(t, "enable_isolated_metadata", "true"), Env{}, "")
	expectFile(t, "opts", f.Opts, strings.Join([]string{
		"tag:subnet-" + tS1 + ",option:classless-static-route,10.2.0.0/24,0.0.0.0,169.254.169.254/32,10.1.0.2,0.0.0.0/0,10.1.0.1",
		"tag:subnet-" + tS1 + ",249,10.2.0.0/24,0.0.0.0,169.254.169.254/32,10.1.0.2,0.0.0.0/0,10.1.0.1",
		"tag:subnet-" + tS1 + ",option:router,10.1.0.1",
		"tag:subnet-" + tS2 + ",option:classless-static-route,10.1.0.0/24,0.0.0.0,169.254.169.254/32,10.2.0.1,0.0.0.0/0,10.2.0.1",
		"tag:subnet-" + tS2 + ",249,10.1.0.0/24,0.0.0.0,169.254.169.254/32,10.2.0.1,0.0.0.0/0,10.2.0.1",
		"tag:subnet-" + tS2 + ",option:router,10.2.0.1",
	}, "\n"))
	// force_metadata: every subnet via the DHCP address, none where it has none
	f = render(t, n, testConf(t, "force_metadata", "true"), Env{}, "")
	if !strings.Contains(string(f.Opts), "tag:subnet-"+tS2+",option:classless-static-route,10.1.0.0/24,0.0.0.0,0.0.0.0/0,10.2.0.1") {
		t.Errorf("opts %q", f.Opts)
	}
}
