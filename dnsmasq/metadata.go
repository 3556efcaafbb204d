package dnsmasq

import (
	"fmt"
	"net/netip"
	"os"
	"strconv"

	"qdhcp/dhcpagent/config"
	"qdhcp/metadataproxy"
	"qdhcp/model"
)

// IsolatedSubnets maps every subnet id (subnets + non_local_subnets) to
// whether it is isolated: no port owned by a router interface
// (model.RouterInterfaceOwners) holds the subnet's gateway IP.
func IsolatedSubnets(n *model.Network) map[string]bool {
	all := n.AllSubnets()
	out := make(map[string]bool, len(all))
	byID := make(map[string]*model.Subnet, len(all))
	for _, s := range all {
		out[s.ID] = true
		byID[s.ID] = s
	}
	for _, p := range n.Ports {
		if !model.IsRouterInterfaceOwner(p.DeviceOwner) {
			continue
		}
		for _, f := range p.FixedIPs {
			if s, ok := byID[f.SubnetID]; ok && s.GatewayIP != "" && s.GatewayIP == f.IPAddress {
				out[f.SubnetID] = false
			}
		}
	}
	return out
}

// HasMetadataSubnet reports a subnet inside 169.254.0.0/16 (which makes
// the network a "metadata network" under enable_metadata_network).
func HasMetadataSubnet(subnets []*model.Subnet) bool {
	meta := netip.MustParsePrefix(model.MetadataNetworkCIDR)
	for _, s := range subnets {
		p := s.Prefix()
		if p.IsValid() && p.Addr().Is4() && p.Bits() >= meta.Bits() && meta.Contains(p.Addr()) {
			return true
		}
	}
	return false
}

// ShouldEnableMetadata is neutron's should_enable_metadata: the network has
// a DHCP-enabled subnet and either force_metadata is set, or
// enable_isolated_metadata is set and the network is a metadata network
// (enable_metadata_network) or one of its DHCP subnets is isolated.
func ShouldEnableMetadata(n *model.Network, c *config.Config) bool {
	var dhcp []*model.Subnet
	for _, s := range n.AllSubnets() {
		if s.EnableDHCP {
			dhcp = append(dhcp, s)
		}
	}
	switch {
	case len(dhcp) == 0:
		return false
	case c.ForceMetadata:
		return true
	case !c.EnableIsolatedMetadata:
		return false
	case c.EnableMetadataNetwork && HasMetadataSubnet(n.AllSubnets()):
		return true
	}
	isolated := IsolatedSubnets(n)
	for _, s := range dhcp {
		if isolated[s.ID] {
			return true
		}
	}
	return false
}

// MetadataProxy returns the haproxy neutron runs in the network's
// namespace for isolated or forced metadata, or nil when none should run.
// The proxy is keyed by the network, or, on a metadata network with
// enable_metadata_network, by the router of its first router port. It binds
// 169.254.169.254:80 and, with IPv6 and exactly one admin-up DHCP port of
// this agent, fe80::a9fe:a9fe:80 on that port's device. User and group are
// metadata_proxy_user/group (the effective uid/gid when empty), resolved to
// names.
func MetadataProxy(n *model.Network, c *config.Config, env Env) (*metadataproxy.Config, error) {
	if !ShouldEnableMetadata(n, c) {
		return nil, nil
	}
	p := &metadataproxy.Config{
		NetworkID:    n.ID,
		BindAddress:  model.MetadataIPv4,
		Port:         metadataproxy.Port,
		SocketPath:   c.MetadataProxySocket,
		StatePath:    c.StatePath,
		ExternalPids: c.ExternalPids,
		Debug:        c.Debug,
	}
	if c.EnableMetadataNetwork {
		for _, port := range n.Ports {
			if !model.IsRouterInterfaceOwner(port.DeviceOwner) {
				continue
			}
			if HasMetadataSubnet(n.AllSubnets()) {
				if !model.IsUUID(port.DeviceID) {
					return nil, fmt.Errorf("metadata proxy for network %s: router port %s: device_id %q is not a UUID", n.ID, port.ID, port.DeviceID)
				}
				p.NetworkID, p.RouterID = "", port.DeviceID
			}
			break // only the first router port counts
		}
	}
	if env.IPv6Enabled {
		var own []*model.Port
		for _, port := range n.Ports {
			netID := port.NetworkID
			if netID == "" {
				netID = n.ID
			}
			if port.DeviceOwner == model.OwnerDHCP && port.IsAdminUp() && port.DeviceID == model.DHCPDeviceID(c.Host, netID) {
				own = append(own, port)
			}
		}
		if len(own) == 1 {
			p.BindAddressV6 = model.MetadataLinkLocalV6
			p.BindInterface = model.DeviceName(c.DeviceNamePrefix(), own[0].ID)
		}
	}
	user, group := c.MetadataProxyUser, c.MetadataProxyGroup
	if user == "" {
		user = strconv.Itoa(os.Geteuid())
	}
	if group == "" {
		group = strconv.Itoa(os.Getegid())
	}
	var err error
	if p.User, err = metadataproxy.ResolveUser(user); err != nil {
		return nil, err
	}
	if p.Group, err = metadataproxy.ResolveGroup(group); err != nil {
		return nil, err
	}
	return p, nil
}
