package dnsmasq

import (
	"bytes"
	"net/netip"
	"strings"

	"qdhcp/model"
)

// hostEntry is one (port, address) pair of neutron's _iter_hosts.
type hostEntry struct {
	port     *model.Port
	ip       string // an address, or with addr6 lists "[a],[b]"
	subnetID string
	hostname string
	fqdn     string
	noDHCP   bool   // slaac or dhcpv6-stateless subnet
	noOpts   bool   // slaac subnet
	tag      string // "tag:dhcpv6," on IPv6 subnets with host tag support
}

// requiresDHCP reports whether a port gets host entries: every owner but
// HA router interfaces, floating IPs, DHCP ports and distributed ports.
func requiresDHCP(p *model.Port) bool {
	switch p.DeviceOwner {
	case model.OwnerRouterHAInterface, model.OwnerFloatingIP, model.OwnerDHCP, model.OwnerDistributed:
		return false
	}
	return true
}

// eachHost calls fn for every host entry in neutron's order: ports in
// network order, each port's fixed IPs with the dhcpv6-stateless ones
// first; with merge (and dnsmasq_enable_addr6_list) the addresses of one
// dhcpv6-stateful subnet become a single entry placed after the others.
// The entry passed to fn is only valid during the call.
func (v *view) eachHost(merge bool, fn func(*hostEntry)) {
	merge = merge && v.conf.DnsmasqEnableAddr6List
	var e hostEntry
	var fips []model.FixedIP
	for _, p := range v.net.Ports {
		if !requiresDHCP(p) {
			continue
		}
		fips = v.sortFixedIPs(fips[:0], p.FixedIPs)
		if merge {
			fips = v.mergeAddr6(fips)
		}
		for _, f := range fips {
			e = hostEntry{port: p, ip: f.IPAddress, subnetID: f.SubnetID}
			if s, ok := v.v6ByID[f.SubnetID]; ok {
				e.noDHCP = s.IPv6AddressMode == model.IPv6ModeSLAAC || s.IPv6AddressMode == model.IPv6ModeDHCPv6Stateless
				e.noOpts = s.IPv6AddressMode == model.IPv6ModeSLAAC
				e.tag = v.hostDHCPv6
			}
			e.hostname, e.fqdn = v.dnsNames(e.ip, p.DNSAssignment)
			fn(&e)
		}
	}
}

// sortFixedIPs appends in to out with the IPs on dhcpv6-stateless subnets
// first, the order otherwise kept (dnsmasq reads the hosts file from the
// end and would otherwise answer DHCPv4 with the address-less entry).
func (v *view) sortFixedIPs(out, in []model.FixedIP) []model.FixedIP {
	if len(v.v6ByID) == 0 {
		return append(out, in...)
	}
	for _, f := range in {
		if v.isStateless(f.SubnetID) {
			out = append(out, f)
		}
	}
	for _, f := range in {
		if !v.isStateless(f.SubnetID) {
			out = append(out, f)
		}
	}
	return out
}

func (v *view) isStateless(subnetID string) bool {
	s, ok := v.v6ByID[subnetID]
	return ok && s.IPv6AddressMode == model.IPv6ModeDHCPv6Stateless
}

// mergeAddr6 joins the addresses of each dhcpv6-stateful subnet into one
// "[a],[b]" entry, appended after the other entries in the order the
// subnets first appear.
func (v *view) mergeAddr6(fips []model.FixedIP) []model.FixedIP {
	var order []string
	var bySubnet map[string][]string
	out := fips[:0:0]
	for _, f := range fips {
		s, ok := v.v6ByID[f.SubnetID]
		if !ok || s.IPv6AddressMode != model.IPv6ModeDHCPv6Stateful {
			out = append(out, f)
			continue
		}
		if bySubnet == nil {
			bySubnet = map[string][]string{}
		}
		if _, seen := bySubnet[f.SubnetID]; !seen {
			order = append(order, f.SubnetID)
		}
		bySubnet[f.SubnetID] = append(bySubnet[f.SubnetID], dnsmasqAddr(f.IPAddress))
	}
	for _, id := range order {
		out = append(out, model.FixedIP{SubnetID: id, IPAddress: strings.Join(bySubnet[id], ",")})
	}
	return out
}

// dnsmasqAddr brackets an IPv6 address so dnsmasq cannot take it for a
// MAC; anything else (an IPv4 address, an addr6 list) is kept.
func dnsmasqAddr(s string) string {
	if a, err := netip.ParseAddr(s); err == nil && a.Is6() && a.Zone() == "" {
		return "[" + s + "]"
	}
	return s
}

// dnsNames returns the hostname and fqdn of an entry: from the port's
// dns_assignment for the first of the entry's addresses that has one (the
// last assignment of an address counts), else generated from the first
// address: host-<ip with '.' and ':' as '-'>[.<dns_domain>]. An addr6 list
// is split the way neutron splits it, so only its first address can match.
func (v *view) dnsNames(ip string, das []model.DNSAssignment) (string, string) {
	addrs := []string{ip}
	if strings.IndexByte(ip, '[') >= 0 || strings.IndexByte(ip, ']') >= 0 {
		addrs = strings.Split(strings.ReplaceAll(ip, "[", ""), "]")
	}
	if len(das) > 0 {
		for _, a := range addrs {
			for i := len(das) - 1; i >= 0; i-- {
				if das[i].IPAddress == a {
					return firstLine(das[i].Hostname), firstLine(das[i].FQDN)
				}
			}
		}
	}
	host := generatedHostname(addrs[0])
	if v.dnsDomain == "" {
		return host, host
	}
	return host, host + "." + v.dnsDomain
}

// generatedHostname is "host-" + ip with '.' and ':' replaced by '-'.
func generatedHostname(ip string) string {
	b := make([]byte, 0, 5+len(ip))
	b = append(b, "host-"...)
	for i := 0; i < len(ip); i++ {
		c := ip[i]
		if c == '.' || c == ':' {
			c = '-'
		}
		b = append(b, c)
	}
	return string(b)
}

// firstLine cuts s at the first newline, as neutron cuts names and values.
func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// clientID is the value of the port's first client-id (or 61) option, cut
// at the first newline, and whether the port has one.
func clientID(p *model.Port) (string, bool) {
	for _, o := range p.ExtraDHCPOpts {
		if isClientIDOpt(o) {
			return firstLine(o.OptValue), true
		}
	}
	return "", false
}

func isClientIDOpt(o model.ExtraDHCPOpt) bool {
	n := firstLine(o.OptName)
	return n == model.ClientIDOptName || n == model.ClientIDOptNumber
}

// hostFiles renders, in one pass over the host entries, the
// dhcp-hostsfile, the addn-hosts file and (when leases is not nil) the
// initial leases file.
//
// dhcp-hostsfile: one line per DHCP address,
// "mac,[tag:dhcpv6,][id:<client-id>,]<fqdn>,<ip>[,set:port-<id>]", plus a
// "mac,[tag:dhcpv6,]set:port-<id>" line for a port with options on a
// dhcpv6-stateless subnet; addresses merged with dnsmasq_enable_addr6_list.
//
// addn-hosts: "<ip>\t<fqdn> <hostname>" for every address of every host
// port, SLAAC and DHCP-disabled subnets included, never merged.
func (v *view) hostFiles(leases *leaseWriter) (host, addn []byte) {
	var hb, ab bytes.Buffer
	n := 0
	for _, p := range v.net.Ports {
		n += len(p.FixedIPs)
	}
	hb.Grow(80 * n)
	ab.Grow(72 * n)
	merge := v.conf.DnsmasqEnableAddr6List
	v.eachHost(false, func(e *hostEntry) {
		if !merge {
			v.hostLine(&hb, e)
		}
		line(&ab, e.ip, "\t", e.fqdn, " ", e.hostname)
		if leases != nil {
			leases.add(e)
		}
	})
	if merge {
		v.eachHost(true, func(e *hostEntry) { v.hostLine(&hb, e) })
	}
	return hb.Bytes(), ab.Bytes()
}

// hostLine writes the dhcp-hostsfile line of an entry, if it has one.
func (v *view) hostLine(b *bytes.Buffer, e *hostEntry) {
	p := e.port
	if e.noDHCP {
		if !e.noOpts && len(p.ExtraDHCPOpts) > 0 {
			line(b, p.MACAddress, ",", e.tag, "set:port-", p.ID)
		}
		return
	}
	if !v.dhcpIDs[e.subnetID] {
		return
	}
	ip := dnsmasqAddr(e.ip)
	if len(p.ExtraDHCPOpts) == 0 {
		line(b, p.MACAddress, ",", e.tag, e.fqdn, ",", ip)
		return
	}
	cid, _ := clientID(p)
	switch {
	case cid != "" && len(p.ExtraDHCPOpts) > 1:
		line(b, p.MACAddress, ",", e.tag, "id:", cid, ",", e.fqdn, ",", ip, ",set:port-", p.ID)
	case cid != "":
		line(b, p.MACAddress, ",", e.tag, "id:", cid, ",", e.fqdn, ",", ip)
	default:
		line(b, p.MACAddress, ",", e.tag, e.fqdn, ",", ip, ",set:port-", p.ID)
	}
}

// line writes the parts and a newline.
func line(b *bytes.Buffer, parts ...string) {
	for _, s := range parts {
		b.WriteString(s)
	}
	b.WriteByte('\n')
}
