package amqp_test

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"qdhcp/internal/rabbittest"
	"qdhcp/rpc/amqp"
)

// reconnectSignal returns a channel that receives once per reconnection.
func reconnectSignal(tr *amqp.Transport) chan struct{} {
	ch := make(chan struct{}, 8)
	tr.OnReconnect(func() { ch <- struct{}{} })
	return ch
}

func waitSignal(t *testing.T, ch chan struct{}, what string, d time.Duration) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(d):
		t.Fatalf("%s: no reconnection within %s", what, d)
	}
}

// callUntil retries a call until it succeeds (the agent retries RPC
// timeouts the same way) or the deadline passes.
func callUntil(t *testing.T, tr *amqp.Transport, target amqp.Target, req amqp.Request, d time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		res, err := tr.Call(context.Background(), target, req, 3*time.Second)
		if err == nil {
			return string(res)
		}
		if time.Now().After(deadline) {
			t.Fatalf("call %s never succeeded: %v", req.Method, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func TestReconnectAfterConnectionLoss(t *testing.T) {
	vh := rabbittest.VHost(t)
	server := newTransport(t, rabbittest.URL(vh), amqp.Options{})
	client := newTransport(t, rabbittest.URL(vh), amqp.Options{})
	serverUp, clientUp := reconnectSignal(server), reconnectSignal(client)
	got := make(chan *amqp.Incoming, 8)
	srv, err := server.Serve(amqp.Target{Topic: "agent", Server: "h1"}, goEcho(got))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	echo := amqp.Request{Method: "echo", Args: map[string]int{"n": 1}}
	if res := callUntil(t, client, amqp.Target{Topic: "agent", Server: "h1"}, echo, 10*time.Second); res != `{"n":1}` {
		t.Fatalf("echo = %s", res)
	}
	<-got

	// a call in flight when the connection drops fails at once, not at its timeout
	inflight := make(chan error, 1)
	go func() {
		_, err := client.Call(context.Background(), amqp.Target{Topic: "nobody"}, amqp.Request{Method: "m"}, time.Minute)
		inflight <- err
	}()
	time.Sleep(300 * time.Millisecond)
	start := time.Now()
	rabbittest.CloseConnections(t, vh)
	select {
	case err := <-inflight:
		if !errors.Is(err, amqp.ErrConnectionLost) || !amqp.IsTransient(err) {
			t.Errorf("in-flight call: %v, want ErrConnectionLost", err)
		}
		if el := time.Since(start); el > 15*time.Second {
			t.Errorf("in-flight call failed after %s", el)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("in-flight call still blocked 30s after the connection loss")
	}
	waitSignal(t, serverUp, "server", 30*time.Second)
	waitSignal(t, clientUp, "client", 30*time.Second)
	if !server.Connected() || !client.Connected() {
		t.Error("not connected after OnReconnect")
	}

	// consumers resumed: direct call, and a fanout cast on the same fanout queue
	if res := callUntil(t, client, amqp.Target{Topic: "agent", Server: "h1"}, echo, 10*time.Second); res != `{"n":1}` {
		t.Errorf("echo after reconnect = %s", res)
	}
	<-got
	if err := client.Cast(context.Background(), amqp.Target{Topic: "agent", Fanout: true}, amqp.Request{Method: "echo"}); err != nil {
		t.Fatal(err)
	}
	select {
	case in := <-got:
		if in.Exchange != "agent_fanout" {
			t.Errorf("fanout after reconnect arrived via %q", in.Exchange)
		}
	case <-time.After(10 * time.Second):
		t.Error("fanout cast lost after reconnect")
	}
}

func TestConsumerRedeclaredAfterQueueDeletion(t *testing.T) {
	vh := rabbittest.VHost(t)
	tr := newTransport(t, rabbittest.URL(vh), amqp.Options{})
	got := make(chan *amqp.Incoming, 8)
	srv, err := tr.Serve(amqp.Target{Topic: "agent", Server: "h2"}, goEcho(got))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	// the broker cancels the consumer of a deleted queue; the server re-declares it
	rabbittest.Ctl(t, "delete_queue", "-p", vh, "agent.h2")
	res := callUntil(t, tr, amqp.Target{Topic: "agent", Server: "h2"},
		amqp.Request{Method: "echo", Args: map[string]int{"k": 2}}, 20*time.Second)
	if res != `{"k":2}` {
		t.Errorf("echo = %s", res)
	}
}

// TestBrokerRestart stops and starts the RabbitMQ application: both the Go
// transport and the Python oslo.messaging peer reconnect and re-declare
// their (transient, hence lost) queues. It disturbs every user of the
// broker, so it only runs with QDHCP_RABBIT_RESTART_TEST=1.
func TestBrokerRestart(t *testing.T) {
	if os.Getenv("QDHCP_RABBIT_RESTART_TEST") != "1" {
		t.Skip("set QDHCP_RABBIT_RESTART_TEST=1 to restart the shared RabbitMQ")
	}
	vh := rabbittest.VHost(t)
	peer := rabbittest.StartPeer(t, rabbittest.URL(vh), "neutron", "v4_single_gateway.json")
	tr := newTransport(t, rabbittest.URL(vh), amqp.Options{})
	up := reconnectSignal(tr)
	got := make(chan *amqp.Incoming, 8)
	srv, err := tr.Serve(amqp.Target{Topic: "dhcp_agent", Server: "h1"}, goEcho(got))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	getNet := amqp.Request{Method: "get_network_info", Args: map[string]string{"network_id": netV4, "host": "h1"}}
	callUntil(t, tr, amqp.Target{Topic: "q-plugin"}, getNet, 10*time.Second)

	restarted := false
	defer func() {
		if !restarted {
			rabbittest.Ctl(t, "start_app")
		}
	}()
	rabbittest.Ctl(t, "stop_app")
	// while the broker is away calls fail at their timeout, never hang
	start := time.Now()
	if _, err := tr.Call(context.Background(), amqp.Target{Topic: "q-plugin"}, getNet, 2*time.Second); err == nil || !amqp.IsTransient(err) {
		t.Errorf("call during the outage: %v", err)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("call during the outage took %s", el)
	}
	rabbittest.Ctl(t, "start_app")
	restarted = true
	waitSignal(t, up, "after broker restart", 90*time.Second)

	// Python re-declared q-plugin, Go re-declared dhcp_agent.*: both directions work
	callUntil(t, tr, amqp.Target{Topic: "q-plugin"}, getNet, 60*time.Second)
	deadline := time.Now().Add(30 * time.Second)
	for {
		a := peer.Do(map[string]any{"op": "cast", "method": "echo", "payload": map[string]int{"x": 1}, "host": "h1"})
		if !a.OK {
			t.Fatalf("python cast: %+v", a.Error)
		}
		select {
		case in := <-got:
			if in.RoutingKey != "dhcp_agent.h1" {
				t.Errorf("cast arrived via %q", in.RoutingKey)
			}
			return
		case <-time.After(2 * time.Second):
		}
		if time.Now().After(deadline) {
			t.Fatal("python cast never reached the Go server after the restart")
		}
	}
}
