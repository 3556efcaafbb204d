package memory

import (
	"encoding/json"
	"reflect"
	"sync"
	"testing"

	"qdhcp/model"
)

// decoded is a notification with its payload decoded, for comparisons.
type decoded struct {
	Method  string
	Payload map[string]any
}

func decode(t *testing.T, notes []model.Notification) []decoded {
	t.Helper()
	out := make([]decoded, len(notes))
	for i, n := range notes {
		out[i].Method = n.Method
		if err := json.Unmarshal(n.Payload, &out[i].Payload); err != nil {
			t.Fatalf("%s payload: %v", n.Method, err)
		}
	}
	return out
}

func methods(ds []decoded) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.Method)
	}
	return out
}

func TestDiffNetworkLifecycle(t *testing.T) {
	n := testNet()
	got := decode(t, Diff(nil, n))
	want := []decoded{{"network_create_end", map[string]any{"network": map[string]any{"id": testNID}, "priority": 0.0}}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("create: %v", got)
	}
	got = decode(t, Diff(n, nil))
	want = []decoded{{"network_delete_end", map[string]any{"network_id": testNID, "priority": 2.0}}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("delete: %v", got)
	}
	if notes := Diff(n, n.Clone()); len(notes) != 0 {
		t.Fatalf("no change produced %v", decode(t, notes))
	}
}

func TestDiffNetworkUpdate(t *testing.T) {
	old := testNet()
	n := old.Clone()
	n.AdminStateUp = boolp(false)
	got := decode(t, Diff(old, n))
	if len(got) != 1 || got[0].Method != "network_update_end" {
		t.Fatalf("admin down: %v", methods(got))
	}
	net := got[0].Payload["network"].(map[string]any)
	if net["admin_state_up"] != false || net["id"] != testNID || got[0].Payload["priority"] != 1.0 {
		t.Fatalf("payload %v", got[0].Payload)
	}
	n = old.Clone()
	n.MTU = 9000
	if got := decode(t, Diff(old, n)); len(got) != 1 || got[0].Payload["network"].(map[string]any)["mtu"] != 9000.0 {
		t.Fatalf("mtu: %v", got)
	}
	n = old.Clone()
	n.Name = "renamed"
	if notes := Diff(old, n); len(notes) != 0 {
		t.Fatalf("a rename produced %v", decode(t, notes))
	}
}

func TestDiffSubnets(t *testing.T) {
	old := testNet()
	n := old.Clone()
	n.Subnets[0].CIDR = "10.95.0.0/24"                                               // changed
	n.Subnets = n.Subnets[:2]                                                        // offSub removed
	n.NonLocalSubnets = []*model.Subnet{{ID: "eeeeeeee-0000-4000-8000-00000000000e", // added
		IPVersion: 4, CIDR: "10.96.0.0/24", EnableDHCP: true}}
	got := decode(t, Diff(old, n))
	if m := methods(got); !reflect.DeepEqual(m, []string{"subnet_update_end", "subnet_create_end", "subnet_delete_end"}) {
		t.Fatalf("methods %v", m)
	}
	sub := got[0].Payload["subnet"].(map[string]any)
	if sub["id"] != v4Sub || sub["cidr"] != "10.95.0.0/24" || sub["network_id"] != testNID || got[0].Payload["priority"] != 3.0 {
		t.Fatalf("update payload %v", got[0].Payload)
	}
	if got[1].Payload["subnet"].(map[string]any)["network_id"] != testNID || got[1].Payload["priority"] != 3.0 {
		t.Fatalf("create payload %v", got[1].Payload)
	}
	want := map[string]any{"subnet_id": offSub, "network_id": testNID, "priority": 4.0}
	if !reflect.DeepEqual(got[2].Payload, want) {
		t.Fatalf("delete payload %v", got[2].Payload)
	}
}

func TestDiffPorts(t *testing.T) {
	old := testNet()
	old.Ports = append(old.Ports, &model.Port{ID: "dddddddd-0000-4000-8000-000000000002", MACAddress: "fa:16:3e:00:00:02",
		DeviceOwner: "compute:nova", FixedIPs: []model.FixedIP{{SubnetID: v4Sub, IPAddress: "10.90.0.12"}}})
	n := old.Clone()
	n.Ports[0].FixedIPs[0].IPAddress = "10.90.0.13" // vmPort changed
	n.Ports = n.Ports[:1]                           // port 2 removed
	n.Ports = append(n.Ports, &model.Port{ID: "dddddddd-0000-4000-8000-000000000003", MACAddress: "fa:16:3e:00:00:03",
		DeviceOwner: "compute:nova", FixedIPs: []model.FixedIP{{SubnetID: v4Sub, IPAddress: "10.90.0.12"}}})
	got := decode(t, Diff(old, n))
	if m := methods(got); !reflect.DeepEqual(m, []string{"port_delete_end", "port_create_end", "port_update_end"}) {
		t.Fatalf("methods %v", m)
	}
	wantDel := map[string]any{"port_id": "dddddddd-0000-4000-8000-000000000002", "network_id": testNID, "priority": 6.0,
		"fixed_ips": []any{map[string]any{"subnet_id": v4Sub, "ip_address": "10.90.0.12"}}}
	if !reflect.DeepEqual(got[0].Payload, wantDel) {
		t.Fatalf("delete payload %v", got[0].Payload)
	}
	created := got[1].Payload["port"].(map[string]any)
	if created["id"] != "dddddddd-0000-4000-8000-000000000003" || created["network_id"] != testNID || got[1].Payload["priority"] != 5.0 {
		t.Fatalf("create payload %v", got[1].Payload)
	}
	updated := got[2].Payload["port"].(map[string]any)
	ip := updated["fixed_ips"].([]any)[0].(map[string]any)["ip_address"]
	if updated["id"] != vmPort || ip != "10.90.0.13" || got[2].Payload["priority"] != 6.0 {
		t.Fatalf("update payload %v", got[2].Payload)
	}
	// the payload decodes into the agent's model.Port
	var p struct{ Port model.Port }
	if err := json.Unmarshal(Diff(old, n)[2].Payload, &p); err != nil || p.Port.FixedIPs[0].IPAddress != "10.90.0.13" {
		t.Fatalf("decode into model.Port: %v %+v", err, p)
	}
}

func TestPutDeleteNotify(t *testing.T) {
	var mu sync.Mutex
	var got []string
	s := New(testHost, WithNotify(func(n model.Notification) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, n.Method)
	}))
	s.Put(testNet())
	n := testNet()
	n.Ports = nil
	s.Put(n)
	s.Put(n) // unchanged: nothing
	if !s.Delete(testNID) || s.Delete(testNID) {
		t.Fatal("Delete result")
	}
	want := []string{"network_create_end", "port_delete_end", "network_delete_end"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("notifications %v", got)
	}
	s.SetNotify(nil)
	s.Put(n) // must not panic
	if ids := s.NetworkIDs(); !reflect.DeepEqual(ids, []string{testNID}) {
		t.Fatalf("ids %v", ids)
	}
}
