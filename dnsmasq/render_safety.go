package dnsmasq

import (
	"fmt"
	"net/netip"
	"strings"

	"qdhcp/dhcpagent/config"
	"qdhcp/model"
)

// checkInput makes sure every value the renderer copies into a file stays
// inside its line and its field, whether or not the network went through
// model.Validate: ids are UUIDs, IPs parse and carry no IPv6 zone (netip
// accepts any text after '%', a newline included), MACs are MACs, and the
// text values left after neutron's cut at the first newline hold no
// control characters (a dns_assignment ip_address is only compared, never
// written). Errors are *model.ValidationError naming the JSON
// path (config values are named by their option).
func checkInput(n *model.Network, c *config.Config) error {
	if !model.IsUUID(n.ID) {
		return bad("id", "not a UUID: %q", n.ID)
	}
	for i, s := range n.Subnets {
		if err := checkSubnet(fmt.Sprintf("subnets[%d]", i), s); err != nil {
			return err
		}
	}
	for i, s := range n.NonLocalSubnets {
		if err := checkSubnet(fmt.Sprintf("non_local_subnets[%d]", i), s); err != nil {
			return err
		}
	}
	for i, p := range n.Ports {
		if err := checkPort(i, p); err != nil {
			return err
		}
	}
	return checkConf(c)
}

func bad(path, format string, args ...any) error {
	return &model.ValidationError{Path: path, Reason: fmt.Sprintf(format, args...)}
}

func checkSubnet(path string, s *model.Subnet) error {
	if s == nil {
		return bad(path, "null subnet")
	}
	if !model.IsUUID(s.ID) {
		return bad(path+".id", "not a UUID: %q", s.ID)
	}
	if _, err := netip.ParsePrefix(s.CIDR); err != nil {
		return bad(path+".cidr", "invalid CIDR %q", s.CIDR)
	}
	if s.GatewayIP != "" && !validIP(s.GatewayIP) {
		return bad(path+".gateway_ip", "invalid IP %q", s.GatewayIP)
	}
	for j, ns := range s.DNSNameservers {
		if !validIP(ns) {
			return bad(fmt.Sprintf("%s.dns_nameservers[%d]", path, j), "invalid IP %q", ns)
		}
	}
	for j, r := range s.HostRoutes {
		if _, err := netip.ParsePrefix(r.Destination); err != nil {
			return bad(fmt.Sprintf("%s.host_routes[%d].destination", path, j), "invalid CIDR %q", r.Destination)
		}
		if !validIP(r.Nexthop) {
			return bad(fmt.Sprintf("%s.host_routes[%d].nexthop", path, j), "invalid IP %q", r.Nexthop)
		}
	}
	return nil
}

// checkPort builds the JSON path only for a bad value: it runs for every
// port of every rendering.
func checkPort(i int, p *model.Port) error {
	at := func(format string, args ...any) string {
		return fmt.Sprintf("ports[%d]", i) + fmt.Sprintf(format, args...)
	}
	if p == nil {
		return bad(at(""), "null port")
	}
	if !model.IsUUID(p.ID) {
		return bad(at(".id"), "not a UUID: %q", p.ID)
	}
	if !model.IsMAC(p.MACAddress) {
		return bad(at(".mac_address"), "invalid MAC %q", p.MACAddress)
	}
	for j, f := range p.FixedIPs {
		if !validIP(f.IPAddress) {
			return bad(at(".fixed_ips[%d].ip_address", j), "invalid IP %q", f.IPAddress)
		}
	}
	for j, o := range p.ExtraDHCPOpts {
		if err := checkText(at(".extra_dhcp_opts[%d].opt_name", j), o.OptName); err != nil {
			return err
		}
		if err := checkText(at(".extra_dhcp_opts[%d].opt_value", j), o.OptValue); err != nil {
			return err
		}
		if isClientIDOpt(o) && strings.Contains(firstLine(o.OptValue), ",") {
			// the id: field of a dhcp-host line: a comma would add fields
			// (another MAC, address, tag) to the port's line
			return bad(at(".extra_dhcp_opts[%d].opt_value", j), "comma in client-id %q", firstLine(o.OptValue))
		}
	}
	for j, d := range p.DNSAssignment {
		for _, f := range []struct{ name, v string }{{"hostname", d.Hostname}, {"fqdn", d.FQDN}} {
			if v := firstLine(f.v); len(v) > model.MaxTextLen || !isHostName(v) {
				return bad(at(".dns_assignment[%d].%s", j, f.name), "invalid DNS name %.80q (%d bytes)", v, len(v))
			}
		}
	}
	return nil
}

// checkText refuses a name or value whose first line (what is written)
// holds a control character or is longer than model.MaxTextLen: dnsmasq
// reads the hosts and opts files in 1024-byte chunks and would take the
// rest of a longer line for a directive of its own.
func checkText(path, s string) error {
	v := firstLine(s)
	if len(v) > model.MaxTextLen {
		return bad(path, "longer than %d bytes (%d)", model.MaxTextLen, len(v))
	}
	if model.HasControl(v) {
		return bad(path, "control character in %q", v)
	}
	return nil
}

func checkConf(c *config.Config) error {
	if len(c.DNSDomain) > model.MaxTextLen || !isHostName(c.DNSDomain) {
		return bad("dns_domain", "invalid domain %.80q (%d bytes)", c.DNSDomain, len(c.DNSDomain))
	}
	for _, o := range []struct{ name, v string }{
		{"dhcp_confs", c.DHCPConfs},
		{"dnsmasq_config_file", c.DnsmasqConfigFile},
		{"dnsmasq_base_log_dir", c.DnsmasqBaseLogDir},
	} {
		if model.HasControl(o.v) {
			return bad(o.name, "control character in %q", o.v)
		}
	}
	for _, s := range c.DnsmasqDNSServers {
		if model.HasControl(s) {
			return bad("dnsmasq_dns_servers", "control character in %q", s)
		}
	}
	return nil
}

// validIP accepts an IP as netip parses it, without a zone.
func validIP(s string) bool {
	a, err := netip.ParseAddr(s)
	return err == nil && a.Zone() == ""
}

// isHostName rejects what would split a hosts line or a dhcp-host field.
func isHostName(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20, c == 0x7f, c == ' ', c == ',', c == '#', c == '\\':
			return false
		}
	}
	return true
}
