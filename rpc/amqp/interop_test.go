package amqp_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"qdhcp/internal/rabbittest"
	"qdhcp/model"
	"qdhcp/rpc/amqp"
)

const netV4 = "cf09365d-0bff-57c9-8f78-61f4fa05301e" // testdata/oslo/v4_single_gateway.json

// newTransport opens a transport on the test vhost and waits for the broker.
func newTransport(t *testing.T, rawURL string, opts amqp.Options) *amqp.Transport {
	t.Helper()
	opts.RabbitRetryInterval, opts.RabbitRetryBackoff, opts.RabbitIntervalMax = 1, 1, 2
	tr, err := amqp.New(rawURL, opts)
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

func TestCallPythonServer(t *testing.T) {
	vh := rabbittest.VHost(t)
	peer := rabbittest.StartPeer(t, rabbittest.URL(vh), "neutron", "v4_single_gateway.json")
	tr := newTransport(t, rabbittest.URL(vh), amqp.Options{ControlExchange: "neutron"})

	ctxDict := map[string]any{"is_admin": true, "roles": []string{"admin"}, "user_id": nil}
	res, err := tr.Call(context.Background(), amqp.Target{Topic: "q-plugin", Version: "1.0"}, amqp.Request{
		Method:  "get_network_info",
		Args:    map[string]any{"network_id": netV4, "host": "node-1"},
		Context: ctxDict,
	}, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var net model.Network
	if err := json.Unmarshal(res, &net); err != nil {
		t.Fatal(err)
	}
	if net.ID != netV4 || len(net.Ports) == 0 {
		t.Errorf("network = %+v", net)
	}

	// Python None comes back as JSON null
	res, err = tr.Call(context.Background(), amqp.Target{Topic: "q-plugin", Version: "1.0"}, amqp.Request{
		Method: "get_network_info", Args: map[string]any{"network_id": "nope", "host": "node-1"},
	}, 10*time.Second)
	if err != nil || string(res) != "null" {
		t.Errorf("unknown network: %s, %v; want null", res, err)
	}

	calls := peer.Calls()
	if len(calls) != 2 {
		t.Fatalf("peer saw %d calls, want 2: %+v", len(calls), calls)
	}
	c := calls[0]
	if c.Topic != "q-plugin" || c.Method != "get_network_info" || c.Version == nil || *c.Version != "1.0" {
		t.Errorf("peer saw %+v", c)
	}
	if c.NamespacePresent || !c.IsCall || c.ClientTimeout != nil {
		t.Errorf("namespace present %v, is_call %v, client_timeout %v; want absent, call, None", c.NamespacePresent, c.IsCall, c.ClientTimeout)
	}
	if string(c.Args["network_id"]) != `"`+netV4+`"` || string(c.Args["host"]) != `"node-1"` || len(c.Args) != 2 {
		t.Errorf("args = %v", c.Args)
	}
	if c.Context["is_admin"] != true || c.Context["user_id"] != nil || fmt.Sprint(c.Context["roles"]) != "[admin]" {
		t.Errorf("context = %v", c.Context)
	}
}

func TestCallRemoteErrors(t *testing.T) {
	vh := rabbittest.VHost(t)
	rabbittest.StartPeer(t, rabbittest.URL(vh), "neutron", "v4_single_gateway.json")
	tr := newTransport(t, rabbittest.URL(vh), amqp.Options{})

	call := func(version, method string, args map[string]any) error {
		_, err := tr.Call(context.Background(), amqp.Target{Topic: "q-plugin", Version: version},
			amqp.Request{Method: method, Args: args}, 10*time.Second)
		return err
	}
	var re *model.RemoteError

	err := call("1.8", "get_dhcp_port", map[string]any{"port_id": "p-missing"})
	if !errors.As(err, &re) {
		t.Fatalf("err = %v (%T), want *model.RemoteError", err, err)
	}
	if re.Class != "neutron_lib.exceptions.PortNotFound" || re.Message != "Port p-missing could not be found." {
		t.Errorf("remote error = %q %q", re.Class, re.Message)
	}

	// the real oslo dispatcher refuses a version above the endpoint's 1.10
	err = call("1.11", "get_dhcp_port", map[string]any{"port_id": "p"})
	if !errors.As(err, &re) || re.Class != "oslo_messaging.rpc.dispatcher.UnsupportedVersion" {
		t.Errorf("version 1.11: %v", err)
	}
	err = call("1.0", "no_such_method", nil)
	if !errors.As(err, &re) || re.Class != "oslo_messaging.rpc.dispatcher.NoSuchMethod" {
		t.Errorf("unknown method: %v", err)
	}
}

func TestCallTimeout(t *testing.T) {
	vh := rabbittest.VHost(t)
	tr := newTransport(t, rabbittest.URL(vh), amqp.Options{})
	start := time.Now()
	_, err := tr.Call(context.Background(), amqp.Target{Topic: "nobody-listens"},
		amqp.Request{Method: "m"}, 700*time.Millisecond)
	if !errors.Is(err, amqp.ErrTimeout) || !amqp.IsTransient(err) {
		t.Fatalf("err = %v, want ErrTimeout", err)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("timeout took %s", el)
	}
	// the caller's context wins when shorter, and is not reported as a timeout
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = tr.Call(ctx, amqp.Target{Topic: "nobody-listens"}, amqp.Request{Method: "m"}, time.Minute)
	if err == nil || errors.Is(err, amqp.ErrTimeout) {
		t.Errorf("cancelled call: %v", err)
	}
}

// goEcho serves "echo" (returns its args), "conflict" (a neutron exception),
// "boom" (a plain Go error); anything else is NoSuchMethod.
func goEcho(got chan<- *amqp.Incoming) amqp.Handler {
	return func(_ context.Context, in *amqp.Incoming) (any, error) {
		if got != nil {
			got <- in
		}
		switch in.Method {
		case "echo":
			return in.Args, nil
		case "conflict":
			return nil, &model.RemoteError{Class: "neutron_lib.exceptions.Conflict", Message: "port in use"}
		case "boom":
			return nil, errors.New("kaboom")
		}
		return nil, fmt.Errorf("%s: %w", in.Method, amqp.ErrNoSuchMethod)
	}
}

func TestPythonCallsGoServer(t *testing.T) {
	vh := rabbittest.VHost(t)
	tr := newTransport(t, rabbittest.URL(vh), amqp.Options{ControlExchange: "neutron"})
	got := make(chan *amqp.Incoming, 8)
	srv, err := tr.Serve(amqp.Target{Topic: "go-topic", Server: "go-host", Version: "1.3"}, goEcho(got))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	peer := rabbittest.StartPeer(t, rabbittest.URL(vh), "neutron")

	a := peer.Do(map[string]any{"op": "call", "topic": "go-topic", "server": "go-host", "method": "echo",
		"version": "1.2", "args": map[string]any{"a": 1, "b": []string{"x"}, "c": nil}})
	if !a.OK || string(a.Result) != `{"a": 1, "b": ["x"], "c": null}` {
		t.Errorf("echo: %+v result %s", a.Error, a.Result)
	}
	in := <-got
	if in.Version != "1.2" || in.RoutingKey != "go-topic.go-host" || in.Exchange != "neutron" || !in.IsCall() {
		t.Errorf("incoming = %+v", in)
	}
	if in.Context["is_admin"] != true || in.Context["request_id"] != "req-fake-neutron" {
		t.Errorf("context = %v", in.Context)
	}

	// a neutron exception from Go: Python's oslo rebuilds a RemoteError (the
	// module is not in its allowed_remote_exmods) carrying class and message
	a = peer.Do(map[string]any{"op": "call", "topic": "go-topic", "method": "conflict", "version": "1.0"})
	if a.OK || a.Error.Class != "RemoteError" || a.Error.ExcType != "Conflict" || a.Error.Value != "port in use" {
		t.Errorf("conflict: ok=%v %+v", a.OK, a.Error)
	}
	// a builtins exception is rebuilt as the real class
	a = peer.Do(map[string]any{"op": "call", "topic": "go-topic", "method": "boom", "version": "1.0"})
	if a.OK || a.Error.Class != "RuntimeError" || !strings.Contains(a.Error.Message, "kaboom") {
		t.Errorf("boom: ok=%v %+v", a.OK, a.Error)
	}
	a = peer.Do(map[string]any{"op": "call", "topic": "go-topic", "method": "frob", "version": "1.0"})
	if a.OK || a.Error.ExcType != "NoSuchMethod" {
		t.Errorf("frob: ok=%v %+v", a.OK, a.Error)
	}
	// version above the server's 1.3
	a = peer.Do(map[string]any{"op": "call", "topic": "go-topic", "method": "echo", "version": "1.4"})
	if a.OK || a.Error.ExcType != "UnsupportedVersion" {
		t.Errorf("version 1.4: ok=%v %+v", a.OK, a.Error)
	}
}

func TestCastTopicDirectFanout(t *testing.T) {
	vh := rabbittest.VHost(t)
	tr := newTransport(t, rabbittest.URL(vh), amqp.Options{ControlExchange: "qdhcp-x"})
	gotA, gotB := make(chan *amqp.Incoming, 8), make(chan *amqp.Incoming, 8)
	a, err := tr.Serve(amqp.Target{Topic: "agents", Server: "a"}, goEcho(gotA))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Stop()
	b, err := tr.Serve(amqp.Target{Topic: "agents", Server: "b"}, goEcho(gotB))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Stop()

	ctx := context.Background()
	cast := func(target amqp.Target, n int) {
		t.Helper()
		target.Topic = "agents"
		if err := tr.Cast(ctx, target, amqp.Request{Method: "echo", Args: map[string]any{"n": n}}); err != nil {
			t.Fatal(err)
		}
	}
	recv := func(ch chan *amqp.Incoming) *amqp.Incoming {
		t.Helper()
		select {
		case in := <-ch:
			return in
		case <-time.After(10 * time.Second):
			t.Fatal("cast not received")
			return nil
		}
	}
	cast(amqp.Target{Server: "b"}, 1)
	if in := recv(gotB); string(in.Args["n"]) != "1" || in.IsCall() {
		t.Errorf("direct cast: %+v", in)
	}
	cast(amqp.Target{Fanout: true}, 2)
	for _, ch := range []chan *amqp.Incoming{gotA, gotB} {
		if in := recv(ch); in.Exchange != "agents_fanout" || string(in.Args["n"]) != "2" {
			t.Errorf("fanout cast: %+v", in)
		}
	}
	cast(amqp.Target{}, 3) // shared topic queue: exactly one of them
	var n int
	select {
	case in := <-gotA:
		n, _ = fmt.Sscan(string(in.Args["n"]), new(int))
	case in := <-gotB:
		n, _ = fmt.Sscan(string(in.Args["n"]), new(int))
	case <-time.After(10 * time.Second):
	}
	if n != 1 {
		t.Error("topic cast not received")
	}
	select {
	case in := <-gotA:
		t.Errorf("topic cast delivered twice: %+v", in)
	case in := <-gotB:
		t.Errorf("topic cast delivered twice: %+v", in)
	case <-time.After(300 * time.Millisecond):
	}
}

// TestQueueDeclarations checks the queues as the broker sees them, and that
// Go and Python declare the same entities identically (the broker refuses a
// redeclaration with other properties).
func TestQueueDeclarations(t *testing.T) {
	vh := rabbittest.VHost(t)
	tr := newTransport(t, rabbittest.URL(vh), amqp.Options{})
	srv, err := tr.Serve(amqp.Target{Topic: "dhcp_agent", Server: "h1"}, goEcho(nil))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Call(context.Background(), amqp.Target{Topic: "nobody"}, amqp.Request{Method: "m"}, 200*time.Millisecond); !errors.Is(err, amqp.ErrTimeout) {
		t.Fatalf("call: %v", err)
	}
	qs := rabbittest.Queues(t, vh)
	want := map[string]string{
		"dhcp_agent":    "false\tfalse\t[]",
		"dhcp_agent.h1": "false\tfalse\t[]",
	}
	for name, props := range want {
		if qs[name] != props {
			t.Errorf("queue %s: %q, want %q", name, qs[name], props)
		}
	}
	var fanout, reply int
	for name, props := range qs {
		switch {
		case strings.HasPrefix(name, "dhcp_agent_fanout_") && len(name) == len("dhcp_agent_fanout_")+32:
			fanout++
			if props != "false\tfalse\t[{\"x-expires\",1800000}]" {
				t.Errorf("fanout queue %s: %q", name, props)
			}
		case strings.HasPrefix(name, "reply_") && len(name) == len("reply_")+32:
			reply++
			if props != "false\tfalse\t[{\"x-expires\",1800000}]" {
				t.Errorf("reply queue %s: %q", name, props)
			}
		}
	}
	if fanout != 1 || reply != 1 {
		t.Errorf("fanout queues %d, reply queues %d, want 1 each: %v", fanout, reply, qs)
	}
	srv.Stop()
	if qs := rabbittest.Queues(t, vh); qs["dhcp_agent"] == "" || len(qs) != 3 {
		t.Errorf("after Stop want the two topic queues and the reply queue: %v", qs)
	}
	_ = tr.Close()
	if qs := rabbittest.Queues(t, vh); len(qs) != 2 {
		t.Errorf("after Close want only the two topic queues: %v", qs)
	}
}

func TestQuorumQueuesInterop(t *testing.T) {
	vh := rabbittest.VHost(t)
	url := rabbittest.URL(vh) + "?rabbit_quorum_queue=true"
	// the Python peer declares q-plugin as a quorum queue and the control
	// exchange as durable
	peer := rabbittest.StartPeer(t, url, "neutron", "v4_single_gateway.json")

	// a Go server on the same topic redeclares the same queue: accepted only
	// with identical arguments
	tr := newTransport(t, url, amqp.Options{})
	srv, err := tr.Serve(amqp.Target{Topic: "q-plugin", Server: "go"}, goEcho(nil))
	if err != nil {
		t.Fatalf("quorum redeclaration refused: %v", err)
	}
	srv.Stop()
	if qs := rabbittest.Queues(t, vh); !strings.Contains(qs["q-plugin"], `{"x-queue-type","quorum"}`) {
		t.Errorf("q-plugin = %q, want a quorum queue", qs["q-plugin"])
	}
	// publishing redeclares the durable exchange: must match too
	_ = peer
	res, err := tr.Call(context.Background(), amqp.Target{Topic: "q-plugin", Server: "fake-neutron-server", Version: "1.8"},
		amqp.Request{Method: "get_dhcp_port", Args: map[string]any{"port_id": "dfb05f78-87d2-51a6-959d-fbcdd510dfb4"}}, 10*time.Second)
	if err != nil || !strings.Contains(string(res), "dfb05f78") {
		t.Errorf("direct call to the quorum server: %s %v", res, err)
	}

	// without the option the same declaration is refused: the check is real
	plain := newTransport(t, rabbittest.URL(vh), amqp.Options{})
	if srv, err := plain.Serve(amqp.Target{Topic: "q-plugin", Server: "go2"}, goEcho(nil)); err == nil {
		srv.Stop()
		t.Error("classic redeclaration of a quorum queue accepted")
	}
}

func TestFailoverToNextHost(t *testing.T) {
	vh := rabbittest.VHost(t)
	// the first host refuses connections
	url := "rabbit://guest:guest@127.0.0.1:1,guest:guest@" + rabbittest.Addr + "/" + vh
	tr := newTransport(t, url, amqp.Options{})
	srv, err := tr.Serve(amqp.Target{Topic: "t", Server: "s"}, goEcho(nil))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	res, err := tr.Call(context.Background(), amqp.Target{Topic: "t", Server: "s"},
		amqp.Request{Method: "echo", Args: map[string]string{"k": "v"}}, 10*time.Second)
	if err != nil || string(res) != `{"k":"v"}` {
		t.Errorf("call after failover: %s %v", res, err)
	}
}

func TestBadCredentials(t *testing.T) {
	vh := rabbittest.VHost(t)
	tr, err := amqp.New("rabbit://guest:wrong@"+rabbittest.Addr+"/"+vh, amqp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	if err := tr.WaitConnected(ctx); !errors.Is(err, amqp.ErrNotConnected) {
		t.Errorf("WaitConnected with a wrong password: %v", err)
	}
	// never blocks forever: a call gives up at its timeout
	_, err = tr.Call(context.Background(), amqp.Target{Topic: "t"}, amqp.Request{Method: "m"}, time.Second)
	if !errors.Is(err, amqp.ErrTimeout) {
		t.Errorf("call without connection: %v", err)
	}
}
