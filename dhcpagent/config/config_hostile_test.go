package config_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"qdhcp/dhcpagent/config"
	"qdhcp/dnsmasq"
	"qdhcp/model"
)

// Hostile configuration files, end to end: Load refuses them with an
// error naming the file (and line, or section and key), or returns a
// configuration whose values then come out of the renderer (dnsmasq files
// and argv, haproxy configuration) as a refusal naming the option or as
// files whose every line stays a line: no value can start a directive of
// its own. Never a panic.

const (
	hNet  = "11111111-1111-4111-8111-111111111111"
	hSub  = "22222222-2222-4222-8222-222222222222"
	hDHCP = "33333333-3333-4333-8333-333333333333"
	hVM   = "44444444-4444-4444-8444-444444444444"
)

// base is written before each case's text: a valid agent configuration
// with isolated metadata, so the haproxy configuration is rendered too.
const base = "[DEFAULT]\nhost = net-1\ninterface_driver = openvswitch\nenable_isolated_metadata = true\n" +
	"metadata_proxy_user = nobody\nmetadata_proxy_group = nogroup\n"

func hostileNetwork(host string) *model.Network {
	return &model.Network{ID: hNet, Subnets: []*model.Subnet{{ID: hSub, IPVersion: 4, CIDR: "10.1.0.0/24", EnableDHCP: true}},
		Ports: []*model.Port{
			{ID: hDHCP, MACAddress: "fa:16:3e:00:00:02", DeviceOwner: model.OwnerDHCP, DeviceID: model.DHCPDeviceID(host, hNet),
				FixedIPs: []model.FixedIP{{SubnetID: hSub, IPAddress: "10.1.0.2"}}},
			{ID: hVM, MACAddress: "fa:16:3e:00:00:10", DeviceOwner: "compute:nova", DeviceID: "vm",
				FixedIPs: []model.FixedIP{{SubnetID: hSub, IPAddress: "10.1.0.10"}}},
		}}
}

func TestConfigHostile(t *testing.T) {
	huge := strings.Repeat("x", 10<<20)
	bomb := "control_exchange = " + strings.Repeat("y", 1000) + "\ndns_domain = " + strings.Repeat("$control_exchange", 1000) +
		"\nhost = " + strings.Repeat("$dns_domain", 1000) + "\n"
	for _, tc := range []struct {
		name, text string
		loadErr    []string // substrings of Load's error; nil when it loads
		renderErr  string   // option the renderer refuses ("" when it renders)
		proxyErr   string   // substring of the metadata proxy's refusal ("" when it renders)
	}{
		{"multi-line dns_domain", "dns_domain = example.\n  dhcp-range=evil\n", nil, "dns_domain", ""},
		{"dns_domain with a space", "dns_domain = a b\n", nil, "dns_domain", ""},
		{"dns_domain with a comma", "dns_domain = a,10.0.0.66\n", nil, "dns_domain", ""},
		{"dns_domain longer than a name", "dns_domain = " + strings.Repeat("d", 300) + "\n", nil, "dns_domain", ""},
		{"dns_domain with a NUL", "dns_domain = a\x00b\n", nil, "dns_domain", ""},
		{"multi-line state_path", "state_path = /var/lib/neutron\n  /etc\n", nil, "dhcp_confs", "metadata_proxy_socket"},
		{"multi-line dhcp_confs", "dhcp_confs = /d\n  x\n", nil, "dhcp_confs", ""},
		{"dhcp_confs climbing out", "dhcp_confs = /var/lib/neutron/dhcp/../../../../etc\n", nil, "", ""},
		{"multi-line dnsmasq_config_file", "dnsmasq_config_file = /etc/a\n  /etc/b\n", nil, "dnsmasq_config_file", ""},
		{"multi-line dnsmasq_base_log_dir", "dnsmasq_base_log_dir = /l\n  x\n", nil, "dnsmasq_base_log_dir", ""},
		{"dnsmasq_dns_servers continued", "dnsmasq_dns_servers = 8.8.8.8\n  9.9.9.9\n", nil, "dnsmasq_dns_servers", ""},
		{"dnsmasq_dns_servers odd items", "dnsmasq_dns_servers = 8.8.8.8,--port=53,,\n", nil, "", ""},
		{"multi-line proxy user", "metadata_proxy_user = nobody\n  user root\n", nil, "", "user"},
		{"multi-line proxy group", "metadata_proxy_group = nogroup\n  group root\n", nil, "", "group"},
		{"proxy socket with a space", "metadata_proxy_socket = /run/m sock\n", nil, "", "metadata_proxy_socket"},
		{"host with control characters", "host = net-1\x00\x01\n", nil, "", ""},
		{"10 MB value", "interface_driver = " + huge + "\n", nil, "", ""},
		{"10 MB last line without newline", "host = net-1\ntransport_url = " + huge, nil, "", ""},
		{"100,000 unknown options", strings.Repeat("x_opt = y\n", 100000), nil, "", ""},
		{"10,000 sections", strings.Repeat("[s]\na = b\n", 10000), nil, "", ""},
		{"substitution bomb", bomb, []string{"neutron.conf", "[DEFAULT] host", "more than"}, "", ""},
		{"substitution loop", "dhcp_confs = $external_pids\nexternal_pids = $dhcp_confs\n", []string{"loop"}, "", ""},
		{"integer overflow", "dnsmasq_lease_max = 99999999999999999999\n", []string{"[DEFAULT] dnsmasq_lease_max", "out of range"}, "", ""},
		{"multi-line integer", "resync_interval = 1\n  2\n", []string{"[DEFAULT] resync_interval"}, "", ""},
		{"negative interval", "resync_interval = -9223372036854775808\n", []string{"resync_throttle"}, "", ""},
		{"CR line ends", "\x00" + strings.ReplaceAll(base, "\n", "\r"), []string{"neutron.conf:1"}, "", ""},
		{"invalid UTF-8", "host = \xff\xfe\n", []string{"neutron.conf:", "UTF-8"}, "", ""},
		{"NUL in a section name", "[DEF\x00AULT]\nhost = h\n", nil, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, "neutron.conf")
			text := base + tc.text
			if whole, ok := strings.CutPrefix(tc.text, "\x00"); ok {
				text = whole // the case is the whole file
			}
			if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
			c, err := config.Load(p)
			if tc.loadErr != nil {
				if err == nil {
					t.Fatal("loaded")
				}
				for _, w := range tc.loadErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %.300q does not mention %q", err, w)
					}
				}
				if len(err.Error()) > 2000 {
					t.Errorf("%d-byte error", len(err.Error()))
				}
				return
			}
			if err != nil {
				t.Fatalf("Load: %.300v", err)
			}
			n := hostileNetwork(c.Host)
			env := dnsmasq.Env{Now: time.Unix(1700000000, 0)}
			files, err := dnsmasq.Render(&dnsmasq.Input{Network: n, Conf: c, Env: env})
			if tc.renderErr != "" {
				var ve *model.ValidationError
				if !errors.As(err, &ve) || ve.Path != tc.renderErr {
					t.Errorf("render: got %.300v, want a refusal of %s", err, tc.renderErr)
				}
			} else if err != nil {
				t.Errorf("render: %.300v", err)
			} else {
				checkLines(t, files)
			}
			proxy, err := dnsmasq.MetadataProxy(n, c, env)
			var cfg []byte
			if err == nil {
				if proxy == nil {
					t.Fatal("no metadata proxy for an isolated subnet")
				}
				cfg, err = proxy.Render()
			}
			switch {
			case tc.proxyErr != "":
				if err == nil || !strings.Contains(err.Error(), tc.proxyErr) {
					t.Errorf("metadata proxy: got %.300v, want a refusal of %s", err, tc.proxyErr)
				}
			case err != nil:
				t.Errorf("haproxy: %.300v", err)
			case strings.Count(string(cfg), "\n") != 30:
				t.Errorf("haproxy configuration has %d lines", strings.Count(string(cfg), "\n"))
			}
		})
	}
}

// checkLines checks that every line of the dnsmasq files is free of
// control characters, fits dnsmasq's 1024-byte reads, and starts as its
// file's lines must; argv elements hold no line break.
func checkLines(t *testing.T, f *dnsmasq.Files) {
	t.Helper()
	for _, file := range []struct {
		name   string
		b      []byte
		prefix []string
	}{
		{"host", f.Host, []string{"fa:16:3e:00:00:10,"}},
		{"addn_hosts", f.AddnHosts, []string{"10.1.0.10\t"}},
		{"opts", append(f.Opts, '\n'), []string{"tag:subnet-" + hSub + ","}},
		{"leases", f.Leases, []string{"1700086400 fa:16:3e:00:00:10 10.1.0.10 * *"}},
	} {
		s := strings.TrimSuffix(string(file.b), "\n")
		for _, l := range strings.Split(s, "\n") {
			ok := false
			for _, p := range file.prefix {
				ok = ok || strings.HasPrefix(l, p)
			}
			if !ok || len(l) > 1023 || strings.ContainsFunc(l, func(r rune) bool { return r < 0x20 && r != '\t' || r == 0x7f }) {
				t.Errorf("%s line %.200q", file.name, l)
			}
		}
	}
	for _, a := range f.Argv {
		if strings.ContainsAny(a, "\n\r\x00") {
			t.Errorf("argv element %q", a)
		}
	}
}
