package config

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestSet(t *testing.T) {
	c := Defaults()
	for _, kv := range [][3]string{
		{"", "dhcp_lease_duration", "600"},
		{"DEFAULT", "dnsmasq_dns_servers", "8.8.8.8,1.1.1.1"},
		{"", "dnsmasq_base_log_dir", "$state_path/dnsmasq-logs"},
		{"", "AGENT.check_child_processes_interval", "2"},
		{"agent", "report_interval", "0"},
		{"", "enable_isolated_metadata", "True"},
	} {
		if err := c.Set(kv[0], kv[1], kv[2]); err != nil {
			t.Fatalf("Set%v: %v", kv, err)
		}
	}
	if c.DHCPLeaseDuration != 600 || !reflect.DeepEqual(c.DnsmasqDNSServers, []string{"8.8.8.8", "1.1.1.1"}) ||
		c.DnsmasqBaseLogDir != "/var/lib/neutron/dnsmasq-logs" || c.Agent.CheckChildProcessesInterval != 2 ||
		c.Agent.ReportInterval != 0 || !c.EnableIsolatedMetadata {
		t.Errorf("after Set: %+v", c)
	}
}

func TestSetStatePathDerived(t *testing.T) {
	c := Defaults()
	if err := c.Set("DEFAULT", "external_pids", "/run/pids"); err != nil {
		t.Fatal(err)
	}
	if err := c.Set("DEFAULT", "state_path", "/tmp/st"); err != nil {
		t.Fatal(err)
	}
	if c.DHCPConfs != "/tmp/st/dhcp" || c.MetadataProxySocket != "/tmp/st/metadata_proxy" {
		t.Errorf("derived defaults did not follow state_path: %q %q", c.DHCPConfs, c.MetadataProxySocket)
	}
	if c.ExternalPids != "/run/pids" {
		t.Errorf("explicit external_pids changed to %q", c.ExternalPids)
	}
	if err := c.Set("DEFAULT", "state_path", "/tmp/other"); err != nil {
		t.Fatal(err)
	}
	if c.DHCPConfs != "/tmp/other/dhcp" {
		t.Errorf("second state_path change: dhcp_confs = %q", c.DHCPConfs)
	}
	// the lead's direct form keeps working too
	c.StatePath = "/x"
	c.ExpandStatePath()
	if c.DHCPConfs != "/x/dhcp" || c.ExternalPids != "/run/pids" {
		t.Errorf("ExpandStatePath: %q %q", c.DHCPConfs, c.ExternalPids)
	}
}

func TestSetErrors(t *testing.T) {
	c := Defaults()
	err := c.Set("DEFAULT", "no_such_option", "1")
	if !errors.Is(err, ErrUnknownOption) {
		t.Errorf("unknown option: err = %v, want ErrUnknownOption", err)
	}
	err = c.Set("", "AGENT.check_child_processes_action", "sometimes")
	if err == nil || !strings.Contains(err.Error(), "[AGENT] check_child_processes_action") {
		t.Errorf("bad choice: err = %v", err)
	}
	if c.Agent.CheckChildProcessesAction != "respawn" {
		t.Errorf("failed Set changed the value to %q", c.Agent.CheckChildProcessesAction)
	}
	// Set does not cross-check; Validate does
	if err := c.Set("", "resync_throttle", "9"); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "resync_throttle") {
		t.Errorf("Validate = %v, want resync_throttle refused", err)
	}
}
