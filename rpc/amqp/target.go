package amqp

import (
	"encoding/json"
	"errors"
	"fmt"
)

// Target says where a message goes (client side) or what a server consumes,
// as oslo_messaging.Target.
type Target struct {
	Exchange  string // "" = the transport's control_exchange
	Topic     string
	Server    string // client: send to "<topic>.<server>"; server: also consume it
	Fanout    bool   // client cast only: "<topic>_fanout" exchange
	Version   string // client: requested API version; server: implemented version ("" = any)
	Namespace string // "" = none (JSON null)
}

func (t Target) validate() error {
	if t.Topic == "" {
		return errors.New("target has no topic")
	}
	return nil
}

// routingKey is the topic, or "<topic>.<server>" for a direct message.
func (t Target) routingKey() string {
	if t.Server != "" {
		return t.Topic + "." + t.Server
	}
	return t.Topic
}

// Request is one RPC invocation: the method, its keyword arguments (any
// value that marshals to a JSON object, e.g. map[string]any) and the request
// context, each key of which is sent as "_context_<key>".
type Request struct {
	Method  string
	Args    any
	Context map[string]any
}

// message builds the oslo message dict of a request for target t.
func (r Request) message(t Target) (map[string]any, error) {
	if r.Method == "" {
		return nil, errors.New("request has no method")
	}
	args := r.Args
	if args == nil {
		args = map[string]any{}
	}
	// the args must be a JSON object (Python kwargs)
	b, err := marshal(args)
	if err != nil {
		return nil, fmt.Errorf("encode args of %s: %w", r.Method, err)
	}
	if string(b) == "null" { // a nil map: no arguments
		b = []byte("{}")
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(b, &obj); err != nil || obj == nil {
		return nil, fmt.Errorf("args of %s must encode to a JSON object", r.Method)
	}
	msg := map[string]any{keyMethod: r.Method, keyArgs: json.RawMessage(b)}
	if t.Namespace != "" {
		msg[keyNamespace] = t.Namespace
	}
	if t.Version != "" {
		msg[keyRPCVer] = t.Version
	}
	packContext(msg, r.Context)
	return msg, nil
}
