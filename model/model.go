// Package model holds the data that flows between neutron-server and the DHCP
// agent: networks, subnets and ports exactly as the DHCP RPC
// (get_network_info / get_active_networks_info) returns them. Unknown JSON
// fields are ignored; values are kept as the server sent them (a MAC is never
// re-cased, an IP never re-formatted) because the dnsmasq files must be
// byte-identical to what neutron writes.
//
// The package is a leaf: it imports nothing of qdhcp.
package model

import (
	"net/netip"
	"strings"

	"github.com/google/uuid"
)

// Device owners neutron uses that matter to the DHCP agent.
const (
	OwnerDHCP                   = "network:dhcp"
	OwnerRouterInterface        = "network:router_interface"
	OwnerRouterHAInterface      = "network:router_ha_interface"
	OwnerHARouterReplicated     = "network:ha_router_replicated_interface"
	OwnerRouterInterfaceDistrib = "network:router_interface_distributed"
	OwnerFloatingIP             = "network:floatingip"
	OwnerDistributed            = "network:distributed"
	OwnerRouterGateway          = "network:router_gateway"
	ReservedDHCPPortDeviceID    = "reserved_dhcp_port"
	IPv6ModeSLAAC               = "slaac"
	IPv6ModeDHCPv6Stateful      = "dhcpv6-stateful"
	IPv6ModeDHCPv6Stateless     = "dhcpv6-stateless"
	MetadataV4CIDR              = "169.254.169.254/32"
	MetadataV6CIDR              = "fe80::a9fe:a9fe/64"
	MetadataIPv4                = "169.254.169.254"
	MetadataLinkLocalV6         = "fe80::a9fe:a9fe"
	MetadataNetworkCIDR         = "169.254.0.0/16"
	ClientIDOptName             = "client-id"
	ClientIDOptNumber           = "61"
)

// RouterInterfaceOwners are the device owners whose port, holding a subnet's
// gateway IP, makes that subnet non-isolated.
var RouterInterfaceOwners = []string{
	OwnerRouterInterface,
	OwnerHARouterReplicated,
	OwnerRouterInterfaceDistrib,
}

// IsRouterInterfaceOwner reports whether owner is one of RouterInterfaceOwners.
func IsRouterInterfaceOwner(owner string) bool {
	for _, o := range RouterInterfaceOwners {
		if o == owner {
			return true
		}
	}
	return false
}

// Network is a network as the DHCP RPC returns it.
type Network struct {
	ID              string     `json:"id"`
	Name            string     `json:"name,omitempty"`
	ProjectID       string     `json:"project_id,omitempty"`
	TenantID        string     `json:"tenant_id,omitempty"`
	AdminStateUp    *bool      `json:"admin_state_up,omitempty"`
	MTU             int        `json:"mtu,omitempty"`
	Subnets         []*Subnet  `json:"subnets"`
	NonLocalSubnets []*Subnet  `json:"non_local_subnets"`
	Ports           []*Port    `json:"ports"`
	Segments        []*Segment `json:"segments,omitempty"`
	RevisionNumber  int64      `json:"revision_number,omitempty"`
}

// IsAdminUp reports the network's admin state; absent means up.
func (n *Network) IsAdminUp() bool { return n.AdminStateUp == nil || *n.AdminStateUp }

// Project returns project_id, falling back to tenant_id.
func (n *Network) Project() string {
	if n.ProjectID != "" {
		return n.ProjectID
	}
	return n.TenantID
}

// Subnet returns the subnet (local or non-local) with the given id, or nil.
func (n *Network) Subnet(id string) *Subnet {
	for _, s := range n.Subnets {
		if s.ID == id {
			return s
		}
	}
	for _, s := range n.NonLocalSubnets {
		if s.ID == id {
			return s
		}
	}
	return nil
}

// AllSubnets returns subnets followed by non_local_subnets (neutron's order
// for dhcp-range and opts).
func (n *Network) AllSubnets() []*Subnet {
	out := make([]*Subnet, 0, len(n.Subnets)+len(n.NonLocalSubnets))
	out = append(out, n.Subnets...)
	return append(out, n.NonLocalSubnets...)
}

// DHCPSubnets returns the local subnets with enable_dhcp, in order.
func (n *Network) DHCPSubnets() []*Subnet {
	var out []*Subnet
	for _, s := range n.Subnets {
		if s.EnableDHCP {
			out = append(out, s)
		}
	}
	return out
}

// HasDHCPSubnet reports whether any local subnet has DHCP enabled.
func (n *Network) HasDHCPSubnet() bool {
	for _, s := range n.Subnets {
		if s.EnableDHCP {
			return true
		}
	}
	return false
}

// DHCPCIDRs is the list of enable_dhcp CIDRs of subnets + non_local_subnets in
// order; a change of this list means dnsmasq must be restarted.
func (n *Network) DHCPCIDRs() []string {
	var out []string
	for _, s := range n.AllSubnets() {
		if s.EnableDHCP {
			out = append(out, s.CIDR)
		}
	}
	return out
}

// Port returns the port with the given id, or nil.
func (n *Network) Port(id string) *Port {
	for _, p := range n.Ports {
		if p.ID == id {
			return p
		}
	}
	return nil
}

// PortByDeviceID returns the first port with the given device_id, or nil.
func (n *Network) PortByDeviceID(deviceID string) *Port {
	for _, p := range n.Ports {
		if p.DeviceID == deviceID {
			return p
		}
	}
	return nil
}

// DHCPPortOf returns the DHCP port of the agent on host, or nil.
func (n *Network) DHCPPortOf(host string) *Port {
	return n.PortByDeviceID(DHCPDeviceID(host, n.ID))
}

// Clone returns a deep copy of the network.
func (n *Network) Clone() *Network {
	if n == nil {
		return nil
	}
	c := *n
	if n.AdminStateUp != nil {
		v := *n.AdminStateUp
		c.AdminStateUp = &v
	}
	c.Subnets = cloneSubnets(n.Subnets)
	c.NonLocalSubnets = cloneSubnets(n.NonLocalSubnets)
	c.Ports = make([]*Port, len(n.Ports))
	for i, p := range n.Ports {
		c.Ports[i] = p.Clone()
	}
	if n.Segments != nil {
		c.Segments = make([]*Segment, len(n.Segments))
		for i, s := range n.Segments {
			sc := *s
			sc.Hosts = append([]string(nil), s.Hosts...)
			c.Segments[i] = &sc
		}
	}
	return &c
}

func cloneSubnets(in []*Subnet) []*Subnet {
	if in == nil {
		return nil
	}
	out := make([]*Subnet, len(in))
	for i, s := range in {
		out[i] = s.Clone()
	}
	return out
}

// Segment is a network segment (routed networks).
type Segment struct {
	ID              string   `json:"id"`
	NetworkID       string   `json:"network_id,omitempty"`
	Name            *string  `json:"name,omitempty"`
	NetworkType     string   `json:"network_type,omitempty"`
	PhysicalNetwork *string  `json:"physical_network,omitempty"`
	SegmentationID  *int     `json:"segmentation_id,omitempty"`
	IsDynamic       bool     `json:"is_dynamic,omitempty"`
	SegmentIndex    int      `json:"segment_index,omitempty"`
	Hosts           []string `json:"hosts,omitempty"`
}

// Subnet is a subnet as the DHCP RPC returns it.
type Subnet struct {
	ID              string      `json:"id"`
	Name            string      `json:"name,omitempty"`
	NetworkID       string      `json:"network_id,omitempty"`
	ProjectID       string      `json:"project_id,omitempty"`
	TenantID        string      `json:"tenant_id,omitempty"`
	IPVersion       int         `json:"ip_version"`
	CIDR            string      `json:"cidr"`
	GatewayIP       string      `json:"gateway_ip,omitempty"`
	EnableDHCP      bool        `json:"enable_dhcp"`
	IPv6RAMode      string      `json:"ipv6_ra_mode,omitempty"`
	IPv6AddressMode string      `json:"ipv6_address_mode,omitempty"`
	AllocationPools []AllocPool `json:"allocation_pools,omitempty"`
	HostRoutes      []HostRoute `json:"host_routes,omitempty"`
	DNSNameservers  []string    `json:"dns_nameservers,omitempty"`
	SegmentID       string      `json:"segment_id,omitempty"`
	SubnetpoolID    string      `json:"subnetpool_id,omitempty"`
	RevisionNumber  int64       `json:"revision_number,omitempty"`
}

// Clone returns a deep copy of the subnet.
func (s *Subnet) Clone() *Subnet {
	c := *s
	c.AllocationPools = append([]AllocPool(nil), s.AllocationPools...)
	c.HostRoutes = append([]HostRoute(nil), s.HostRoutes...)
	c.DNSNameservers = append([]string(nil), s.DNSNameservers...)
	return &c
}

// Prefix returns the parsed CIDR (masked). Validate guarantees it parses.
func (s *Subnet) Prefix() netip.Prefix {
	p, err := netip.ParsePrefix(s.CIDR)
	if err != nil {
		return netip.Prefix{}
	}
	return p.Masked()
}

// Gateway returns the parsed gateway IP, or the zero Addr when there is none.
func (s *Subnet) Gateway() netip.Addr {
	a, err := netip.ParseAddr(s.GatewayIP)
	if err != nil {
		return netip.Addr{}
	}
	return a
}

// IsSLAAC reports an IPv6 subnet whose address mode is slaac.
func (s *Subnet) IsSLAAC() bool { return s.IPVersion == 6 && s.IPv6AddressMode == IPv6ModeSLAAC }

// IsStateless reports an IPv6 subnet with address mode dhcpv6-stateless.
func (s *Subnet) IsStateless() bool {
	return s.IPVersion == 6 && s.IPv6AddressMode == IPv6ModeDHCPv6Stateless
}

// IsAutoAddress reports an IPv6 subnet whose addresses the host picks itself
// (slaac or dhcpv6-stateless address mode).
func (s *Subnet) IsAutoAddress() bool { return s.IsSLAAC() || s.IsStateless() }

// AllocPool is one allocation pool of a subnet.
type AllocPool struct {
	Start string `json:"start"`
	End   string `json:"end"`
}

// HostRoute is one host route of a subnet.
type HostRoute struct {
	Destination string `json:"destination"`
	Nexthop     string `json:"nexthop"`
}

// Port is a port as ML2 get_ports returns it.
type Port struct {
	ID             string          `json:"id"`
	Name           string          `json:"name,omitempty"`
	NetworkID      string          `json:"network_id,omitempty"`
	ProjectID      string          `json:"project_id,omitempty"`
	TenantID       string          `json:"tenant_id,omitempty"`
	MACAddress     string          `json:"mac_address"`
	AdminStateUp   *bool           `json:"admin_state_up,omitempty"`
	Status         string          `json:"status,omitempty"`
	DeviceID       string          `json:"device_id"`
	DeviceOwner    string          `json:"device_owner"`
	FixedIPs       []FixedIP       `json:"fixed_ips"`
	ExtraDHCPOpts  []ExtraDHCPOpt  `json:"extra_dhcp_opts,omitempty"`
	DNSName        string          `json:"dns_name,omitempty"`
	DNSAssignment  []DNSAssignment `json:"dns_assignment,omitempty"`
	BindingHostID  string          `json:"binding:host_id,omitempty"`
	RevisionNumber int64           `json:"revision_number,omitempty"`
}

// IsAdminUp reports the port's admin state; absent means up.
func (p *Port) IsAdminUp() bool { return p.AdminStateUp == nil || *p.AdminStateUp }

// Clone returns a deep copy of the port.
func (p *Port) Clone() *Port {
	c := *p
	if p.AdminStateUp != nil {
		v := *p.AdminStateUp
		c.AdminStateUp = &v
	}
	c.FixedIPs = append([]FixedIP(nil), p.FixedIPs...)
	c.ExtraDHCPOpts = append([]ExtraDHCPOpt(nil), p.ExtraDHCPOpts...)
	c.DNSAssignment = append([]DNSAssignment(nil), p.DNSAssignment...)
	return &c
}

// SubnetIDs returns the set of subnet ids of the port's fixed IPs.
func (p *Port) SubnetIDs() map[string]bool {
	m := make(map[string]bool, len(p.FixedIPs))
	for _, f := range p.FixedIPs {
		m[f.SubnetID] = true
	}
	return m
}

// FixedIP is one address of a port.
type FixedIP struct {
	SubnetID  string `json:"subnet_id"`
	IPAddress string `json:"ip_address,omitempty"`
}

// Addr returns the parsed address (zero Addr if empty or invalid).
func (f FixedIP) Addr() netip.Addr {
	a, err := netip.ParseAddr(f.IPAddress)
	if err != nil {
		return netip.Addr{}
	}
	return a
}

// ExtraDHCPOpt is one extra DHCP option of a port.
type ExtraDHCPOpt struct {
	OptName   string `json:"opt_name"`
	OptValue  string `json:"opt_value"`
	IPVersion int    `json:"ip_version,omitempty"`
}

// IsClientID reports whether the option is the DHCP client identifier.
func (o ExtraDHCPOpt) IsClientID() bool {
	return o.OptName == ClientIDOptName || o.OptName == ClientIDOptNumber
}

// Version returns the option's IP version (4 when unset, as neutron's API
// defaults it).
func (o ExtraDHCPOpt) Version() int {
	if o.IPVersion == 0 {
		return 4
	}
	return o.IPVersion
}

// DNSAssignment is one entry of a port's dns_assignment.
type DNSAssignment struct {
	Hostname  string `json:"hostname"`
	IPAddress string `json:"ip_address"`
	FQDN      string `json:"fqdn"`
}

// TrimToFirstLine cuts s at the first newline (neutron does this to option
// names and values before writing them).
func TrimToFirstLine(s string) string {
	if i := strings.IndexAny(s, "\n"); i >= 0 {
		return s[:i]
	}
	return s
}

// DHCPDeviceID is the device_id of this agent's DHCP port on a network:
// "dhcp" + uuid5(NAMESPACE_DNS, short host) + "-" + network id.
func DHCPDeviceID(host, networkID string) string {
	short, _, _ := strings.Cut(host, ".")
	return "dhcp" + uuid.NewSHA1(uuid.NameSpaceDNS, []byte(short)).String() + "-" + networkID
}

// DeviceName is the kernel interface name of a port: (prefix + port id)[:14].
func DeviceName(prefix, portID string) string {
	n := prefix + portID
	if len(n) > 14 {
		n = n[:14]
	}
	return n
}
