package devicemanager

import (
	"net/netip"

	"qdhcp/dhcpagent/config"
	"qdhcp/model"
)

// Plan is everything Setup applies to the host for one network's DHCP port,
// computed without touching the host. Setup, Update and Repair apply a Plan;
// tests compare it with neutron's recorded actions.
type Plan struct {
	NetworkID string
	Namespace string // qdhcp-<network id>
	Device    string // tap<port id[:11]> (or ns-... with the veth/linuxbridge prefix)
	// OVSPort is the name of the OVS port and interface: Device for an
	// internal port; with ovs_use_veth the veth's root end, tap<port
	// id[:11]>, while Device (ns-...) is its end in the namespace.
	OVSPort string
	// Veth plugs a veth pair (ovs_use_veth) instead of an internal port.
	Veth   bool
	Bridge string // [OVS] integration_bridge
	PortID string
	MAC    string // as the server sent it
	MTU    int    // 0: leave the device's MTU alone

	// ExternalIDs of the OVS Interface row: iface-id, iface-status,
	// attached-mac (the OVS agent binds the port by these).
	ExternalIDs map[string]string

	// Sysctls written inside the namespace, in order.
	Sysctls []Sysctl

	// Addresses of the device in init_l3 order: the DHCP port's fixed IPs on
	// DHCP subnets with the subnet's prefix length, then the metadata
	// addresses when force_metadata or enable_isolated_metadata.
	Addresses []netip.Prefix

	// Routes is the default route per IP version (4 first); a version
	// without an entry gets its default route deleted.
	Routes []DefaultRoute

	// ChecksumRules are the mangle POSTROUTING CHECKSUM-fill rules.
	ChecksumRules []ChecksumRule

	// IPv6 reports whether the kernel has IPv6 enabled (v6 sysctls,
	// addresses, routes and rules are only planned then).
	IPv6 bool
}

// Sysctl is one /proc/sys setting inside the namespace.
type Sysctl struct {
	Key   string // dotted, e.g. net.ipv4.ip_nonlocal_bind
	Value string
}

// DefaultRoute is the default route of one IP version.
type DefaultRoute struct {
	Version int
	Gateway netip.Addr
	// Subnet is the subnet the gateway was taken from.
	Subnet netip.Prefix
	// OnLink is set when the gateway is outside Subnet: a host route to the
	// gateway with scope link is added first.
	OnLink bool
}

// ChecksumRule is one iptables rule (family "ipv4" or "ipv6").
type ChecksumRule struct {
	Family string
	Table  string
	Chain  string
	Rule   []string
}

// DHCP client ports whose replies get their UDP checksum filled.
const (
	dhcpv4ClientPort = "68"
	dhcpv6ClientPort = "546"
)

// NamespaceName is the namespace of a network's DHCP service.
func NamespaceName(networkID string) string { return "qdhcp-" + networkID }

// NewPlan computes the Plan for net with its DHCP port (as returned by
// SetupDHCPPort). ipv6 is whether the kernel has IPv6 enabled.
func NewPlan(conf *config.Config, net *model.Network, port *model.Port, ipv6 bool) *Plan {
	p := &Plan{
		NetworkID: net.ID,
		Namespace: NamespaceName(net.ID),
		Device:    model.DeviceName(conf.DeviceNamePrefix(), port.ID),
		OVSPort:   model.DeviceName(conf.DeviceNamePrefix(), port.ID),
		Veth:      conf.OVSUseVeth,
		Bridge:    conf.IntegrationBridge(),
		PortID:    port.ID,
		MAC:       port.MACAddress,
		MTU:       net.MTU,
		ExternalIDs: map[string]string{
			"iface-id":     port.ID,
			"iface-status": "active",
			"attached-mac": port.MACAddress,
		},
		IPv6: ipv6,
	}
	if p.Veth {
		p.OVSPort = model.DeviceName(tapPrefix, port.ID)
	}
	p.Sysctls = []Sysctl{{Key: "net.ipv4.ip_nonlocal_bind", Value: "1"}}
	if ipv6 {
		p.Sysctls = append(p.Sysctls, Sysctl{Key: "net.ipv6.conf.default.accept_ra", Value: "0"})
	}
	p.Addresses = planAddresses(conf, net, port, ipv6)
	p.Routes = planRoutes(net, ipv6)
	p.ChecksumRules = []ChecksumRule{checksumRule("ipv4", dhcpv4ClientPort)}
	if ipv6 {
		p.ChecksumRules = append(p.ChecksumRules, checksumRule("ipv6", dhcpv6ClientPort))
	}
	return p
}

func checksumRule(family, dport string) ChecksumRule {
	return ChecksumRule{
		Family: family,
		Table:  "mangle",
		Chain:  "POSTROUTING",
		Rule:   []string{"-p", "udp", "-m", "udp", "--dport", dport, "-j", "CHECKSUM", "--checksum-fill"},
	}
}

// planAddresses is init_l3's list: each fixed IP of the port on a DHCP subnet
// with that subnet's prefix length, then 169.254.169.254/32 and (IPv6)
// fe80::a9fe:a9fe/64 when metadata is served.
func planAddresses(conf *config.Config, net *model.Network, port *model.Port, ipv6 bool) []netip.Prefix {
	dhcp := map[string]*model.Subnet{}
	for _, s := range net.DHCPSubnets() {
		dhcp[s.ID] = s
	}
	var out []netip.Prefix
	for _, f := range port.FixedIPs {
		s := dhcp[f.SubnetID]
		if s == nil {
			continue
		}
		a := f.Addr()
		if !a.IsValid() || (a.Is6() && !ipv6) {
			continue
		}
		pfx := s.Prefix()
		if !pfx.IsValid() {
			continue
		}
		out = append(out, netip.PrefixFrom(a, pfx.Bits()))
	}
	if conf.ForceMetadata || conf.EnableIsolatedMetadata {
		out = append(out, netip.MustParsePrefix(model.MetadataV4CIDR))
		if ipv6 {
			out = append(out, netip.MustParsePrefix(model.MetadataV6CIDR))
		}
	}
	return out
}
