package model

import (
	"context"
	"errors"
	"fmt"
)

// PluginAPI is the server side the agent talks to: neutron's DhcpPluginApi on
// topic q-plugin (RPC), or the embedded file source. The agent's host is bound
// into the implementation (every neutron call passes host=conf.host).
//
// Method, version and argument names follow neutron:
//
//	get_active_networks_info 1.1 (host, enable_dhcp_filter)
//	get_network_info         1.0 (network_id, host)
//	create_dhcp_port         1.1 (port, host)
//	update_dhcp_port         1.1 (port_id, port, host)
//	release_dhcp_port        1.0 (network_id, device_id, host)
//	get_dhcp_port            1.8 (port_id)
//	dhcp_ready_on_ports      1.5 (port_ids)
type PluginAPI interface {
	GetActiveNetworksInfo(ctx context.Context, enableDHCPFilter bool) ([]*Network, error)
	// GetNetworkInfo returns nil, nil when the server knows no such network.
	GetNetworkInfo(ctx context.Context, networkID string) (*Network, error)
	// CreateDHCPPort may return nil, nil (the server could not create it).
	CreateDHCPPort(ctx context.Context, req PortRequest) (*Port, error)
	// UpdateDHCPPort may return nil, nil (the server refused).
	UpdateDHCPPort(ctx context.Context, portID string, req PortRequest) (*Port, error)
	ReleaseDHCPPort(ctx context.Context, networkID, deviceID string) error
	GetDHCPPort(ctx context.Context, portID string) (*Port, error)
	DHCPReadyOnPorts(ctx context.Context, portIDs []string) error
}

// PortRequest is the body of create_dhcp_port / update_dhcp_port, sent as
// {"port": <PortRequest>}. Only the keys neutron's agent sends are set:
// create sends name, admin_state_up, device_id, network_id, project_id,
// fixed_ips; an update sends network_id plus fixed_ips or device_id.
type PortRequest struct {
	Name         *string   `json:"name,omitempty"`
	AdminStateUp *bool     `json:"admin_state_up,omitempty"`
	DeviceID     string    `json:"device_id,omitempty"`
	NetworkID    string    `json:"network_id"`
	ProjectID    string    `json:"project_id,omitempty"`
	FixedIPs     []FixedIP `json:"fixed_ips,omitempty"`
}

// ErrNotFound is returned (wrapped) when the server has no such object.
var ErrNotFound = errors.New("not found")

// RemoteError is a failure reported by the server (an oslo.messaging
// "failure" reply, or the file source refusing a request).
type RemoteError struct {
	Class   string // exception class, e.g. "neutron_lib.exceptions.Conflict"
	Message string
}

func (e *RemoteError) Error() string { return fmt.Sprintf("remote %s: %s", e.Class, e.Message) }
