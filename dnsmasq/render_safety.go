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
// control characters. Errors are *model.ValidationError naming the JSON
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
	if s.GatewayIP != "" {
		if err := checkIP(path+".gateway_ip", s.GatewayIP); err != nil {
			return err
		}
	}
	for j, ns := range s.DNSNameservers {
		if err := checkIP(fmt.Sprintf("%s.dns_nameservers[%d]", path, j), ns); err != nil {
			return err
		}
	}
	for j, r := range s.HostRoutes {
		rp := fmt.Sprintf("%s.host_routes[%d]", path, j)
		if _, err := netip.ParsePrefix(r.Destination); err != nil {
			return bad(rp+".destination", "invalid CIDR %q", r.Destination)
		}
		if err := checkIP(rp+".nexthop", r.Nexthop); err != nil {
			return err
		}
	}
	return nil
}

func checkPort(i int, p *model.Port) error {
	path := fmt.Sprintf("ports[%d]", i)
	if p == nil {
		return bad(path, "null port")
	}
	if !model.IsUUID(p.ID) {
		return bad(path+".id", "not a UUID: %q", p.ID)
	}
	if !isMAC(p.MACAddress) {
		return bad(path+".mac_address", "invalid MAC %q", p.MACAddress)
	}
	for j, f := range p.FixedIPs {
		if err := checkIP(fmt.Sprintf("%s.fixed_ips[%d].ip_address", path, j), f.IPAddress); err != nil {
			return err
		}
	}
	for j, o := range p.ExtraDHCPOpts {
		op := fmt.Sprintf("%s.extra_dhcp_opts[%d]", path, j)
		if hasControl(model.TrimToFirstLine(o.OptName)) {
			return bad(op+".opt_name", "control character in %q", o.OptName)
		}
		if hasControl(model.TrimToFirstLine(o.OptValue)) {
			return bad(op+".opt_value", "control character in %q", o.OptValue)
		}
	}
	for j, d := range p.DNSAssignment {
		dp := fmt.Sprintf("%s.dns_assignment[%d]", path, j)
		if !isHostName(model.TrimToFirstLine(d.Hostname)) {
			return bad(dp+".hostname", "invalid DNS name %q", d.Hostname)
		}
		if !isHostName(model.TrimToFirstLine(d.FQDN)) {
			return bad(dp+".fqdn", "invalid DNS name %q", d.FQDN)
		}
		if err := checkIP(dp+".ip_address", d.IPAddress); err != nil {
			return err
		}
	}
	return nil
}

func checkConf(c *config.Config) error {
	if !isHostName(c.DNSDomain) {
		return bad("dns_domain", "invalid domain %q", c.DNSDomain)
	}
	for _, o := range []struct{ name, v string }{
		{"dhcp_confs", c.DHCPConfs},
		{"dnsmasq_config_file", c.DnsmasqConfigFile},
		{"dnsmasq_base_log_dir", c.DnsmasqBaseLogDir},
	} {
		if hasControl(o.v) {
			return bad(o.name, "control character in %q", o.v)
		}
	}
	for _, s := range c.DnsmasqDNSServers {
		if hasControl(s) {
			return bad("dnsmasq_dns_servers", "control character in %q", s)
		}
	}
	return nil
}

// checkIP accepts an IP as netip parses it, without a zone.
func checkIP(path, s string) error {
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return bad(path, "invalid IP %q", s)
	}
	return nil
}

// isMAC accepts the 17-character forms net.ParseMAC accepts for EUI-48.
func isMAC(s string) bool {
	if len(s) != 17 {
		return false
	}
	sep := s[2]
	if sep != ':' && sep != '-' {
		return false
	}
	for i := 0; i < 17; i++ {
		c := s[i]
		if i%3 == 2 {
			if c != sep {
				return false
			}
			continue
		}
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// isHostName rejects what would split a hosts line or a dhcp-host field.
func isHostName(s string) bool {
	return !hasControl(s) && !strings.ContainsAny(s, " ,#\\")
}

// hasControl reports a C0 control character or DEL in s.
func hasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f {
			return true
		}
	}
	return false
}
