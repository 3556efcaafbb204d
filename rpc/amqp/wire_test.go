package amqp_test

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"

	"qdhcp/internal/rabbittest"
	"qdhcp/rpc/amqp"
)

// spy binds a private queue to exchange/key and returns its deliveries.
func spy(t *testing.T, vh, exchange, kind, key string) <-chan amqp091.Delivery {
	t.Helper()
	conn, err := amqp091.DialConfig("amqp://guest:guest@"+rabbittest.Addr+"/", amqp091.Config{Vhost: vh})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.ExchangeDeclare(exchange, kind, false, kind == "fanout", false, false, nil); err != nil {
		t.Fatal(err)
	}
	q, err := ch.QueueDeclare("", false, true, true, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.QueueBind(q.Name, key, exchange, false, nil); err != nil {
		t.Fatal(err)
	}
	d, err := ch.Consume(q.Name, "", true, true, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func next(t *testing.T, d <-chan amqp091.Delivery) amqp091.Delivery {
	t.Helper()
	select {
	case m := <-d:
		return m
	case <-time.After(20 * time.Second):
		t.Fatal("spy: nothing published")
		return amqp091.Delivery{}
	}
}

// wireShape is what must be identical between oslo.messaging and qdhcp for
// one kind of message: AMQP properties and the keys of envelope and message.
type wireShape struct {
	ContentType, ContentEncoding string
	DeliveryMode, Priority       uint8
	Expiration                   string
	Headers                      int
	Envelope                     []string
	Message                      []string
}

var hex32 = regexp.MustCompile(`^[0-9a-f]{32}$`)

func shape(t *testing.T, d amqp091.Delivery) (wireShape, map[string]json.RawMessage) {
	t.Helper()
	var env map[string]json.RawMessage
	if err := json.Unmarshal(d.Body, &env); err != nil {
		t.Fatalf("body %s: %v", d.Body, err)
	}
	s := wireShape{
		ContentType: d.ContentType, ContentEncoding: d.ContentEncoding,
		DeliveryMode: d.DeliveryMode, Priority: d.Priority, Expiration: d.Expiration, Headers: len(d.Headers),
	}
	for k := range env {
		s.Envelope = append(s.Envelope, k)
	}
	sort.Strings(s.Envelope)
	var inner string
	if err := json.Unmarshal(env["oslo.message"], &inner); err != nil {
		t.Fatalf("oslo.message: %v", err)
	}
	var msg map[string]json.RawMessage
	if err := json.Unmarshal([]byte(inner), &msg); err != nil {
		t.Fatal(err)
	}
	for k := range msg {
		if !strings.HasPrefix(k, "_context_") { // context keys compared elsewhere
			s.Message = append(s.Message, k)
		}
	}
	sort.Strings(s.Message)
	return s, msg
}

// TestWireMatchesOslo captures the same cast, fanout cast and call as
// published by the real oslo.messaging and by qdhcp, and compares them.
func TestWireMatchesOslo(t *testing.T) {
	vh := rabbittest.VHost(t)
	direct := spy(t, vh, "neutron", "topic", "dhcp_agent.spy")
	fanout := spy(t, vh, "dhcp_agent_fanout", "fanout", "")
	calls := spy(t, vh, "neutron", "topic", "go-topic.spy")
	peer := rabbittest.StartPeer(t, rabbittest.URL(vh), "neutron")
	tr := newTransport(t, rabbittest.URL(vh), amqp.Options{})
	ctxDict := map[string]any{"user_id": nil, "project_id": nil, "tenant_id": nil,
		"is_admin": true, "roles": []string{"admin"}, "request_id": "req-fake-neutron"}
	payload := map[string]any{"port": map[string]string{"id": "p1"}, "priority": 6}
	bg := context.Background()

	compare := func(what string, py, gov amqp091.Delivery) map[string]json.RawMessage {
		t.Helper()
		ps, pmsg := shape(t, py)
		gs, gmsg := shape(t, gov)
		if !reflect.DeepEqual(ps, gs) {
			t.Errorf("%s:\noslo  %+v\nqdhcp %+v", what, ps, gs)
		}
		// same values (Python's json.dumps spacing aside)
		for k, v := range pmsg {
			if k == "method" || k == "args" || k == "version" || strings.HasPrefix(k, "_context_") {
				var a, b any
				_ = json.Unmarshal(v, &a)
				_ = json.Unmarshal(gmsg[k], &b)
				if !reflect.DeepEqual(a, b) {
					t.Errorf("%s %s: oslo %s, qdhcp %s", what, k, v, gmsg[k])
				}
			}
		}
		return gmsg
	}

	// direct cast, as DhcpAgentNotifyAPI sends port_update_end
	if a := peer.Do(map[string]any{"op": "cast", "method": "port_update_end", "payload": payload, "host": "spy"}); !a.OK {
		t.Fatal(a.Error)
	}
	py := next(t, direct)
	if err := tr.Cast(bg, amqp.Target{Topic: "dhcp_agent", Server: "spy", Version: "1.0"},
		amqp.Request{Method: "port_update_end", Args: map[string]any{"payload": payload}, Context: ctxDict}); err != nil {
		t.Fatal(err)
	}
	msg := compare("cast", py, next(t, direct))
	if !hex32.Match(unquote(msg["_unique_id"])) {
		t.Errorf("_unique_id = %s", msg["_unique_id"])
	}

	// fanout cast, as network_delete_end
	if a := peer.Do(map[string]any{"op": "cast", "method": "network_delete_end", "payload": payload, "fanout": true}); !a.OK {
		t.Fatal(a.Error)
	}
	py = next(t, fanout)
	if err := tr.Cast(bg, amqp.Target{Topic: "dhcp_agent", Fanout: true, Version: "1.0"},
		amqp.Request{Method: "network_delete_end", Args: map[string]any{"payload": payload}, Context: ctxDict}); err != nil {
		t.Fatal(err)
	}
	gov := next(t, fanout)
	compare("fanout cast", py, gov)
	if py.RoutingKey != gov.RoutingKey {
		t.Errorf("fanout routing key: oslo %q, qdhcp %q", py.RoutingKey, gov.RoutingKey)
	}

	// call (nobody answers: both time out after 1 s; expiration = timeout)
	a := peer.Do(map[string]any{"op": "call", "topic": "go-topic", "server": "spy", "method": "echo",
		"version": "1.3", "timeout": 1, "args": map[string]any{"x": 1}})
	if a.OK || a.Error.Class != "MessagingTimeout" {
		t.Errorf("python call: %+v", a.Error)
	}
	py = next(t, calls)
	_, err := tr.Call(bg, amqp.Target{Topic: "go-topic", Server: "spy", Version: "1.3"},
		amqp.Request{Method: "echo", Args: map[string]any{"x": 1}, Context: ctxDict}, time.Second)
	if err == nil {
		t.Fatal("call answered by nobody succeeded")
	}
	msg = compare("call", py, next(t, calls))
	if q := string(unquote(msg["_reply_q"])); !strings.HasPrefix(q, "reply_") || !hex32.MatchString(q[len("reply_"):]) {
		t.Errorf("_reply_q = %s", msg["_reply_q"])
	}
	if !hex32.Match(unquote(msg["_msg_id"])) || string(msg["_timeout"]) != "null" {
		t.Errorf("_msg_id %s, _timeout %s", msg["_msg_id"], msg["_timeout"])
	}
}

func unquote(raw json.RawMessage) []byte {
	var s string
	_ = json.Unmarshal(raw, &s)
	return []byte(s)
}

// TestReplyWireMatchesOslo sends hand-made requests whose _reply_q is a spy
// queue to the real oslo.messaging server and to a qdhcp server, and
// compares the replies (result and failure).
func TestReplyWireMatchesOslo(t *testing.T) {
	vh := rabbittest.VHost(t)
	rabbittest.StartPeer(t, rabbittest.URL(vh), "neutron", "v4_single_gateway.json")
	tr := newTransport(t, rabbittest.URL(vh), amqp.Options{})
	srv, err := tr.Serve(amqp.Target{Topic: "go-topic", Server: "s"}, goEcho(nil))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()

	conn, err := amqp091.DialConfig("amqp://guest:guest@"+rabbittest.Addr+"/", amqp091.Config{Vhost: vh})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	q, err := ch.QueueDeclare("", false, true, true, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	replies, err := ch.Consume(q.Name, "", true, true, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	request := func(key, method, version string, args map[string]any) amqp091.Delivery {
		t.Helper()
		n++ // oslo drops a repeated _unique_id
		inner, _ := json.Marshal(map[string]any{"method": method, "args": args, "version": version,
			"_msg_id": "0123456789abcdef0123456789abcdef", "_reply_q": q.Name, "_timeout": nil,
			"_unique_id": fmt.Sprintf("%032x", n), "_context_is_admin": true})
		body, _ := json.Marshal(map[string]string{"oslo.version": "2.0", "oslo.message": string(inner)})
		if err := ch.Publish("neutron", key, false, false, amqp091.Publishing{
			ContentType: "application/json", ContentEncoding: "utf-8", Body: body}); err != nil {
			t.Fatal(err)
		}
		return next(t, replies)
	}
	failureKeys := func(msg map[string]json.RawMessage) []string {
		var text string
		if err := json.Unmarshal(msg["failure"], &text); err != nil {
			t.Fatalf("failure is not a JSON string: %s", msg["failure"])
		}
		var f map[string]any
		if err := json.Unmarshal([]byte(text), &f); err != nil {
			t.Fatal(err)
		}
		var keys []string
		for k := range f {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		return keys
	}

	pyOK, pyOKMsg := shape(t, request("q-plugin", "get_dhcp_port", "1.8", map[string]any{"port_id": "dfb05f78-87d2-51a6-959d-fbcdd510dfb4"}))
	goOK, goOKMsg := shape(t, request("go-topic.s", "echo", "1.0", map[string]any{"a": 1}))
	if !reflect.DeepEqual(pyOK, goOK) {
		t.Errorf("result reply:\noslo  %+v\nqdhcp %+v", pyOK, goOK)
	}
	for _, m := range []map[string]json.RawMessage{pyOKMsg, goOKMsg} {
		if string(m["_msg_id"]) != `"0123456789abcdef0123456789abcdef"` || string(m["ending"]) != "true" || string(m["failure"]) != "null" {
			t.Errorf("reply fields: %v", m)
		}
	}
	pyErr, pyErrMsg := shape(t, request("q-plugin", "get_dhcp_port", "1.8", map[string]any{"port_id": "missing"}))
	goErr, goErrMsg := shape(t, request("go-topic.s", "conflict", "1.0", nil))
	if !reflect.DeepEqual(pyErr, goErr) {
		t.Errorf("failure reply:\noslo  %+v\nqdhcp %+v", pyErr, goErr)
	}
	if pk, gk := failureKeys(pyErrMsg), failureKeys(goErrMsg); !reflect.DeepEqual(pk, gk) {
		t.Errorf("failure keys: oslo %v, qdhcp %v", pk, gk)
	}
	if string(pyErrMsg["result"]) != "null" || string(goErrMsg["result"]) != "null" {
		t.Errorf("failure replies carry a result: %s / %s", pyErrMsg["result"], goErrMsg["result"])
	}
}
