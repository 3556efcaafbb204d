package rpc

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"sort"
	"testing"
	"time"

	"qdhcp/internal/rabbittest"
	"qdhcp/model"
	"qdhcp/rpc/amqp"
)

// Networks of testdata/oslo/*.json.
const (
	netV4     = "cf09365d-0bff-57c9-8f78-61f4fa05301e" // v4_single_gateway.json
	netV4DHCP = "dfb05f78-87d2-51a6-959d-fbcdd510dfb4" // its DHCP port
	netDual   = "10b7f10d-0357-5f02-94e2-39f47e3975ab" // new_dhcp_port_created.json
)

func newTransport(t *testing.T, vh string) *amqp.Transport {
	t.Helper()
	tr, err := amqp.New(rabbittest.URL(vh), amqp.Options{RabbitRetryInterval: 1, RabbitRetryBackoff: 1, RabbitIntervalMax: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tr.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := tr.WaitConnected(ctx); err != nil {
		t.Fatal(err)
	}
	return tr
}

// jsonEqual compares a recorded argument with the JSON it should be.
func jsonEqual(t *testing.T, what string, got json.RawMessage, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("%s: %v in %s", what, err, got)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("%s: bad want: %v", what, err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("%s = %s, want %s", what, got, want)
	}
}

func argNames(c rabbittest.Call) []string {
	var out []string
	for k := range c.Args {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// adminContextKeys is what neutron_lib's admin context serialises.
var adminContextKeys = []string{
	"auth_token", "domain", "global_request_id", "is_admin", "is_admin_project", "project",
	"project_domain", "project_id", "project_name", "read_only", "request_id", "resource_uuid",
	"roles", "show_deleted", "system_scope", "tenant_id", "tenant_name", "timestamp", "user",
	"user_domain", "user_id", "user_identity", "user_name",
}

func checkAdminContext(t *testing.T, ctx map[string]any) {
	t.Helper()
	var keys []string
	for k := range ctx {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if !reflect.DeepEqual(keys, adminContextKeys) {
		t.Errorf("context keys = %v\nwant %v", keys, adminContextKeys)
	}
	if ctx["is_admin"] != true || ctx["user_id"] != nil || ctx["project_id"] != nil ||
		!reflect.DeepEqual(ctx["roles"], []any{"admin"}) {
		t.Errorf("context = %v, want an admin without user or project", ctx)
	}
}

func TestPluginClientAgainstOslo(t *testing.T) {
	vh := rabbittest.VHost(t)
	peer := rabbittest.StartPeer(t, rabbittest.URL(vh), "neutron", "v4_single_gateway.json", "new_dhcp_port_created.json")
	c := NewPluginClient(newTransport(t, vh), "node-1", PluginOptions{})
	ctx := context.Background()

	nets, err := c.GetActiveNetworksInfo(ctx, false)
	if err != nil || len(nets) != 2 {
		t.Fatalf("GetActiveNetworksInfo: %d networks, %v", len(nets), err)
	}
	ids := []string{nets[0].ID, nets[1].ID}
	sort.Strings(ids)
	if ids[0] != netDual || ids[1] != netV4 {
		t.Errorf("active networks %v", ids)
	}
	net, err := c.GetNetworkInfo(ctx, netV4)
	if err != nil || net == nil || net.ID != netV4 || net.Port(netV4DHCP) == nil {
		t.Fatalf("GetNetworkInfo: %+v, %v", net, err)
	}
	if missing, err := c.GetNetworkInfo(ctx, "0b8f0e5e-0000-4000-8000-000000000000"); missing != nil || err != nil {
		t.Errorf("GetNetworkInfo(unknown) = %+v, %v; want nil, nil", missing, err)
	}
	name, up := "", true
	created, err := c.CreateDHCPPort(ctx, model.PortRequest{
		Name: &name, AdminStateUp: &up, DeviceID: "dhcp-dev-1", NetworkID: netV4,
		ProjectID: net.Project(), FixedIPs: []model.FixedIP{{SubnetID: net.Subnets[0].ID}},
	})
	if err != nil || created == nil || created.DeviceOwner != model.OwnerDHCP || created.BindingHostID != "node-1" {
		t.Fatalf("CreateDHCPPort: %+v, %v", created, err)
	}
	updated, err := c.UpdateDHCPPort(ctx, created.ID, model.PortRequest{NetworkID: netV4, DeviceID: "dhcp-dev-2"})
	if err != nil || updated == nil || updated.DeviceID != "dhcp-dev-2" {
		t.Fatalf("UpdateDHCPPort: %+v, %v", updated, err)
	}
	got, err := c.GetDHCPPort(ctx, created.ID)
	if err != nil || got == nil || got.ID != created.ID {
		t.Fatalf("GetDHCPPort: %+v, %v", got, err)
	}
	_, err = c.GetDHCPPort(ctx, "5c7e0000-0000-4000-8000-000000000000")
	var re *model.RemoteError
	if !errors.As(err, &re) || re.Class != "neutron_lib.exceptions.PortNotFound" ||
		re.Message != "Port 5c7e0000-0000-4000-8000-000000000000 could not be found." || !errors.Is(err, model.ErrNotFound) {
		t.Errorf("GetDHCPPort(missing): %v", err)
	}
	if err := c.ReleaseDHCPPort(ctx, netV4, "dhcp-dev-2"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetDHCPPort(ctx, created.ID); !errors.Is(err, model.ErrNotFound) {
		t.Errorf("port still there after release: %v", err)
	}
	if err := c.DHCPReadyOnPorts(ctx, []string{"p1", "p2"}); err != nil {
		t.Fatal(err)
	}

	// what the real oslo.messaging server received
	type want struct {
		method, version string
		args            map[string]string // arg -> JSON
	}
	wants := []want{
		{"get_active_networks_info", "1.1", map[string]string{"host": `"node-1"`, "enable_dhcp_filter": `false`}},
		{"get_network_info", "1.0", map[string]string{"network_id": `"` + netV4 + `"`, "host": `"node-1"`}},
		{"get_network_info", "1.0", map[string]string{"network_id": `"0b8f0e5e-0000-4000-8000-000000000000"`, "host": `"node-1"`}},
		{"create_dhcp_port", "1.1", map[string]string{"host": `"node-1"`, "port": `{"port": {"name": "", "admin_state_up": true,
			"device_id": "dhcp-dev-1", "network_id": "` + netV4 + `", "project_id": "` + net.Project() + `",
			"fixed_ips": [{"subnet_id": "` + net.Subnets[0].ID + `"}]}}`}},
		{"update_dhcp_port", "1.1", map[string]string{"host": `"node-1"`, "port_id": `"` + created.ID + `"`,
			"port": `{"port": {"network_id": "` + netV4 + `", "device_id": "dhcp-dev-2"}}`}},
		{"get_dhcp_port", "1.8", map[string]string{"port_id": `"` + created.ID + `"`}},
		{"get_dhcp_port", "1.8", map[string]string{"port_id": `"5c7e0000-0000-4000-8000-000000000000"`}},
		{"release_dhcp_port", "1.0", map[string]string{"network_id": `"` + netV4 + `"`, "device_id": `"dhcp-dev-2"`, "host": `"node-1"`}},
		{"get_dhcp_port", "1.8", map[string]string{"port_id": `"` + created.ID + `"`}},
		{"dhcp_ready_on_ports", "1.5", map[string]string{"port_ids": `["p1", "p2"]`}},
	}
	calls := peer.Calls()
	if len(calls) != len(wants) {
		t.Fatalf("server got %d calls, want %d", len(calls), len(wants))
	}
	var requestID any
	for i, w := range wants {
		c := calls[i]
		if c.Topic != TopicPlugin || c.Method != w.method || c.Version == nil || *c.Version != w.version || !c.IsCall {
			t.Errorf("call %d: %s %s v%v, want %s %s", i, c.Topic, c.Method, c.Version, w.method, w.version)
			continue
		}
		if c.NamespacePresent {
			t.Errorf("%s: namespace sent (neutron's is None)", w.method)
		}
		var names []string
		for k, v := range w.args {
			names = append(names, k)
			if raw, ok := c.Args[k]; ok {
				jsonEqual(t, w.method+" "+k, raw, v)
			}
		}
		sort.Strings(names)
		if got := argNames(c); !reflect.DeepEqual(got, names) {
			t.Errorf("%s kwargs = %v, want %v", w.method, got, names)
		}
		checkAdminContext(t, c.Context)
		if i == 0 {
			requestID = c.Context["request_id"]
		} else if c.Context["request_id"] != requestID {
			t.Errorf("%s: request_id %v, want the client's one context %v", w.method, c.Context["request_id"], requestID)
		}
	}
}

func TestPluginClientTimeoutBacksOff(t *testing.T) {
	vh := rabbittest.VHost(t)
	c := NewPluginClient(newTransport(t, vh), "node-1", PluginOptions{Timeout: 300 * time.Millisecond, MaxTimeout: time.Second})
	ctx := context.Background()
	for _, want := range []time.Duration{600 * time.Millisecond, time.Second, time.Second} {
		_, err := c.GetNetworkInfo(ctx, netV4) // nobody serves q-plugin
		if !errors.Is(err, amqp.ErrTimeout) {
			t.Fatalf("err = %v, want ErrTimeout", err)
		}
		if got := c.timeouts.get("get_network_info"); got != want {
			t.Errorf("timeout after a timeout = %s, want %s", got, want)
		}
	}
	if got := c.timeouts.get("get_dhcp_port"); got != 300*time.Millisecond {
		t.Errorf("other methods keep their timeout, got %s", got)
	}
}
