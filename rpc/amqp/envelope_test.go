package amqp

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"qdhcp/model"
)

func TestEnvelopeRoundTrip(t *testing.T) {
	req := Request{
		Method:  "get_network_info",
		Args:    map[string]any{"network_id": "n1", "host": "h<&>"},
		Context: map[string]any{"is_admin": true, "user_id": nil},
	}
	msg, err := req.message(Target{Topic: "q-plugin", Version: "1.0"})
	if err != nil {
		t.Fatal(err)
	}
	body, err := encodeEnvelope(msg)
	if err != nil {
		t.Fatal(err)
	}
	// the outer object holds exactly the two envelope keys, the message as a string
	var outer map[string]any
	if err := json.Unmarshal(body, &outer); err != nil {
		t.Fatal(err)
	}
	if len(outer) != 2 || outer["oslo.version"] != "2.0" {
		t.Fatalf("envelope = %v", outer)
	}
	if _, ok := outer["oslo.message"].(string); !ok {
		t.Fatalf("oslo.message is %T, want a JSON string", outer["oslo.message"])
	}
	in, _, err := decodeIncoming(body)
	if err != nil {
		t.Fatal(err)
	}
	if in.Method != "get_network_info" || in.Version != "1.0" || in.Namespace != "" {
		t.Errorf("decoded %+v", in)
	}
	if string(in.Args["host"]) != `"h<&>"` {
		t.Errorf("args host = %s (HTML-escaped?)", in.Args["host"])
	}
	if in.Context["is_admin"] != true || len(in.Context) != 2 {
		t.Errorf("context = %v", in.Context)
	}
	if _, ok := msg["namespace"]; ok {
		t.Error("namespace sent although the target has none (oslo omits it)")
	}
}

func TestDecodeBareMessage(t *testing.T) {
	// envelope 1.0: the dict itself
	in, _, err := decodeIncoming([]byte(`{"method": "m", "args": {"a": 1}, "_context_x": "y"}`))
	if err != nil {
		t.Fatal(err)
	}
	if in.Method != "m" || string(in.Args["a"]) != "1" || in.Context["x"] != "y" || in.Version != "1.0" {
		t.Errorf("decoded %+v", in)
	}
	if _, err := decodeBody([]byte(`{"oslo.version": "3.0", "oslo.message": "{}"}`)); err == nil {
		t.Error("envelope 3.0 accepted")
	}
}

func TestArgsMustBeObject(t *testing.T) {
	if _, err := (Request{Method: "m", Args: []int{1}}).message(Target{Topic: "t"}); err == nil {
		t.Error("list args accepted")
	}
	if _, err := (Request{}).message(Target{Topic: "t"}); err == nil {
		t.Error("request without method accepted")
	}
}

func TestVersionCompatible(t *testing.T) {
	cases := []struct {
		imp, req string
		want     bool
	}{
		{"1.10", "1.8", true},
		{"1.10", "1.10", true},
		{"1.10", "1.11", false},
		{"1.2", "1.10", false}, // numeric, not lexical
		{"1.0", "2.0", false},
		{"2.0", "1.0", false},
		{"1.1", "1.1.1", false},
		{"1.1.2", "1.1.1", true},
		{"", "7.3", true},
		{"1.0", "", false},
		{"1.0", "x.y", false},
	}
	for _, c := range cases {
		if got := versionCompatible(c.imp, c.req); got != c.want {
			t.Errorf("versionCompatible(%q, %q) = %v, want %v", c.imp, c.req, got, c.want)
		}
	}
}

func TestFailureRoundTrip(t *testing.T) {
	cases := []struct {
		err       error
		wantClass string
		wantMsg   string
	}{
		{&model.RemoteError{Class: "neutron_lib.exceptions.Conflict", Message: "busy"}, "neutron_lib.exceptions.Conflict", "busy"},
		{fmt.Errorf("wrapped: %w", &model.RemoteError{Class: "X", Message: "m"}), "builtins.X", "m"},
		{errors.New("boom"), "builtins.RuntimeError", "boom"},
		{fmt.Errorf("m: %w", ErrNoSuchMethod), "oslo_messaging.rpc.dispatcher.NoSuchMethod", "Endpoint does not support RPC method frob"},
	}
	for _, c := range cases {
		f, err := encodeFailure(c.err, "frob")
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := json.Marshal(f) // the failure travels as a JSON string
		re := decodeFailure(raw)
		if re.Class != c.wantClass || re.Message != c.wantMsg {
			t.Errorf("%v: got %q %q, want %q %q", c.err, re.Class, re.Message, c.wantClass, c.wantMsg)
		}
		var fields map[string]any
		_ = json.Unmarshal([]byte(f), &fields)
		for _, k := range []string{"class", "module", "message", "tb", "args", "kwargs"} {
			if _, ok := fields[k]; !ok {
				t.Errorf("failure lacks %q: %s", k, f)
			}
		}
	}
}

func TestDecodePythonFailure(t *testing.T) {
	// as oslo's serialize_remote_exception writes it
	py := `{"class": "PortNotFound", "module": "neutron_lib.exceptions", "message": "Port p1 could not be found.", "tb": ["Traceback ...\n"], "args": [], "kwargs": {"port_id": "p1"}}`
	raw, _ := json.Marshal(py)
	re := decodeFailure(raw)
	if re.Class != "neutron_lib.exceptions.PortNotFound" || re.Message != "Port p1 could not be found." {
		t.Errorf("got %+v", re)
	}
}
