package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// writeFiles writes each content to its own file in a temp dir and returns
// the paths in order.
func writeFiles(t *testing.T, contents ...string) []string {
	t.Helper()
	dir := t.TempDir()
	var paths []string
	for i, s := range contents {
		p := filepath.Join(dir, []string{"neutron.conf", "dhcp_agent.ini", "extra.ini", "more.ini"}[i])
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	return paths
}

func TestDefaults(t *testing.T) {
	c := Defaults()
	host, _ := os.Hostname()
	checks := []struct {
		name      string
		got, want any
	}{
		{"state_path", c.StatePath, "/var/lib/neutron"},
		{"host", c.Host, host},
		{"dhcp_confs", c.DHCPConfs, "/var/lib/neutron/dhcp"},
		{"external_pids", c.ExternalPids, "/var/lib/neutron/external/pids"},
		{"metadata_proxy_socket", c.MetadataProxySocket, "/var/lib/neutron/metadata_proxy"},
		{"dnsmasq_lease_max", c.DnsmasqLeaseMax, 16777216},
		{"resync_interval", c.ResyncInterval, 5},
		{"report_interval", c.Agent.ReportInterval, 30.0},
		{"check_child_processes_interval", c.Agent.CheckChildProcessesInterval, 60},
		{"check_child_processes_action", c.Agent.CheckChildProcessesAction, "respawn"},
		{"integration_bridge", c.IntegrationBridge(), "br-int"},
		{"ovsdb_connection", c.OVS.OVSDBConnection, "tcp:127.0.0.1:6640"},
		{"transport_url", c.TransportURL, "rabbit://"},
		{"control_exchange", c.ControlExchange, "neutron"},
		{"kombu_failover_strategy", c.Rabbit.KombuFailoverStrategy, "round-robin"},
	}
	for _, ch := range checks {
		if !reflect.DeepEqual(ch.got, ch.want) {
			t.Errorf("%s = %#v, want %#v", ch.name, ch.got, ch.want)
		}
	}
	if err := c.Validate(); err != nil {
		t.Errorf("defaults do not validate: %v", err)
	}
	// every option in the table is reachable and its default survives Load
	// of an empty file
	p := writeFiles(t, "")
	l, err := Load(p...)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(l, c) {
		t.Errorf("Load(empty) = %+v\nwant %+v", l, c)
	}
}

func TestLoadOverrides(t *testing.T) {
	p := writeFiles(t, `
[DEFAULT]
# a comment
state_path = /srv/neutron
host = net-1.example.org
debug = On
dhcp_lease_duration = -1
dnsmasq_dns_servers = 8.8.8.8 , 1.1.1.1,
dns_domain = 'corp.example.com'
interface_driver: openvswitch
transport_url = rabbit://u:p@10.0.0.1:5672/ # kept: not a comment
unknown_option = whatever
rabbit_ha_queues = yes

[agent]
report_interval = 1e1
check_child_processes_interval = 1_0
check_child_processes_action = exit

[OVS]
integration_bridge = br-x
ovsdb_timeout = +30

[oslo_messaging_rabbit]
ssl = TRUE
kombu_ssl_ca_certs = /etc/ca.pem
heartbeat_rate = 4

[unknown_section]
x = y
`)
	c, err := Load(p...)
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"state_path", c.StatePath, "/srv/neutron"},
		{"dhcp_confs follows state_path", c.DHCPConfs, "/srv/neutron/dhcp"},
		{"external_pids follows state_path", c.ExternalPids, "/srv/neutron/external/pids"},
		{"host", c.ShortHost(), "net-1"},
		{"debug", c.Debug, true},
		{"dhcp_lease_duration", c.DHCPLeaseDuration, -1},
		{"dnsmasq_dns_servers", c.DnsmasqDNSServers, []string{"8.8.8.8", "1.1.1.1"}},
		{"dns_domain quotes", c.DNSDomain, "corp.example.com"},
		{"interface_driver colon", c.InterfaceDriver, "openvswitch"},
		{"inline # kept", c.TransportURL, "rabbit://u:p@10.0.0.1:5672/ # kept: not a comment"},
		{"deprecated [DEFAULT] rabbit_ha_queues", c.Rabbit.RabbitHAQueues, true},
		{"report_interval", c.Agent.ReportInterval, 10.0},
		{"check_child_processes_interval", c.Agent.CheckChildProcessesInterval, 10},
		{"check_child_processes_action", c.Agent.CheckChildProcessesAction, "exit"},
		{"integration_bridge", c.IntegrationBridge(), "br-x"},
		{"ovsdb_timeout", c.OVS.OVSDBTimeout, 30},
		{"ssl", c.Rabbit.SSL, true},
		{"deprecated kombu_ssl_ca_certs", c.Rabbit.SSLCAFile, "/etc/ca.pem"},
		{"heartbeat_rate", c.Rabbit.HeartbeatRate, 4},
		{"untouched default", c.ResyncInterval, 5},
	}
	for _, ch := range checks {
		if !reflect.DeepEqual(ch.got, ch.want) {
			t.Errorf("%s = %#v, want %#v", ch.name, ch.got, ch.want)
		}
	}
}

func TestLoadMultipleFiles(t *testing.T) {
	p := writeFiles(t,
		// neutron.conf
		"[DEFAULT]\ndhcp_confs = $state_path/mydhcp\nresync_interval = 30\ndns_domain = a.test\n"+
			"dns_domain = b.test\n[AGENT]\nroot_helper = sudo neutron-rootwrap\n",
		// dhcp_agent.ini: later file wins, state_path applies to the
		// reference written in the earlier file
		"[DEFAULT]\nstate_path = /opt/n\nresync_interval = 20\n[agent]\nroot_helper = doas\n",
		// a third file overriding only one option
		"[DEFAULT]\nresync_interval = 10\n",
	)
	c, err := Load(p...)
	if err != nil {
		t.Fatal(err)
	}
	if c.DHCPConfs != "/opt/n/mydhcp" {
		t.Errorf("dhcp_confs = %q, want the later state_path substituted", c.DHCPConfs)
	}
	if c.ResyncInterval != 10 {
		t.Errorf("resync_interval = %d, want the last file's 10", c.ResyncInterval)
	}
	if c.DNSDomain != "b.test" {
		t.Errorf("dns_domain = %q, want the last occurrence", c.DNSDomain)
	}
	if c.Agent.RootHelper != "doas" {
		t.Errorf("root_helper = %q, want the later [agent] value", c.Agent.RootHelper)
	}
	if c.ExternalPids != "/opt/n/external/pids" {
		t.Errorf("external_pids = %q", c.ExternalPids)
	}
	// reversed order: the first file's state_path loses to nothing, the
	// explicit dhcp_confs still follows it
	c, err = Load(p[1], p[0])
	if err != nil {
		t.Fatal(err)
	}
	if c.ResyncInterval != 30 || c.Agent.RootHelper != "sudo neutron-rootwrap" || c.DHCPConfs != "/opt/n/mydhcp" {
		t.Errorf("reversed: resync_interval=%d root_helper=%q dhcp_confs=%q", c.ResyncInterval, c.Agent.RootHelper, c.DHCPConfs)
	}
}

func TestLoadInterpolation(t *testing.T) {
	p := writeFiles(t, `[DEFAULT]
state_path = /s
dnsmasq_base_log_dir = ${state_path}/logs
dnsmasq_config_file = $$state_path|\$x|$ |$1|cost $5
host = h-$resync_interval-$debug
resync_interval = 7
external_pids = $dhcp_confs/pids
metadata_proxy_user = $AGENT.root_helper
[AGENT]
root_helper = sudo $state_path
availability_zone = $root_helper:az
`)
	c, err := Load(p...)
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct{ name, got, want string }{
		{"braced", c.DnsmasqBaseLogDir, "/s/logs"},
		{"escapes", c.DnsmasqConfigFile, "$state_path|$x|$ |$1|cost $5"},
		{"typed refs", c.Host, "h-7-False"},
		{"ref to a derived default", c.ExternalPids, "/s/dhcp/pids"},
		{"group.option ref", c.MetadataProxyUser, "sudo /s"},
		{"same-group ref", c.Agent.AvailabilityZone, "sudo /s:az"},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s = %q, want %q", ch.name, ch.got, ch.want)
		}
	}
}

func TestLoadDeprecatedBridge(t *testing.T) {
	for _, tc := range []struct {
		name, conf, want string
	}{
		{"default only", "[DEFAULT]\novs_integration_bridge = br-old\n", "br-old"},
		{"OVS wins", "[DEFAULT]\novs_integration_bridge = br-old\n[OVS]\nintegration_bridge = br-new\n", "br-new"},
		{"OVS wins in any order", "[OVS]\nintegration_bridge = br-new\n[DEFAULT]\novs_integration_bridge = br-old\n", "br-new"},
		{"OVS-group alias", "[ovs]\novs_integration_bridge = br-alias\n", "br-alias"},
		{"current name beats alias in one file", "[OVS]\nintegration_bridge = br-new\novs_integration_bridge = br-alias\n", "br-new"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Load(writeFiles(t, tc.conf)...)
			if err != nil {
				t.Fatal(err)
			}
			if c.IntegrationBridge() != tc.want || c.OVS.IntegrationBridge != tc.want {
				t.Errorf("IntegrationBridge() = %q, OVS.IntegrationBridge = %q, want %q", c.IntegrationBridge(), c.OVS.IntegrationBridge, tc.want)
			}
		})
	}
}

func TestLoadMalformed(t *testing.T) {
	for _, tc := range []struct {
		name, conf string
		want       []string // substrings of the error
	}{
		{"bad int", "[DEFAULT]\nresync_interval = five\n", []string{"neutron.conf", "[DEFAULT] resync_interval", `"five"`}},
		{"empty int", "[DEFAULT]\nnum_sync_threads =\n", []string{"[DEFAULT] num_sync_threads", "empty"}},
		{"hex int", "[DEFAULT]\ndnsmasq_lease_max = 0x10\n", []string{"[DEFAULT] dnsmasq_lease_max"}},
		{"bad bool", "[DEFAULT]\nforce_metadata = y\n", []string{"[DEFAULT] force_metadata", `"y"`}},
		{"bad float", "[AGENT]\nreport_interval = 30s\n", []string{"[AGENT] report_interval", `"30s"`}},
		{"section as written", "[agent]\ncheck_child_processes_interval = 1.5\n", []string{"[agent] check_child_processes_interval"}},
		{"bad choice", "[AGENT]\ncheck_child_processes_action = restart\n", []string{"[AGENT] check_child_processes_action", "respawn, exit"}},
		{"bad datapath", "[OVS]\ndatapath_type = kernel\n", []string{"[OVS] datapath_type"}},
		{"below min", "[DEFAULT]\nbulk_reload_interval = -1\n", []string{"[DEFAULT] bulk_reload_interval", "minimum"}},
		{"throttle > interval", "[DEFAULT]\nresync_interval = 2\nresync_throttle = 3\n", []string{"neutron.conf", "[DEFAULT] resync_throttle", "resync_interval"}},
		{"unknown ref", "[DEFAULT]\ndhcp_confs = $nothing/dhcp\n", []string{"[DEFAULT] dhcp_confs", "$nothing"}},
		{"loop", "[DEFAULT]\nstate_path = $dhcp_confs\ndhcp_confs = $state_path/x\n", []string{"loop"}},
		{"bad referenced value", "[DEFAULT]\nresync_interval = x\nhost = $resync_interval\n", []string{"resync_interval"}},
		{"syntax", "[DEFAULT\nfoo = bar\n", []string{"neutron.conf:1", "must end with ]"}},
		{"before any section", "\n# c\nhost = h\n", []string{"neutron.conf:3", "before any section"}},
		{"not utf-8", "[DEFAULT]\nhost = \x93\n", []string{"neutron.conf:2", "UTF-8"}},
		{"continuation", "[DEFAULT]\n  host = h\n", []string{"neutron.conf:2", "continuation"}},
		{"triple quotes", "[DEFAULT]\ndns_domain = \"\"\"x\"\"\"\n", []string{"neutron.conf:2", "quote"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(writeFiles(t, tc.conf)...)
			if err == nil {
				t.Fatal("Load succeeded, want an error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing.ini")); err == nil || !strings.Contains(err.Error(), "missing.ini") {
		t.Errorf("missing file: err = %v", err)
	}
}

func TestLoadErrorNamesLaterFile(t *testing.T) {
	p := writeFiles(t, "[DEFAULT]\nresync_interval = 3\n", "[DEFAULT]\nresync_throttle = 4\n")
	_, err := Load(p...)
	if err == nil || !strings.Contains(err.Error(), "dhcp_agent.ini") {
		t.Fatalf("err = %v, want it to name dhcp_agent.ini", err)
	}
}
