package model

import "encoding/json"

// Notification is one server -> agent cast on the dhcp_agent topic, e.g.
// port_update_end. Every source of networks (the RPC server on RabbitMQ, the
// embedded file source) hands the agent the same form, so the agent has one
// set of handlers.
type Notification struct {
	// Method is neutron's method name: network_create_end,
	// network_update_end, network_delete_end, subnet_create_end,
	// subnet_update_end, subnet_delete_end, port_create_end,
	// port_update_end, port_delete_end or agent_updated.
	Method string
	// Payload is the single `payload` kwarg as sent, e.g.
	// {"port": {...}, "priority": 6} or {"network_id": "...", "port_id": "..."}.
	Payload json.RawMessage
}

// NotificationFunc receives notifications from a source.
type NotificationFunc func(Notification)
