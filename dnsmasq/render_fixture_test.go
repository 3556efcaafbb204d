package dnsmasq

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"qdhcp/dhcpagent/config"
	"qdhcp/model"
)

// The reference renderings (testdata/golden) were made with this host,
// clock and haproxy user/group.
const (
	fixtureHost  = "network-node-1"
	fixtureEpoch = 1700000000
)

var (
	fixtureDir = filepath.Join("..", "testdata", "fixtures")
	goldenDir  = filepath.Join("..", "testdata", "golden")
)

// fixtureMeta holds a fixture's annotations (keys starting with "_").
type fixtureMeta struct {
	Conf    map[string]any `json:"_conf"`
	Harness struct {
		IPv6Enabled    *bool `json:"ipv6_enabled"`
		HostTagSupport *bool `json:"host_tag_support"`
	} `json:"_harness"`
	Leases *string       `json:"_leases"`
	Steps  []fixtureStep `json:"_steps"`
}

type fixtureStep struct {
	Action  string          `json:"action"`
	Network json.RawMessage `json:"network"`
	Leases  *string         `json:"leases"`
}

type fixture struct {
	name string
	raw  []byte
	net  *model.Network
	meta fixtureMeta
}

// fixtureNames lists testdata/fixtures/*.json without the extension.
func fixtureNames(t testing.TB) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(fixtureDir, "*.json"))
	if err != nil || len(m) == 0 {
		t.Fatalf("no fixtures in %s: %v", fixtureDir, err)
	}
	var out []string
	for _, p := range m {
		out = append(out, strings.TrimSuffix(filepath.Base(p), ".json"))
	}
	sort.Strings(out)
	return out
}

func loadFixture(t testing.TB, name string) *fixture {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(fixtureDir, name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	n, err := model.DecodeNetwork(raw)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	f := &fixture{name: name, raw: raw, net: n}
	if err := json.Unmarshal(raw, &f.meta); err != nil {
		t.Fatalf("%s annotations: %v", name, err)
	}
	return f
}

// env is the fixture's _harness (both facts default to true).
func (f *fixture) env() Env {
	e := Env{HostTagSupport: true, IPv6Enabled: true, Now: time.Unix(fixtureEpoch, 0)}
	if v := f.meta.Harness.IPv6Enabled; v != nil {
		e.IPv6Enabled = *v
	}
	if v := f.meta.Harness.HostTagSupport; v != nil {
		e.HostTagSupport = *v
	}
	return e
}

// conf is neutron's defaults plus the reference environment and the
// fixture's _conf, with state_path set to statePath.
func (f *fixture) conf(t testing.TB, statePath string) *config.Config {
	t.Helper()
	c := config.Defaults()
	set := func(key, value string) {
		if err := c.Set("", key, value); err != nil {
			t.Fatalf("%s: set %s=%q: %v", f.name, key, value, err)
		}
	}
	set("state_path", statePath)
	set("host", fixtureHost)
	set("interface_driver", "openvswitch")
	set("metadata_proxy_user", "nobody")
	set("metadata_proxy_group", "nogroup")
	keys := make([]string, 0, len(f.meta.Conf))
	for k := range f.meta.Conf {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		set(k, confValue(f.meta.Conf[k]))
	}
	return c
}

// confValue writes a JSON value the way an INI file would hold it.
func confValue(v any) string {
	switch x := v.(type) {
	case bool:
		return strconv.FormatBool(x)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case string:
		return x
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = confValue(e)
		}
		return strings.Join(parts, ",")
	case nil:
		return ""
	}
	return fmt.Sprint(v)
}

// golden reads golden/<dir>/<file> with $STATE replaced; ok is false when
// neutron wrote no such file.
func golden(t testing.TB, dir, file, statePath string) ([]byte, bool) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(goldenDir, dir, file))
	if os.IsNotExist(err) {
		return nil, false
	}
	if err != nil {
		t.Fatal(err)
	}
	return []byte(strings.ReplaceAll(string(b), "$STATE", statePath)), true
}

// goldenAction is one entry of a golden actions.json (the fields the
// tests read).
type goldenAction struct {
	Op          string   `json:"op"`
	PortID      string   `json:"port_id"`
	MACAddress  string   `json:"mac_address"`
	IPCIDRs     []string `json:"ip_cidrs"`
	IPAddress   string   `json:"ip_address"`
	ClientID    *string  `json:"client_id"`
	ServerID    string   `json:"server_id"`
	IAID        string   `json:"iaid"`
	DeviceName  string   `json:"device_name"`
	NetworkID   string   `json:"network_id"`
	Interface   string   `json:"interface_name"`
	Namespace   string   `json:"namespace"`
	DeviceOwner string   `json:"device_owner"`
}

func goldenActions(t testing.TB, dir string) []goldenAction {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(goldenDir, dir, "actions.json"))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var out []goldenAction
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("%s/actions.json: %v", dir, err)
	}
	return out
}

// withSetupPort returns the network as it is after neutron's DHCP port
// setup, for fixtures that lack this agent's port: the server created or
// adopted it (create_dhcp_port / update_dhcp_port). The port is rebuilt
// from the recorded driver.plug (id, MAC) and driver.init_l3 (addresses)
// and replaces the adopted port in place or is appended. This is test
// harness only: the devicemanager does the real setup.
func withSetupPort(t testing.TB, n *model.Network, c *config.Config, dir string) *model.Network {
	t.Helper()
	devID := model.DHCPDeviceID(c.Host, n.ID)
	for _, p := range n.Ports {
		if p.DeviceID == devID {
			return n
		}
	}
	var plug, l3 *goldenAction
	acts := goldenActions(t, dir)
	for i := range acts {
		switch acts[i].Op {
		case "driver.plug":
			plug = &acts[i]
		case "driver.init_l3":
			l3 = &acts[i]
		}
	}
	if plug == nil || l3 == nil {
		return n // neutron set up no port (no DHCP subnet)
	}
	n = n.Clone()
	port := &model.Port{ID: plug.PortID, NetworkID: n.ID, MACAddress: plug.MACAddress,
		DeviceID: devID, DeviceOwner: model.OwnerDHCP}
	for _, cidr := range l3.IPCIDRs {
		pfx := netip.MustParsePrefix(cidr)
		for _, s := range n.Subnets {
			if s.EnableDHCP && s.Prefix() == pfx.Masked() {
				port.FixedIPs = append(port.FixedIPs, model.FixedIP{SubnetID: s.ID, IPAddress: pfx.Addr().String()})
			}
		}
	}
	for i, p := range n.Ports {
		if p.ID == port.ID {
			port.DNSAssignment = p.DNSAssignment
			n.Ports[i] = port
			return n
		}
	}
	n.Ports = append(n.Ports, port)
	return n
}

// cmdlineFile is the golden cmdline format: one argv element a line.
func cmdlineFile(argv []string) []byte {
	var b strings.Builder
	for _, a := range argv {
		b.WriteString(a)
		b.WriteByte('\n')
	}
	return []byte(b.String())
}
