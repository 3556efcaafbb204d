package dnsmasq

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"qdhcp/model"
)

// FuzzRender feeds JSON through model.DecodeNetwork into Render and checks
// that no input can split or inject a line: every host line starts with
// the MAC of a port of the network and names one of its addresses or its
// tag, every opts line starts with the tag of a known subnet or port,
// every addn_hosts line is "<ip>\t<fqdn> <hostname>", no argv element
// holds a newline. Seeds: the reference fixtures (but the 3 MB one) and
// hostile variants. `go test` runs the seeds; `go test -fuzz FuzzRender
// ./dnsmasq` explores further.
func FuzzRender(f *testing.F) {
	for _, name := range fixtureNames(f) {
		if name == "large_network_2000_ports" {
			continue
		}
		raw, err := os.ReadFile(filepath.Join(fixtureDir, name+".json"))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw, uint8(0))
		f.Add(raw, uint8(7))
	}
	for _, s := range hostileSeeds {
		f.Add([]byte(s), uint8(3))
	}
	f.Fuzz(func(t *testing.T, data []byte, flags uint8) {
		n, err := model.DecodeNetwork(data)
		if err != nil {
			return
		}
		c := testConf(t)
		if flags&1 != 0 {
			if err := c.Set("", "dnsmasq_enable_addr6_list", "true"); err != nil {
				t.Fatal(err)
			}
		}
		if flags&4 != 0 {
			if err := c.Set("", "force_metadata", "true"); err != nil {
				t.Fatal(err)
			}
		}
		ensureOwnPort(n, c.Host)
		in := &Input{Network: n, Conf: c, Env: Env{HostTagSupport: flags&2 != 0, IPv6Enabled: true, Now: time.Unix(fixtureEpoch, 0)}}
		files, err := Render(in)
		if err != nil {
			return
		}
		checkWellFormed(t, n, files)
		if p, err := MetadataProxy(n, c, in.Env); err == nil && p != nil {
			if cfg, err := p.Render(); err == nil && bytes.Count(cfg, []byte("\n")) != 30 {
				t.Errorf("haproxy config has %d lines:\n%s", bytes.Count(cfg, []byte("\n")), cfg)
			}
		}
	})
}

// hostileSeeds try to break lines with values model.Validate accepts.
var hostileSeeds = []string{
	`{"id":"11111111-1111-4111-8111-111111111111","subnets":[{"id":"aaaaaaaa-0000-4000-8000-000000000001","ip_version":6,"cidr":"2001:db8::/64","enable_dhcp":true,"ipv6_address_mode":"dhcpv6-stateful","dns_nameservers":["fe80::1%x\ndhcp-range=evil"]}],"ports":[{"id":"dddddddd-0000-4000-8000-000000000001","mac_address":"fa:16:3e:00:00:10","device_id":"x","device_owner":"compute:nova","fixed_ips":[{"subnet_id":"aaaaaaaa-0000-4000-8000-000000000001","ip_address":"2001:db8::10"}]}]}`,
	`{"id":"11111111-1111-4111-8111-111111111111","subnets":[{"id":"aaaaaaaa-0000-4000-8000-000000000001","ip_version":4,"cidr":"10.0.0.0/24","enable_dhcp":true}],"ports":[{"id":"dddddddd-0000-4000-8000-000000000001","mac_address":"fa:16:3e:00:00:10","device_id":"x","device_owner":"","fixed_ips":[{"subnet_id":"aaaaaaaa-0000-4000-8000-000000000001","ip_address":"10.0.0.10"}],"extra_dhcp_opts":[{"opt_name":"tag:a,x\nb","opt_value":"v\nfa:16:3e:00:00:11,evil","ip_version":4},{"opt_name":"client-id","opt_value":"c\nd"}],"dns_assignment":[{"hostname":"h\nx","fqdn":"h.x.\n10.0.0.1 evil","ip_address":"10.0.0.10"}]}]}`,
}

// ensureOwnPort adds this agent's DHCP port when the input lacks one, so
// the fuzzer reaches the renderer.
func ensureOwnPort(n *model.Network, host string) {
	id := model.DHCPDeviceID(host, n.ID)
	for _, p := range n.Ports {
		if p.DeviceID == id {
			return
		}
	}
	p := &model.Port{ID: "cccccccc-0000-4000-8000-0000000000ff", MACAddress: "fa:16:3e:ff:ff:ff", DeviceID: id, DeviceOwner: model.OwnerDHCP}
	for _, s := range n.Subnets {
		if s.EnableDHCP {
			p.FixedIPs = append(p.FixedIPs, model.FixedIP{SubnetID: s.ID, IPAddress: s.Prefix().Addr().Next().String()})
		}
	}
	n.Ports = append(n.Ports, p)
}

func checkWellFormed(t *testing.T, n *model.Network, f *Files) {
	t.Helper()
	macs := map[string]bool{}
	tags := map[string]bool{}
	for _, p := range n.Ports {
		macs[p.MACAddress] = true
		tags["tag:port-"+p.ID] = true
	}
	for _, s := range n.AllSubnets() {
		tags["tag:subnet-"+s.ID] = true
	}
	for _, l := range fileLines(t, "host", f.Host) {
		fields := strings.Split(l, ",")
		if len(fields) < 2 || !macs[fields[0]] {
			t.Fatalf("host line does not start with a port's MAC: %q", l)
		}
	}
	if len(f.Opts) > 0 {
		if bytes.HasSuffix(f.Opts, []byte("\n")) {
			t.Fatalf("opts ends with a newline")
		}
		for _, l := range strings.Split(string(f.Opts), "\n") {
			tag, _, _ := strings.Cut(l, ",")
			if !tags[tag] {
				t.Fatalf("opts line does not start with a known tag: %q", l)
			}
		}
	}
	for _, l := range fileLines(t, "addn_hosts", f.AddnHosts) {
		ip, names, ok := strings.Cut(l, "\t")
		fqdn, host, ok2 := strings.Cut(names, " ")
		if !ok || !ok2 || !validIP(ip) || strings.ContainsAny(fqdn, "\t") || strings.ContainsAny(host, " \t") {
			t.Fatalf("bad addn_hosts line %q", l)
		}
	}
	for _, l := range fileLines(t, "leases", f.Leases) {
		if fs := strings.Split(l, " "); len(fs) != 5 || !macs[fs[1]] {
			t.Fatalf("bad leases line %q", l)
		}
	}
	for _, a := range f.Argv {
		if strings.ContainsAny(a, "\n\r") {
			t.Fatalf("argv element with a newline: %q", a)
		}
	}
	if strings.ContainsAny(f.Interface, "\n/") {
		t.Fatalf("interface %q", f.Interface)
	}
}

// fileLines splits a newline-terminated file into its lines.
func fileLines(t *testing.T, name string, b []byte) []string {
	t.Helper()
	if len(b) == 0 {
		return nil
	}
	if !bytes.HasSuffix(b, []byte("\n")) {
		t.Fatalf("%s does not end with a newline", name)
	}
	out := strings.Split(string(b[:len(b)-1]), "\n")
	for _, l := range out {
		if l == "" {
			t.Fatalf("%s has an empty line", name)
		}
	}
	return out
}
