package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"qdhcp/model"
)

// Hostile network files and configuration through `qdhcp-agent render`
// (and the state readers): a refusal is exit 2 with one bounded line
// naming the problem and nothing written; an acceptance writes files whose
// every line keeps the shape of its file. inspect refuses ids that are not
// UUIDs; status lists only UUID-named state dirs, whatever else lies there.

const (
	hrNet  = "11111111-1111-4111-8111-111111111111"
	hrSub4 = "22222222-2222-4222-8222-222222222222"
	hrSub6 = "22222222-2222-4222-8222-666666666666"
	hrVM1  = "33333333-3333-4333-8333-000000000001"
	hrVM2  = "33333333-3333-4333-8333-000000000002"
)

// hostileRenderNet is a dual-stack network with two VM ports and no DHCP
// port (render allocates one, as the server would).
func hostileRenderNet() *model.Network {
	vm1 := &model.Port{ID: hrVM1, MACAddress: "fa:16:3e:00:00:10", DeviceOwner: "compute:nova", DeviceID: "vm1",
		FixedIPs:      []model.FixedIP{{SubnetID: hrSub4, IPAddress: "10.5.0.10"}, {SubnetID: hrSub6, IPAddress: "2001:db8:5::10"}},
		ExtraDHCPOpts: []model.ExtraDHCPOpt{{OptName: "client-id", OptValue: "01:fa:16:3e:00:00:10"}, {OptName: "bootfile-name", OptValue: "pxe"}},
		DNSAssignment: []model.DNSAssignment{{Hostname: "vm1", FQDN: "vm1.example.", IPAddress: "10.5.0.10"}}}
	vm2 := &model.Port{ID: hrVM2, MACAddress: "fa:16:3e:00:00:11", DeviceOwner: "compute:nova", DeviceID: "vm2",
		FixedIPs: []model.FixedIP{{SubnetID: hrSub4, IPAddress: "10.5.0.11"}}}
	return &model.Network{ID: hrNet, MTU: 1450,
		Subnets: []*model.Subnet{
			{ID: hrSub4, IPVersion: 4, CIDR: "10.5.0.0/24", GatewayIP: "10.5.0.1", EnableDHCP: true,
				AllocationPools: []model.AllocPool{{Start: "10.5.0.2", End: "10.5.0.254"}}},
			{ID: hrSub6, IPVersion: 6, CIDR: "2001:db8:5::/64", EnableDHCP: true, IPv6AddressMode: model.IPv6ModeDHCPv6Stateful,
				IPv6RAMode: model.IPv6ModeDHCPv6Stateful, AllocationPools: []model.AllocPool{{Start: "2001:db8:5::2", End: "2001:db8:5::ff"}}},
		},
		Ports: []*model.Port{vm1, vm2}}
}

func TestRenderCommandHostile(t *testing.T) {
	long := strings.Repeat("l", model.MaxTextLen)
	for _, tc := range []struct {
		name string
		mod  func(n *model.Network)
		raw  string // the file instead of the marshalled network
		conf string // extra [DEFAULT] lines
		want string // "" to render; else what the one-line refusal names
	}{
		{name: "newlines cut from names and values", mod: func(n *model.Network) {
			n.Ports[0].ExtraDHCPOpts[1].OptValue = "pxe\ntag:subnet-" + hrSub4 + ",option:router,6.6.6.6"
			n.Ports[0].ExtraDHCPOpts[0].OptValue = "01:02\nfa:16:3e:00:00:66,evil,10.5.0.66"
			n.Ports[0].DNSAssignment[0].FQDN = "vm1.example.\n10.5.0.66\tevil evil"
		}},
		{name: "longest values", mod: func(n *model.Network) {
			n.Ports[0].ExtraDHCPOpts[0].OptValue = long
			n.Ports[0].ExtraDHCPOpts[1].OptValue = long
			n.Ports[0].DNSAssignment[0].Hostname, n.Ports[0].DNSAssignment[0].FQDN = long, long
		}},
		{name: "MTU 0", mod: func(n *model.Network) { n.MTU = 0 }},
		{name: "IPv4 /0", mod: func(n *model.Network) {
			n.Subnets[0].CIDR, n.Subnets[0].AllocationPools = "0.0.0.0/0", nil
		}},
		{name: "IPv6 /127", mod: func(n *model.Network) {
			n.Subnets[1].CIDR, n.Subnets[1].AllocationPools = "2001:db8:5::/127", nil
			n.Ports[0].FixedIPs = n.Ports[0].FixedIPs[:1]
		}},
		{name: "duplicate IPs", mod: func(n *model.Network) { n.Ports[1].FixedIPs[0].IPAddress = "10.5.0.10" }},
		{name: "client-id dnsmasq would read as two lines", mod: func(n *model.Network) {
			n.Ports[0].ExtraDHCPOpts[0].OptValue = strings.Repeat("x", 1003) + "fa:16:3e:00:00:66,evil.,10.5.0.66"
		}, want: "ports[0].extra_dhcp_opts[0].opt_value"},
		{name: "client-id with commas", mod: func(n *model.Network) {
			n.Ports[0].ExtraDHCPOpts[0].OptValue = "x,fa:16:3e:00:00:11,evil,10.5.0.66"
		}, want: "ports[0].extra_dhcp_opts[0].opt_value"},
		{name: "1 MB network id", mod: func(n *model.Network) { n.ID = strings.Repeat("i", 1<<20) }, want: "id"},
		{name: "../ in a port id", mod: func(n *model.Network) { n.Ports[1].ID = "../../../../etc/passwd" }, want: "ports[1].id"},
		{name: "NUL in a hostname", mod: func(n *model.Network) { n.Ports[0].DNSAssignment[0].Hostname = "vm\x00" }, want: "ports[0].dns_assignment[0].hostname"},
		{name: "MTU 70000", mod: func(n *model.Network) { n.MTU = 70000 }, want: "mtu"},
		{name: "MTU -1", mod: func(n *model.Network) { n.MTU = -1 }, want: "mtu"},
		{name: "IPv4 /33", mod: func(n *model.Network) { n.Subnets[0].CIDR = "10.5.0.0/33" }, want: "subnets[0].cidr"},
		{name: "IPv6 /129", mod: func(n *model.Network) { n.Subnets[1].CIDR = "2001:db8:5::/129" }, want: "subnets[1].cidr"},
		{name: "deep nesting", raw: `{"id":"` + hrNet + `","ports":` + strings.Repeat("[", 50000) + strings.Repeat("]", 50000) + `}`, want: "invalid JSON"},
		{name: "multi-line dns_domain", conf: "dns_domain = example.\n  dhcp-range=evil\n", want: "dns_domain"},
		{name: "dns_domain with a comma", conf: "dns_domain = a,b\n", want: "dns_domain"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tmp := t.TempDir()
			n := hostileRenderNet()
			if tc.mod != nil {
				tc.mod(n)
			}
			data := []byte(tc.raw)
			if tc.raw == "" {
				var err error
				if data, err = json.Marshal(n); err != nil {
					t.Fatal(err)
				}
			}
			netFile := filepath.Join(tmp, "net.json")
			if err := os.WriteFile(netFile, data, 0o644); err != nil {
				t.Fatal(err)
			}
			conf := writeConf(t, tmp, tmp, nil)
			if tc.conf != "" {
				b, _ := os.ReadFile(conf)
				b = bytes.Replace(b, []byte("[DEFAULT]\n"), []byte("[DEFAULT]\n"+tc.conf), 1)
				if err := os.WriteFile(conf, b, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			out := filepath.Join(tmp, "out")
			code, stdout, stderr := runRender("--config-file", conf, "--network", netFile, "--out", out,
				"--host-tags=true", "--ipv6=true", "--now=1700000000")
			if tc.want != "" {
				if code != 2 || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, tc.want) || len(stderr) > 600 {
					t.Errorf("exit %d, stderr %.300q (%d bytes); want exit 2 and one line naming %s", code, stderr, len(stderr), tc.want)
				}
				if stdout != "" {
					t.Errorf("stdout %q", stdout)
				}
				if _, err := os.Stat(out); !os.IsNotExist(err) {
					t.Errorf("output directory written: %v", err)
				}
				return
			}
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			checkRenderedDir(t, n, out)
		})
	}
}

var (
	hostLineRe = regexp.MustCompile(`^(fa:16:3e:[0-9a-f:]{8}),[^\s]+$`)
	addnLineRe = regexp.MustCompile(`^[0-9a-fA-F:.]+\t[^\s,#]+ [^\s,#]+$`)
	optsLineRe = regexp.MustCompile(`^tag:(?:subnet|port)-[0-9a-f-]{36},[^\s]+$`)
	leaseRe    = regexp.MustCompile(`^\d+ (fa:16:3e:[0-9a-f:]{8}) [0-9a-fA-F:.]+ \* \*$`)
)

// checkRenderedDir checks every line of every file render wrote.
func checkRenderedDir(t *testing.T, n *model.Network, dir string) {
	t.Helper()
	macs := map[string]bool{}
	for _, p := range n.Ports {
		macs[p.MACAddress] = true
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		s := strings.TrimSuffix(string(b), "\n")
		if s == "" {
			continue
		}
		for _, l := range strings.Split(s, "\n") {
			bad := len(l) > 1023 || strings.ContainsFunc(l, func(r rune) bool {
				return r < 0x20 && !(r == '\t' && e.Name() == "addn_hosts") || r == 0x7f
			})
			switch e.Name() {
			case "host":
				m := hostLineRe.FindStringSubmatch(l)
				bad = bad || m == nil || !macs[m[1]] || strings.Count(l, ",") > 5
			case "addn_hosts":
				bad = bad || !addnLineRe.MatchString(l)
			case "opts":
				bad = bad || !optsLineRe.MatchString(l)
			case "leases":
				bad = bad || !leaseRe.MatchString(l)
			case "interface":
				bad = bad || strings.ContainsAny(l, "/ ,")
			}
			if bad {
				t.Errorf("%s: line %.200q", e.Name(), l)
			}
		}
	}
	for _, f := range []string{"host", "addn_hosts", "opts", "leases"} {
		b, _ := os.ReadFile(filepath.Join(dir, f))
		if bytes.Contains(b, []byte("evil")) || bytes.Contains(b, []byte("6.6.6.6")) {
			t.Errorf("%s holds text from after a newline:\n%s", f, b)
		}
	}
}

// inspect refuses network ids that are not UUIDs before it touches a path.
func TestInspectHostileIDs(t *testing.T) {
	conf := writeConf(t, t.TempDir(), t.TempDir(), nil)
	for _, id := range []string{"../../etc", "..", "/etc/passwd", hrNet + "/../x", strings.Repeat("a", 1<<20)} {
		var out, errb bytes.Buffer
		code := dispatch([]string{"inspect", "--config-file", conf, "--source", "none", id}, &out, &errb)
		if code != 2 {
			t.Errorf("inspect %.40q: exit %d", id, code)
		}
	}
}

// status reads only UUID-named directories of dhcp_confs and survives
// garbage in them.
func TestStatusHostileStateDir(t *testing.T) {
	state := t.TempDir()
	conf := writeConf(t, t.TempDir(), state, nil)
	dhcp := filepath.Join(state, "dhcp")
	for _, d := range []string{"not-a-uuid", "..." + hrNet[3:], hrNet} {
		if err := os.MkdirAll(filepath.Join(dhcp, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dhcp, hrVM1), nil, 0o644); err != nil { // a UUID-named file
		t.Fatal(err)
	}
	files := map[string]string{
		"leases":    strings.Repeat("garbage \x00\x01 line\n", 10000) + "1 2",
		"pid":       "-1\n",
		"interface": "tap\x1b[2Jx",
		"host":      strings.Repeat("x", 1<<20),
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dhcp, hrNet, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var out, errb bytes.Buffer
	if code := dispatch([]string{"status", "--config-file", conf, "--json"}, &out, &errb); code != 0 {
		t.Fatalf("status: exit %d: %s", code, errb.String())
	}
	var st []networkStatus
	if err := json.Unmarshal(out.Bytes(), &st); err != nil {
		t.Fatalf("status --json: %v\n%s", err, out.String())
	}
	if len(st) != 1 || st[0].Network != hrNet || st[0].DnsmasqAlive {
		t.Errorf("status: %+v", st)
	}
}
