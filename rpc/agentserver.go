package rpc

import (
	"context"
	"encoding/json"
	"fmt"

	"qdhcp/model"
	"qdhcp/rpc/amqp"
)

// notificationMethods are the DhcpAgent endpoint's methods neutron-server
// casts (DhcpAgentNotifyAPI), each with the single kwarg "payload".
var notificationMethods = map[string]bool{
	"network_create_end": true,
	"network_update_end": true,
	"network_delete_end": true,
	"subnet_create_end":  true,
	"subnet_update_end":  true,
	"subnet_delete_end":  true,
	"port_create_end":    true,
	"port_update_end":    true,
	"port_delete_end":    true,
	"agent_updated":      true,
}

// AgentServer is the agent's RPC server: Target(topic=dhcp_agent,
// server=host), so it consumes dhcp_agent, dhcp_agent.<host> and a
// dhcp_agent_fanout_<uuid> queue, and hands every notification to a
// model.NotificationFunc. Any other method gets oslo's NoSuchMethod.
type AgentServer struct {
	srv *amqp.Server
}

// AgentServerOptions tunes an AgentServer.
type AgentServerOptions struct {
	Exchange string // control exchange ("" = the transport's)
}

// StartAgentServer starts consuming. fn runs on the server's single
// dispatch goroutine, in arrival order: it must not block (queue the work).
func StartAgentServer(tr *amqp.Transport, host string, fn model.NotificationFunc, opts AgentServerOptions) (*AgentServer, error) {
	if fn == nil {
		return nil, fmt.Errorf("agent server: nil notification func")
	}
	target := amqp.Target{Exchange: opts.Exchange, Topic: TopicAgent, Server: host, Version: AgentVersion}
	srv, err := tr.Serve(target, func(_ context.Context, in *amqp.Incoming) (any, error) {
		if !notificationMethods[in.Method] {
			return nil, fmt.Errorf("%s: %w", in.Method, amqp.ErrNoSuchMethod)
		}
		payload := in.Args["payload"]
		if payload == nil {
			payload = json.RawMessage("null")
		}
		fn(model.Notification{Method: in.Method, Payload: payload})
		return nil, nil
	})
	if err != nil {
		return nil, fmt.Errorf("agent server: %w", err)
	}
	return &AgentServer{srv: srv}, nil
}

// Queues returns the queues consumed: dhcp_agent, dhcp_agent.<host> and the
// fanout queue.
func (a *AgentServer) Queues() []string { return a.srv.Queues() }

// Stop stops consuming and deletes the fanout queue.
func (a *AgentServer) Stop() { a.srv.Stop() }
