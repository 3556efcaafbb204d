package devicemanager

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"qdhcp/dhcpagent/config"
	"qdhcp/model"
)

// The golden test replays each shared fixture (and its steps) through
// SetupDHCPPort and NewPlan, renders the device-manager actions neutron
// would record for that plan (namespace, sysctls, plug or MTU, checksum
// rules, init_l3 addresses, default-route changes, destroy) and compares
// them, in order, with the actions.json neutron produced.

const goldenDir = "../testdata/devicemanager/golden"

type action = map[string]any

// dmOps are the recorded operations that belong to the device manager.
func isDeviceManagerOp(op string) bool {
	switch {
	case strings.HasPrefix(op, "rpc."), strings.HasPrefix(op, "driver."), strings.HasPrefix(op, "route."):
		return true
	}
	switch op {
	case "ip_lib.ensure_namespace", "ip_lib.set_ip_nonlocal_bind_for_namespace",
		"ip_lib.ensure_device_is_ready", "ip_lib.delete_network_namespace", "iptables.add_rule":
		return true
	}
	return false
}

// loadGolden reads actions.json and keeps the device-manager operations; an
// ip6tables rule only counts when the IptablesManager applied IPv6.
func loadGolden(t *testing.T, dir string) []action {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "actions.json"))
	if err != nil {
		t.Fatal(err)
	}
	var all []action
	if err := json.Unmarshal(b, &all); err != nil {
		t.Fatal(err)
	}
	useIPv6 := true
	for _, a := range all {
		if a["op"] == "iptables.apply" {
			useIPv6, _ = a["use_ipv6"].(bool)
		}
	}
	var out []action
	for _, a := range all {
		op, _ := a["op"].(string)
		if !isDeviceManagerOp(op) || (op == "iptables.add_rule" && a["family"] == "ipv6" && !useIPv6) {
			continue
		}
		out = append(out, a)
	}
	return out
}

// normalize round-trips through JSON so rendered and loaded actions compare.
func normalize(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// goldenSim is the device state neutron's agent would have between steps.
type goldenSim struct {
	t       *testing.T
	conf    *config.Config
	ipv6    bool
	plugged bool
	device  string
	gw      map[int]string // current default gateway per IP version
}

func confFromFixture(t *testing.T, raw map[string]any) (*config.Config, bool) {
	c := testConf()
	if o, ok := raw["_conf"].(map[string]any); ok {
		for k, v := range o {
			switch k {
			case "force_metadata":
				c.ForceMetadata = v.(bool)
			case "enable_isolated_metadata":
				c.EnableIsolatedMetadata = v.(bool)
			case "enable_metadata_network":
				c.EnableMetadataNetwork = v.(bool)
			}
		}
	}
	ipv6 := true
	if h, ok := raw["_harness"].(map[string]any); ok {
		if v, ok := h["ipv6_enabled"].(bool); ok {
			ipv6 = v
		}
	}
	return c, ipv6
}

func TestGoldenDeviceActions(t *testing.T) {
	entries, err := os.ReadDir(goldenDir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) < 20 {
		t.Fatalf("only %d goldens", len(entries))
	}
	for _, e := range entries {
		name := e.Name()
		t.Run(name, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("..", "testdata", "devicemanager", "fixtures", name+".json"))
			if err != nil {
				t.Fatal(err)
			}
			var raw map[string]any
			if err := json.Unmarshal(b, &raw); err != nil {
				t.Fatal(err)
			}
			conf, ipv6 := confFromFixture(t, raw)
			sim := &goldenSim{t: t, conf: conf, ipv6: ipv6, gw: map[int]string{}}
			net := loadFixture(t, name)
			golden := loadGolden(t, filepath.Join(goldenDir, name))
			sim.compare("configure", sim.configure(net, golden), golden)

			steps, _ := raw["_steps"].([]any)
			for i, s := range steps {
				step := s.(map[string]any)
				dir := filepath.Join(goldenDir, name, fmt.Sprintf("step%d", i+1))
				golden := loadGolden(t, dir)
				if nb, ok := step["network"]; ok {
					b, _ := json.Marshal(nb)
					if net, err = model.DecodeNetwork(b); err != nil {
						t.Fatal(err)
					}
				}
				act, _ := step["action"].(string)
				var got []action
				switch act {
				case "restart", "enable", "configure", "sync_state":
					got = sim.configure(net, golden)
				case "reload_allocations":
					got = sim.reload(net)
				default:
					t.Fatalf("step %d: action %q not simulated", i+1, act)
				}
				sim.compare(fmt.Sprintf("step%d %s", i+1, act), got, golden)
			}
		})
	}
}

func (s *goldenSim) compare(what string, got, want []action) {
	s.t.Helper()
	g, w := normalize(s.t, got), normalize(s.t, want)
	if reflect.DeepEqual(g, w) {
		return
	}
	gb, _ := json.MarshalIndent(got, "", " ")
	wb, _ := json.MarshalIndent(want, "", " ")
	s.t.Errorf("%s: device actions differ\n--- got\n%s\n--- neutron\n%s", what, gb, wb)
}

// serverIdentity is the id and MAC neutron-server gave a port it created,
// as the golden's plug action shows (the server picks them at random).
func serverIdentity(golden []action) (id, mac string) {
	for _, a := range golden {
		if a["op"] == "driver.plug" {
			return a["port_id"].(string), a["mac_address"].(string)
		}
	}
	return "", ""
}

// configure is the driver's enable: setup_dhcp_port, then setup.
func (s *goldenSim) configure(net *model.Network, golden []action) []action {
	if !net.HasDHCPSubnet() {
		return nil
	}
	fp := newFakePlugin(testHost, net)
	fp.nextPortID, fp.nextMAC = serverIdentity(golden)
	port, err := SetupDHCPPort(context.Background(), fp, s.conf, net)
	if err != nil {
		s.t.Fatalf("SetupDHCPPort: %v", err)
	}
	var out []action
	for _, c := range fp.calls {
		a := action{"op": "rpc." + c.Method}
		for k, v := range c.Args {
			a[k] = v
		}
		out = append(out, a)
	}
	p := NewPlan(s.conf, net, port, s.ipv6)
	if p.Bridge != "br-int" {
		s.t.Errorf("bridge %q", p.Bridge)
	}
	return append(out, s.setup(p)...)
}

// setup renders the plan as neutron's DeviceManager.setup records it.
func (s *goldenSim) setup(p *Plan) []action {
	ns := p.Namespace
	var out []action
	out = append(out, action{"op": "ip_lib.ensure_namespace", "namespace": ns})
	for _, sc := range p.Sysctls {
		switch sc.Key {
		case "net.ipv4.ip_nonlocal_bind":
			out = append(out, action{"op": "ip_lib.set_ip_nonlocal_bind_for_namespace", "namespace": ns, "root_namespace": true, "value": 1})
		case "net.ipv6.conf.default.accept_ra":
			out = append(out, action{"op": "driver.configure_ipv6_ra", "namespace": ns, "dev_name": "default", "value": 0})
		default:
			s.t.Errorf("unexpected sysctl %v", sc)
		}
	}
	ready := s.plugged && s.device == p.Device
	out = append(out, action{"op": "ip_lib.ensure_device_is_ready", "device": p.Device, "namespace": ns, "result": ready})
	if ready {
		if p.MTU > 0 {
			out = append(out, action{"op": "driver.set_mtu", "device_name": p.Device, "mtu": p.MTU, "namespace": ns})
		}
	} else {
		out = append(out, action{"op": "driver.plug", "bridge": nil, "device_name": p.Device, "mac_address": p.MAC,
			"mtu": p.MTU, "namespace": ns, "network_id": p.NetworkID, "port_id": p.PortID})
		for _, r := range p.ChecksumRules {
			out = append(out, action{"op": "iptables.add_rule", "chain": r.Chain, "family": r.Family, "namespace": ns,
				"rule": strings.Join(r.Rule, " "), "table": r.Table})
		}
		s.gw = map[int]string{} // a fresh device has no routes
	}
	s.plugged, s.device = true, p.Device
	cidrs := []string{}
	for _, a := range p.Addresses {
		cidrs = append(cidrs, a.String())
	}
	out = append(out, action{"op": "driver.init_l3", "device_name": p.Device, "ip_cidrs": cidrs, "namespace": ns})
	return append(out, s.routes(p)...)
}

// routes renders the default-route changes from the simulated state.
func (s *goldenSim) routes(p *Plan) []action {
	var out []action
	for _, v := range []int{4, 6} {
		var want *DefaultRoute
		for i := range p.Routes {
			if p.Routes[i].Version == v {
				want = &p.Routes[i]
			}
		}
		cur := s.gw[v]
		switch {
		case want == nil && cur != "":
			out = append(out, action{"op": "route.delete_gateway", "device": p.Device, "gateway": cur, "ip_version": v, "namespace": p.Namespace})
			delete(s.gw, v)
		case want != nil && want.Gateway.String() != cur:
			if want.OnLink {
				out = append(out, action{"op": "route.add_route", "device": p.Device, "cidr": want.Gateway.String(), "scope": "link", "namespace": p.Namespace})
			}
			out = append(out, action{"op": "route.add_gateway", "device": p.Device, "gateway": want.Gateway.String(), "ip_version": v, "namespace": p.Namespace})
			s.gw[v] = want.Gateway.String()
		}
	}
	return out
}

// reload is the driver's reload_allocations: with no DHCP subnet left the
// network is disabled (Destroy: unplug, release_dhcp_port, delete the
// namespace), else DeviceManager.update re-applies the routes.
func (s *goldenSim) reload(net *model.Network) []action {
	ns := NamespaceName(net.ID)
	if !net.HasDHCPSubnet() {
		out := []action{
			{"op": "driver.unplug", "device_name": s.device, "namespace": ns},
			{"op": "rpc.release_dhcp_port", "device_id": model.DHCPDeviceID(s.conf.Host, net.ID), "host": s.conf.Host, "network_id": net.ID},
			{"op": "ip_lib.delete_network_namespace", "namespace": ns},
		}
		s.plugged, s.gw = false, map[int]string{}
		return out
	}
	port := net.DHCPPortOf(testHost)
	if port == nil {
		s.t.Fatal("reload: no own DHCP port in the step's network")
	}
	return s.routes(NewPlan(s.conf, net, port, s.ipv6))
}
