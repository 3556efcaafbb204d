package dnsmasq

import (
	"bytes"
	"net/netip"
	"strings"
	"unicode"

	"qdhcp/model"
)

// optsFile renders the dhcp-optsfile: the per-subnet options, then the
// ports' extra DHCP options, then the dns-server lists made of the DHCP
// ports' addresses; lines joined by "\n" with no trailing newline.
func (v *view) optsFile() []byte {
	var o optsWriter
	o.b.Grow(256*len(v.all) + 64*len(v.net.Ports))
	noNameservers := v.subnetOpts(&o)
	v.portOpts(&o, noNameservers)
	return o.b.Bytes()
}

// optsWriter joins lines with "\n".
type optsWriter struct {
	b     bytes.Buffer
	lines int
}

// option writes one "tag:<tag>,[<extra tags>,]<option>[,<args>]" line; name
// may carry its own "tag:X," prefix (see splitOptionName). A v6 option is
// option6:<name>; a v4 one option:<name> unless the name is a number.
func (o *optsWriter) option(version int, tag, name string, args ...string) {
	if o.lines > 0 {
		o.b.WriteByte('\n')
	}
	o.lines++
	extra, name := splitOptionName(name)
	o.b.WriteString("tag:")
	o.b.WriteString(tag)
	if extra != "" {
		o.b.WriteByte(',')
		o.b.WriteString(extra)
	}
	o.b.WriteByte(',')
	switch {
	case version == 6:
		o.b.WriteString("option6:")
	case !isDigits(name):
		o.b.WriteString("option:")
	}
	o.b.WriteString(name)
	for _, a := range args {
		o.b.WriteByte(',')
		o.b.WriteString(a)
	}
}

// splitOptionName splits "tag:a,tag:b,name" into "tag:a,tag:b" and "name"
// at the last comma, as neutron's greedy "(tag:(.*),)?(.*)$" does.
func splitOptionName(name string) (extra, opt string) {
	if strings.HasPrefix(name, "tag:") {
		if i := strings.LastIndexByte(name, ','); i >= len("tag:") {
			return name[:i], name[i+1:]
		}
	}
	return "", name
}

// isDigits is Python's str.isdigit for the names that occur: non-empty and
// all decimal digits.
func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !isDigitRune(r) {
			return false
		}
	}
	return true
}

// subnetOpts writes the options of every DHCP-enabled, non-SLAAC subnet of
// subnets + non_local_subnets and returns the ids of those without
// dns_nameservers.
func (v *view) subnetOpts(o *optsWriter) map[string]bool {
	noNameservers := map[string]bool{}
	isolated := IsolatedSubnets(v.net)
	var ifaceIPs map[string]string
	if v.conf.EnableIsolatedMetadata || v.conf.ForceMetadata {
		ifaceIPs = v.interfaceIPs()
	}
	var routes []string
	for _, s := range v.all {
		if !s.EnableDHCP || (s.IPVersion == 6 && s.IPv6AddressMode == model.IPv6ModeSLAAC) {
			continue
		}
		tag := "subnet-" + s.ID
		switch {
		case len(s.DNSNameservers) == 0:
			noNameservers[s.ID] = true
		case len(s.DNSNameservers) == 1 && (s.IPVersion == 4 && s.DNSNameservers[0] == "0.0.0.0" ||
			s.IPVersion == 6 && s.DNSNameservers[0] == "::"):
			// announce no DNS server at all
			o.option(s.IPVersion, tag, "dns-server")
		default:
			o.option(s.IPVersion, tag, "dns-server", literalAddrs(s.IPVersion, s.DNSNameservers)...)
		}
		if v.dnsDomain != "" && s.IPVersion == 6 {
			o.option(6, tag, "domain-search", v.dnsDomain)
		}
		if s.IPVersion != 4 {
			continue
		}
		gateway := s.GatewayIP
		routes = routes[:0]
		for _, r := range s.HostRoutes {
			if r.Destination == "0.0.0.0/0" {
				if gateway == "" {
					gateway = r.Nexthop
				}
				continue
			}
			routes = append(routes, r.Destination+","+r.Nexthop)
		}
		if v.conf.ForceMetadata || (isolated[s.ID] && v.conf.EnableIsolatedMetadata) {
			if ip := ifaceIPs[s.ID]; ip != "" {
				routes = append(routes, model.MetadataV4CIDR+","+ip)
			}
		} else if !isolated[s.ID] && gateway != "" {
			routes = append(routes, model.MetadataV4CIDR+","+gateway)
		}
		// every other IPv4 subnet of the same segment is on-link; each is
		// inserted at the front, so they come out in reverse order
		var onLink []string
		for _, other := range v.all {
			if other.IPVersion == 4 && other.CIDR != s.CIDR && other.SegmentID == s.SegmentID {
				onLink = append(onLink, other.CIDR+",0.0.0.0")
			}
		}
		if len(onLink) > 0 {
			rev := make([]string, 0, len(onLink)+len(routes)+1)
			for i := len(onLink) - 1; i >= 0; i-- {
				rev = append(rev, onLink[i])
			}
			routes = append(rev, routes...)
		}
		if len(routes) > 0 {
			if gateway != "" {
				routes = append(routes, "0.0.0.0/0,"+gateway)
			}
			list := strings.Join(routes, ",")
			o.option(4, tag, "classless-static-route", list)
			o.option(4, tag, "249", list)
		}
		if gateway != "" {
			o.option(4, tag, "router", gateway)
		} else {
			o.option(4, tag, "router")
		}
	}
	return noNameservers
}

// portOpts writes each port's extra DHCP options whose ip_version is one of
// the port's address versions (client-id excluded: it goes to the hosts
// file), then, for subnets without dns_nameservers that 2+ DHCP ports (of
// any agent) serve, a dns-server option listing those ports' addresses.
func (v *view) portOpts(o *optsWriter, noNameservers map[string]bool) {
	var dhcpOrder []string
	dhcpIPs := map[string][]string{}
	for _, p := range v.net.Ports {
		if len(p.ExtraDHCPOpts) > 0 {
			has4, has6 := false, false
			for _, f := range p.FixedIPs {
				if ipVersion(f.IPAddress) == 4 {
					has4 = true
				} else {
					has6 = true
				}
			}
			for _, opt := range p.ExtraDHCPOpts {
				if isClientIDOpt(opt) {
					continue
				}
				ver := opt.Version()
				if ver == 4 && has4 || ver == 6 && has6 {
					o.option(ver, "port-"+p.ID, firstLine(opt.OptName), firstLine(opt.OptValue))
				}
			}
		}
		if p.DeviceOwner == model.OwnerDHCP {
			for _, f := range p.FixedIPs {
				if !noNameservers[f.SubnetID] {
					continue
				}
				if _, seen := dhcpIPs[f.SubnetID]; !seen {
					dhcpOrder = append(dhcpOrder, f.SubnetID)
				}
				dhcpIPs[f.SubnetID] = append(dhcpIPs[f.SubnetID], f.IPAddress)
			}
		}
	}
	for _, id := range dhcpOrder {
		for _, ver := range []int{4, 6} {
			var ips []string
			for _, ip := range dhcpIPs[id] {
				if ipVersion(ip) == ver {
					ips = append(ips, ip)
				}
			}
			if len(ips) > 1 {
				o.option(ver, "subnet-"+id, "dns-server", literalAddrs(ver, ips)...)
			}
		}
	}
}

// interfaceIPs maps each local subnet to the address the DHCP interface
// holds in it: the DHCP port's fixed IPs on DHCP subnets (what init_l3
// configures) plus the metadata addresses, matched to a subnet by equal
// network (netaddr IPNetwork equality); a later address wins.
func (v *view) interfaceIPs() map[string]string {
	type addr struct {
		ip   netip.Addr
		bits int
	}
	var addrs []addr
	for _, f := range v.dhcpPort.FixedIPs {
		s := v.localSubnet(f.SubnetID)
		if s == nil || !s.EnableDHCP {
			continue
		}
		a, err := netip.ParseAddr(f.IPAddress)
		if err != nil {
			continue
		}
		addrs = append(addrs, addr{a, s.Prefix().Bits()})
	}
	addrs = append(addrs, addr{netip.MustParseAddr(model.MetadataIPv4), 32})
	if v.env.IPv6Enabled {
		addrs = append(addrs, addr{netip.MustParseAddr(model.MetadataLinkLocalV6), 64})
	}
	out := map[string]string{}
	for _, a := range addrs {
		if a.bits < 0 {
			continue
		}
		pfx, err := a.ip.Prefix(a.bits)
		if err != nil {
			continue
		}
		id := ""
		for _, s := range v.net.Subnets {
			if s.Prefix() == pfx {
				id = s.ID // dict(...) keeps the last subnet of a network
			}
		}
		if id != "" {
			out[id] = a.ip.String()
		}
	}
	return out
}

// localSubnet returns the subnet of network.subnets with the id (the last
// one, as a dict built from the list would).
func (v *view) localSubnet(id string) *model.Subnet {
	var found *model.Subnet
	for _, s := range v.net.Subnets {
		if s.ID == id {
			found = s
		}
	}
	return found
}

// literalAddrs brackets IPv6 addresses for dnsmasq.
func literalAddrs(version int, ips []string) []string {
	if version == 4 {
		return ips
	}
	out := make([]string, len(ips))
	for i, ip := range ips {
		out[i] = "[" + ip + "]"
	}
	return out
}

// ipVersion is netaddr.IPAddress(ip).version: 4 for a dotted quad, 6 for
// anything else that parses (an IPv4-mapped IPv6 address included).
func ipVersion(ip string) int {
	a, err := netip.ParseAddr(ip)
	if err == nil && a.Is4() {
		return 4
	}
	return 6
}

// isDigitRune is true for the characters Python's str.isdigit accepts:
// Unicode decimal digits and the other digit characters (superscripts,
// subscripts, circled digits, ...).
func isDigitRune(r rune) bool {
	if r >= '0' && r <= '9' {
		return true
	}
	if r < 0x80 {
		return false
	}
	if unicode.IsDigit(r) {
		return true
	}
	for _, rg := range otherDigits {
		if r >= rg[0] && r <= rg[1] {
			return true
		}
	}
	return false
}

// otherDigits are the Numeric_Type=Digit ranges outside category Nd.
var otherDigits = [][2]rune{
	{0x00B2, 0x00B3}, {0x00B9, 0x00B9}, {0x1369, 0x1371}, {0x19DA, 0x19DA},
	{0x2070, 0x2070}, {0x2074, 0x2079}, {0x2080, 0x2089}, {0x2460, 0x2468},
	{0x2474, 0x247C}, {0x2488, 0x2490}, {0x24EA, 0x24EA}, {0x24F5, 0x24FD},
	{0x24FF, 0x24FF}, {0x2776, 0x277E}, {0x2780, 0x2788}, {0x278A, 0x2792},
	{0x10A40, 0x10A43}, {0x10E60, 0x10E68}, {0x11052, 0x1105A}, {0x1F100, 0x1F10A},
}
