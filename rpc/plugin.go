package rpc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"qdhcp/model"
	"qdhcp/rpc/amqp"
)

// PluginOptions tunes a PluginClient.
type PluginOptions struct {
	// Exchange is the control exchange ("" = the transport's).
	Exchange string
	// Timeout is rpc_response_timeout, the first timeout of every method
	// (default: the transport's).
	Timeout time.Duration
	// MaxTimeout is rpc_response_max_timeout (600 s), the ceiling of the
	// per-method timeout doubling.
	MaxTimeout time.Duration
}

// PluginClient is neutron's DhcpPluginApi: the agent's calls to the plugin
// on topic q-plugin, with neutron's method versions and keyword arguments,
// host bound in, the admin context of the agent and neutron-lib's
// per-method timeout back-off. It implements model.PluginAPI.
type PluginClient struct {
	tr       *amqp.Transport
	host     string
	exchange string
	context  map[string]any // created once, as DhcpPluginApi.context
	timeouts *methodTimeouts
}

var _ model.PluginAPI = (*PluginClient)(nil)

// NewPluginClient returns the plugin API of the agent on host.
func NewPluginClient(tr *amqp.Transport, host string, opts PluginOptions) *PluginClient {
	if opts.Timeout <= 0 {
		opts.Timeout = tr.Options().RPCResponseTimeout
	}
	if opts.MaxTimeout <= 0 {
		opts.MaxTimeout = 600 * time.Second
	}
	return &PluginClient{
		tr:       tr,
		host:     host,
		exchange: opts.Exchange,
		context:  AdminContext(),
		timeouts: newMethodTimeouts(opts.Timeout, opts.MaxTimeout),
	}
}

// call invokes method at version with args and decodes the result into out
// (left alone for a None result; reported by the bool).
func (c *PluginClient) call(ctx context.Context, method, version string, args map[string]any, out any) (bool, error) {
	timeout := c.timeouts.get(method)
	res, err := c.tr.Call(ctx, amqp.Target{Exchange: c.exchange, Topic: TopicPlugin, Version: version},
		amqp.Request{Method: method, Args: args, Context: c.context}, timeout)
	if err != nil {
		if errors.Is(err, amqp.ErrTimeout) {
			sleepCtx(ctx, c.timeouts.timedOut(method, timeout))
		}
		return false, remoteNotFound(err)
	}
	if string(res) == "null" || out == nil {
		return string(res) != "null", nil
	}
	if err := json.Unmarshal(res, out); err != nil {
		return false, fmt.Errorf("%s: decode result: %w", method, err)
	}
	return true, nil
}

// remoteNotFound makes a remote "...NotFound" exception also match
// model.ErrNotFound.
func remoteNotFound(err error) error {
	var re *model.RemoteError
	if errors.As(err, &re) && strings.HasSuffix(re.Class, "NotFound") {
		return fmt.Errorf("%w (%w)", re, model.ErrNotFound)
	}
	return err
}

// GetActiveNetworksInfo calls get_active_networks_info (1.1) with host and
// enable_dhcp_filter.
func (c *PluginClient) GetActiveNetworksInfo(ctx context.Context, enableDHCPFilter bool) ([]*model.Network, error) {
	var nets []*model.Network
	_, err := c.call(ctx, "get_active_networks_info", "1.1",
		map[string]any{"host": c.host, "enable_dhcp_filter": enableDHCPFilter}, &nets)
	if err != nil {
		return nil, err
	}
	out := nets[:0]
	for _, n := range nets {
		if n != nil {
			out = append(out, n)
		}
	}
	return out, nil
}

// GetNetworkInfo calls get_network_info (1.0) with network_id and host; nil
// when the server returns None.
func (c *PluginClient) GetNetworkInfo(ctx context.Context, networkID string) (*model.Network, error) {
	var n model.Network
	ok, err := c.call(ctx, "get_network_info", "1.0",
		map[string]any{"network_id": networkID, "host": c.host}, &n)
	if err != nil || !ok {
		return nil, err
	}
	return &n, nil
}

// CreateDHCPPort calls create_dhcp_port (1.1) with port={"port": req} and
// host; nil when the server returns None.
func (c *PluginClient) CreateDHCPPort(ctx context.Context, req model.PortRequest) (*model.Port, error) {
	return c.port(ctx, "create_dhcp_port", "1.1",
		map[string]any{"port": map[string]any{"port": req}, "host": c.host})
}

// UpdateDHCPPort calls update_dhcp_port (1.1) with port_id,
// port={"port": req} and host; nil when the server returns None.
func (c *PluginClient) UpdateDHCPPort(ctx context.Context, portID string, req model.PortRequest) (*model.Port, error) {
	return c.port(ctx, "update_dhcp_port", "1.1",
		map[string]any{"port_id": portID, "port": map[string]any{"port": req}, "host": c.host})
}

// ReleaseDHCPPort calls release_dhcp_port (1.0) with network_id, device_id
// and host.
func (c *PluginClient) ReleaseDHCPPort(ctx context.Context, networkID, deviceID string) error {
	_, err := c.call(ctx, "release_dhcp_port", "1.0",
		map[string]any{"network_id": networkID, "device_id": deviceID, "host": c.host}, nil)
	return err
}

// GetDHCPPort calls get_dhcp_port (1.8) with port_id. A missing port is
// neutron's PortNotFound: a *model.RemoteError that also matches
// model.ErrNotFound.
func (c *PluginClient) GetDHCPPort(ctx context.Context, portID string) (*model.Port, error) {
	return c.port(ctx, "get_dhcp_port", "1.8", map[string]any{"port_id": portID})
}

// DHCPReadyOnPorts calls dhcp_ready_on_ports (1.5) with port_ids.
func (c *PluginClient) DHCPReadyOnPorts(ctx context.Context, portIDs []string) error {
	if portIDs == nil {
		portIDs = []string{}
	}
	_, err := c.call(ctx, "dhcp_ready_on_ports", "1.5", map[string]any{"port_ids": portIDs}, nil)
	return err
}

func (c *PluginClient) port(ctx context.Context, method, version string, args map[string]any) (*model.Port, error) {
	var p model.Port
	ok, err := c.call(ctx, method, version, args, &p)
	if err != nil || !ok {
		return nil, err
	}
	return &p, nil
}
