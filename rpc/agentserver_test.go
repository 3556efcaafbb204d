package rpc

import (
	"strings"
	"testing"
	"time"

	"qdhcp/internal/rabbittest"
	"qdhcp/model"
)

func TestAgentServerReceivesOsloCasts(t *testing.T) {
	vh := rabbittest.VHost(t)
	tr := newTransport(t, vh)
	reconnected := make(chan struct{}, 4)
	tr.OnReconnect(func() { reconnected <- struct{}{} })
	got := make(chan model.Notification, 16)
	srv, err := StartAgentServer(tr, "node-1", func(n model.Notification) { got <- n }, AgentServerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	q := srv.Queues()
	if len(q) != 3 || q[0] != "dhcp_agent" || q[1] != "dhcp_agent.node-1" || !strings.HasPrefix(q[2], "dhcp_agent_fanout_") {
		t.Errorf("queues = %v", q)
	}
	peer := rabbittest.StartPeer(t, rabbittest.URL(vh), "neutron")

	cast := func(method, payload string, host any, fanout bool) {
		t.Helper()
		a := peer.Do(map[string]any{"op": "cast", "method": method, "payload": rawJSON(payload), "host": host, "fanout": fanout})
		if !a.OK {
			t.Fatalf("python cast %s: %+v", method, a.Error)
		}
	}
	expect := func(method, payload string) {
		t.Helper()
		select {
		case n := <-got:
			if n.Method != method {
				t.Errorf("got %s, want %s", n.Method, method)
			}
			jsonEqual(t, method+" payload", n.Payload, payload)
		case <-time.After(20 * time.Second):
			t.Fatalf("%s not received", method)
		}
	}

	// direct to this host, as DhcpAgentNotifyAPI._cast_message does
	portPayload := `{"port": {"id": "p1", "network_id": "n1", "device_owner": "compute:nova",
		"fixed_ips": [{"subnet_id": "s1", "ip_address": "10.0.0.5"}]}, "priority": 6}`
	cast("port_update_end", portPayload, "node-1", false)
	expect("port_update_end", portPayload)
	// fanout, as for network_delete_end
	cast("network_delete_end", `{"network_id": "n1", "priority": 2}`, nil, true)
	expect("network_delete_end", `{"network_id": "n1", "priority": 2}`)
	// the shared topic queue
	cast("agent_updated", `{"admin_state_up": false}`, nil, false)
	expect("agent_updated", `{"admin_state_up": false}`)
	// another host's direct cast is not ours
	cast("port_create_end", `{"port": {"id": "p2"}, "priority": 5}`, "node-2", false)
	select {
	case n := <-got:
		t.Errorf("received another host's cast: %+v", n)
	case <-time.After(500 * time.Millisecond):
	}

	// connection loss: the agent reconnects, gets OnReconnect (to resync)
	// and receives again on all three queues
	rabbittest.CloseConnections(t, vh)
	select {
	case <-reconnected:
	case <-time.After(60 * time.Second):
		t.Fatal("no OnReconnect after the connection loss")
	}
	cast("port_delete_end", `{"port_id": "p1", "network_id": "n1", "fixed_ips": [], "priority": 6}`, "node-1", false)
	expect("port_delete_end", `{"port_id": "p1", "network_id": "n1", "fixed_ips": [], "priority": 6}`)
	cast("network_delete_end", `{"network_id": "n2", "priority": 2}`, nil, true)
	expect("network_delete_end", `{"network_id": "n2", "priority": 2}`)
	cast("subnet_delete_end", `{"subnet_id": "s1", "network_id": "n1", "priority": 4}`, nil, false)
	expect("subnet_delete_end", `{"subnet_id": "s1", "network_id": "n1", "priority": 4}`)

	// a method the agent does not have: oslo's NoSuchMethod, nothing delivered
	a := peer.Do(map[string]any{"op": "call", "topic": "dhcp_agent", "server": "node-1", "method": "frob", "version": "1.0"})
	if a.OK || a.Error.ExcType != "NoSuchMethod" {
		t.Errorf("call frob: ok=%v %+v", a.OK, a.Error)
	}
	// a call of a notification method is answered (None) like neutron's agent
	a = peer.Do(map[string]any{"op": "call", "topic": "dhcp_agent", "server": "node-1", "method": "network_create_end",
		"version": "1.0", "args": map[string]any{"payload": map[string]any{"network": map[string]string{"id": "n3"}}}})
	if !a.OK || string(a.Result) != "null" {
		t.Errorf("call network_create_end: %+v %s", a.Error, a.Result)
	}
	expect("network_create_end", `{"network": {"id": "n3"}}`)
}

type rawJSON string

func (r rawJSON) MarshalJSON() ([]byte, error) { return []byte(r), nil }

func TestAgentServerRejectsNilFunc(t *testing.T) {
	if _, err := StartAgentServer(nil, "h", nil, AgentServerOptions{}); err == nil {
		t.Error("nil NotificationFunc accepted")
	}
}
