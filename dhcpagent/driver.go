package dhcpagent

import (
	"context"

	"qdhcp/model"
)

// Driver is what the agent asks of the DHCP backend (dnsmasq) for one
// network. Calls for one network are never concurrent: the agent serialises
// them. Enable and Restart set the network's DHCP port up and may change
// net.Ports (the agent's own port is added or replaced in place).
type Driver interface {
	// Enable makes the network served: DHCP port and device set up, files
	// written, dnsmasq running. Unlike neutron, a dnsmasq already running
	// with the same argv is reloaded (SIGHUP), not killed.
	Enable(ctx context.Context, net *model.Network) error
	// Restart stops dnsmasq (keeping the port) and enables again; used when
	// the set of DHCP CIDRs changed.
	Restart(ctx context.Context, net *model.Network) error
	// ReloadAllocations rewrites host/addn_hosts/opts, releases stale
	// leases and HUPs dnsmasq.
	ReloadAllocations(ctx context.Context, net *model.Network) error
	// Disable stops dnsmasq; unless retainPort it also destroys the device
	// and namespace, releases the DHCP port and removes the state dir.
	Disable(ctx context.Context, networkID string, retainPort bool) error
}
