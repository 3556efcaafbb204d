package main

import (
	"context"

	"qdhcp/metrics"
	"qdhcp/model"
)

// countingPlugin counts failed calls to the server by method.
type countingPlugin struct {
	model.PluginAPI
	m *metrics.Metrics
}

func (c countingPlugin) count(method string, err error) {
	if err != nil {
		c.m.RPCErrors.WithLabelValues(method).Inc()
	}
}

func (c countingPlugin) GetActiveNetworksInfo(ctx context.Context, f bool) ([]*model.Network, error) {
	n, err := c.PluginAPI.GetActiveNetworksInfo(ctx, f)
	c.count("get_active_networks_info", err)
	return n, err
}

func (c countingPlugin) GetNetworkInfo(ctx context.Context, id string) (*model.Network, error) {
	n, err := c.PluginAPI.GetNetworkInfo(ctx, id)
	c.count("get_network_info", err)
	return n, err
}

func (c countingPlugin) CreateDHCPPort(ctx context.Context, req model.PortRequest) (*model.Port, error) {
	p, err := c.PluginAPI.CreateDHCPPort(ctx, req)
	c.count("create_dhcp_port", err)
	return p, err
}

func (c countingPlugin) UpdateDHCPPort(ctx context.Context, id string, req model.PortRequest) (*model.Port, error) {
	p, err := c.PluginAPI.UpdateDHCPPort(ctx, id, req)
	c.count("update_dhcp_port", err)
	return p, err
}

func (c countingPlugin) ReleaseDHCPPort(ctx context.Context, netID, deviceID string) error {
	err := c.PluginAPI.ReleaseDHCPPort(ctx, netID, deviceID)
	c.count("release_dhcp_port", err)
	return err
}

func (c countingPlugin) GetDHCPPort(ctx context.Context, id string) (*model.Port, error) {
	p, err := c.PluginAPI.GetDHCPPort(ctx, id)
	c.count("get_dhcp_port", err)
	return p, err
}

func (c countingPlugin) DHCPReadyOnPorts(ctx context.Context, ids []string) error {
	err := c.PluginAPI.DHCPReadyOnPorts(ctx, ids)
	c.count("dhcp_ready_on_ports", err)
	return err
}
