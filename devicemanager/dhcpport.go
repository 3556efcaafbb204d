package devicemanager

import (
	"context"
	"fmt"

	"qdhcp/dhcpagent/config"
	"qdhcp/model"
)

// SetupDHCPPort makes sure this agent owns a DHCP port on net with an IP on
// every DHCP-enabled local subnet, asking the server as neutron's
// DeviceManager.setup_dhcp_port does. It tries, in order:
//
//  1. existing: the first port whose device_id is ours. When its subnet set
//     differs from the DHCP subnet set, update_dhcp_port with the kept
//     {subnet_id, ip_address} on still-DHCP subnets plus {subnet_id} for each
//     missing one (in net.Subnets order); a nil reply is a ConflictError.
//  2. reserved: each port with device_id "reserved_dhcp_port" is adopted via
//     update_dhcp_port({network_id, device_id: ours}) until one succeeds.
//  3. new: create_dhcp_port with one {subnet_id} per DHCP subnet.
//
// If the port then lacks a DHCP subnet, the port is fetched again with
// get_dhcp_port; if it still lacks one the result is a *SubnetMismatchError
// (the agent schedules a resync). The returned port is a copy whose fixed IPs
// are reduced to the DHCP subnets; it replaces the port with the same id in
// net.Ports, or is appended.
func SetupDHCPPort(ctx context.Context, plugin model.PluginAPI, conf *config.Config, net *model.Network) (*model.Port, error) {
	deviceID := model.DHCPDeviceID(conf.Host, net.ID)
	dhcp := dhcpSubnetIDs(net)

	port, err := setupExistingPort(ctx, plugin, net, deviceID, dhcp)
	if err == nil && port == nil {
		port, err = adoptReservedPort(ctx, plugin, net, deviceID)
	}
	if err == nil && port == nil {
		port, err = createPort(ctx, plugin, net, deviceID)
	}
	if err != nil {
		return nil, err
	}
	if port == nil {
		return nil, &ConflictError{NetworkID: net.ID, Reason: "no DHCP port could be created or adopted"}
	}

	if missing := missingSubnets(port, net); len(missing) > 0 {
		fresh, err := plugin.GetDHCPPort(ctx, port.ID)
		if err != nil {
			return nil, fmt.Errorf("get_dhcp_port %s: %w", port.ID, err)
		}
		if fresh == nil {
			return nil, &SubnetMismatchError{PortID: port.ID, SubnetID: missing[0]}
		}
		if missing := missingSubnets(fresh, net); len(missing) > 0 {
			return nil, &SubnetMismatchError{PortID: fresh.ID, SubnetID: missing[0]}
		}
		port = fresh
	}

	port = port.Clone()
	kept := port.FixedIPs[:0]
	for _, f := range port.FixedIPs {
		if dhcp[f.SubnetID] {
			kept = append(kept, f)
		}
	}
	port.FixedIPs = kept
	replacePort(net, port)
	return port, nil
}

// dhcpSubnetIDs is the set of local subnets with enable_dhcp (non-local
// subnets never get an IP on this agent's port).
func dhcpSubnetIDs(net *model.Network) map[string]bool {
	m := map[string]bool{}
	for _, s := range net.DHCPSubnets() {
		m[s.ID] = true
	}
	return m
}

// missingSubnets lists the DHCP subnets (in net.Subnets order) on which port
// has no fixed IP.
func missingSubnets(port *model.Port, net *model.Network) []string {
	have := port.SubnetIDs()
	var out []string
	for _, s := range net.DHCPSubnets() {
		if !have[s.ID] {
			out = append(out, s.ID)
		}
	}
	return out
}

func setupExistingPort(ctx context.Context, plugin model.PluginAPI, net *model.Network, deviceID string, dhcp map[string]bool) (*model.Port, error) {
	var port *model.Port
	for _, p := range net.Ports {
		if p.DeviceID == deviceID {
			port = p
			break
		}
	}
	if port == nil {
		return nil, nil
	}
	have := port.SubnetIDs()
	if sameSet(have, dhcp) {
		return port, nil
	}
	var want []model.FixedIP
	for _, f := range port.FixedIPs {
		if dhcp[f.SubnetID] {
			want = append(want, model.FixedIP{SubnetID: f.SubnetID, IPAddress: f.IPAddress})
		}
	}
	for _, id := range missingSubnets(port, net) {
		want = append(want, model.FixedIP{SubnetID: id})
	}
	updated, err := plugin.UpdateDHCPPort(ctx, port.ID, model.PortRequest{NetworkID: net.ID, FixedIPs: want})
	if err != nil {
		return nil, fmt.Errorf("update_dhcp_port %s (fixed IPs): %w", port.ID, err)
	}
	if updated == nil {
		return nil, &ConflictError{NetworkID: net.ID, PortID: port.ID, Reason: "server refused to update the DHCP port's fixed IPs"}
	}
	return updated, nil
}

func adoptReservedPort(ctx context.Context, plugin model.PluginAPI, net *model.Network, deviceID string) (*model.Port, error) {
	for _, p := range net.Ports {
		if p.DeviceID != model.ReservedDHCPPortDeviceID {
			continue
		}
		updated, err := plugin.UpdateDHCPPort(ctx, p.ID, model.PortRequest{NetworkID: net.ID, DeviceID: deviceID})
		if err != nil {
			return nil, fmt.Errorf("update_dhcp_port %s (adopt reserved): %w", p.ID, err)
		}
		if updated != nil {
			return updated, nil
		}
	}
	return nil, nil
}

func createPort(ctx context.Context, plugin model.PluginAPI, net *model.Network, deviceID string) (*model.Port, error) {
	name, up := "", true
	req := model.PortRequest{
		Name:         &name,
		AdminStateUp: &up,
		DeviceID:     deviceID,
		NetworkID:    net.ID,
		ProjectID:    net.Project(),
	}
	for _, s := range net.DHCPSubnets() {
		req.FixedIPs = append(req.FixedIPs, model.FixedIP{SubnetID: s.ID})
	}
	port, err := plugin.CreateDHCPPort(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("create_dhcp_port on %s: %w", net.ID, err)
	}
	return port, nil
}

// replacePort puts port in place of the port with the same id in net.Ports,
// or appends it.
func replacePort(net *model.Network, port *model.Port) {
	for i, p := range net.Ports {
		if p.ID == port.ID {
			net.Ports[i] = port
			return
		}
	}
	net.Ports = append(net.Ports, port)
}

func sameSet(a, b map[string]bool) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if !b[k] {
			return false
		}
	}
	return true
}
