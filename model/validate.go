package model

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// ValidationError names the JSON path of a bad value, e.g.
// `ports[3].mac_address: invalid MAC "zz"`.
type ValidationError struct {
	Path   string
	Reason string
}

func (e *ValidationError) Error() string {
	if e.Path == "" {
		return e.Reason
	}
	return e.Path + ": " + e.Reason
}

// maxReason bounds a ValidationError's reason: a hostile value quoted in
// full would make every log line that reports it as long as the value.
const maxReason = 200

func verr(path, format string, args ...any) error {
	reason := fmt.Sprintf(format, args...)
	if len(reason) > maxReason {
		reason = fmt.Sprintf("%s... (%d bytes)", strings.ToValidUTF8(reason[:maxReason], ""), len(reason))
	}
	return &ValidationError{Path: path, Reason: reason}
}

// IsUUID reports whether s is a canonical 8-4-4-4-12 hex UUID (any case).
// Every id that becomes a path, a device name or a dnsmasq tag is checked
// with it (the renderer too, for every port: hence the table).
func IsUUID(s string) bool {
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return false
	}
	for i := 0; i < 36; i++ {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			continue
		}
		if !isHex[s[i]] {
			return false
		}
	}
	return true
}

// IsMAC accepts the 17-character forms net.ParseMAC accepts for EUI-48
// (xx:xx:xx:xx:xx:xx or with dashes), without allocating.
func IsMAC(s string) bool {
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
		if !isHex[c] {
			return false
		}
	}
	return true
}

var isHex = func() (t [256]bool) {
	for _, c := range "0123456789abcdefABCDEF" {
		t[c] = true
	}
	return t
}()

// ValidateID returns an error naming path when id is not a UUID.
func ValidateID(path, id string) error {
	if !IsUUID(id) {
		return verr(path, "not a UUID: %q", id)
	}
	return nil
}

// HasControl reports a control character (C0, DEL) in s.
func HasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f {
			return true
		}
	}
	return false
}

// MaxTextLen bounds a name or value copied into a dnsmasq file (after the
// cut at the first newline): neutron's database holds at most 255
// characters in these columns, and dnsmasq reads its hosts and opts files
// in chunks of 1024 bytes, taking the rest of a longer line for a new line
// (a directive of the sender's choosing).
const MaxTextLen = 255

// checkText rejects control characters left after neutron's cut at the first
// newline (such a value could otherwise start a new dnsmasq directive) and
// values longer than MaxTextLen.
func checkText(path, s string) error {
	first := TrimToFirstLine(s)
	if len(first) > MaxTextLen {
		return verr(path, "longer than %d bytes (%d)", MaxTextLen, len(first))
	}
	if HasControl(first) {
		return verr(path, "control character in %q", first)
	}
	return nil
}

// checkName validates a hostname or fqdn that goes into dhcp-host and
// addn-hosts lines: no control characters, white space or commas, at most
// MaxTextLen bytes.
func checkName(path, s string) error {
	s = TrimToFirstLine(s)
	if len(s) > MaxTextLen {
		return verr(path, "DNS name longer than %d bytes (%d)", MaxTextLen, len(s))
	}
	if strings.ContainsAny(s, " \t,#\\") || HasControl(s) {
		return verr(path, "invalid DNS name %q", s)
	}
	return nil
}

// Validate checks everything the agent later trusts: ids are UUIDs, CIDRs,
// IPs and MACs parse, names and option values cannot inject a dnsmasq
// directive. The first problem found is returned with its JSON path.
func (n *Network) Validate() error {
	if err := ValidateID("id", n.ID); err != nil {
		return err
	}
	if n.MTU < 0 || n.MTU > 65535 {
		return verr("mtu", "out of range: %d", n.MTU)
	}
	seen := map[string]bool{}
	for i, s := range n.Subnets {
		if err := s.validate(fmt.Sprintf("subnets[%d]", i)); err != nil {
			return err
		}
		if seen[s.ID] {
			return verr(fmt.Sprintf("subnets[%d].id", i), "duplicate subnet %s", s.ID)
		}
		seen[s.ID] = true
	}
	for i, s := range n.NonLocalSubnets {
		if err := s.validate(fmt.Sprintf("non_local_subnets[%d]", i)); err != nil {
			return err
		}
	}
	for i, p := range n.Ports {
		if err := p.validate(fmt.Sprintf("ports[%d]", i)); err != nil {
			return err
		}
	}
	return nil
}

func (s *Subnet) validate(path string) error {
	if s == nil {
		return verr(path, "null subnet")
	}
	if err := ValidateID(path+".id", s.ID); err != nil {
		return err
	}
	if s.IPVersion != 4 && s.IPVersion != 6 {
		return verr(path+".ip_version", "must be 4 or 6, got %d", s.IPVersion)
	}
	p, err := netip.ParsePrefix(s.CIDR)
	if err != nil {
		return verr(path+".cidr", "invalid CIDR %q", s.CIDR)
	}
	if (p.Addr().Is4() && s.IPVersion != 4) || (!p.Addr().Is4() && s.IPVersion != 6) {
		return verr(path+".cidr", "%s is not an IPv%d prefix", s.CIDR, s.IPVersion)
	}
	if s.GatewayIP != "" {
		if _, err := parseIP(s.GatewayIP); err != nil {
			return verr(path+".gateway_ip", "invalid IP %q", s.GatewayIP)
		}
	}
	for _, m := range []struct{ name, v string }{{"ipv6_ra_mode", s.IPv6RAMode}, {"ipv6_address_mode", s.IPv6AddressMode}} {
		switch m.v {
		case "", IPv6ModeSLAAC, IPv6ModeDHCPv6Stateful, IPv6ModeDHCPv6Stateless:
		default:
			return verr(path+"."+m.name, "unknown mode %q", m.v)
		}
	}
	for j, ap := range s.AllocationPools {
		for _, e := range []struct{ name, v string }{{"start", ap.Start}, {"end", ap.End}} {
			if _, err := parseIP(e.v); err != nil {
				return verr(fmt.Sprintf("%s.allocation_pools[%d].%s", path, j, e.name), "invalid IP %q", e.v)
			}
		}
	}
	for j, r := range s.HostRoutes {
		rp := fmt.Sprintf("%s.host_routes[%d]", path, j)
		if _, err := netip.ParsePrefix(r.Destination); err != nil {
			return verr(rp+".destination", "invalid CIDR %q", r.Destination)
		}
		if _, err := parseIP(r.Nexthop); err != nil {
			return verr(rp+".nexthop", "invalid IP %q", r.Nexthop)
		}
	}
	for j, ns := range s.DNSNameservers {
		if _, err := parseIP(ns); err != nil {
			return verr(fmt.Sprintf("%s.dns_nameservers[%d]", path, j), "invalid IP %q", ns)
		}
	}
	if s.SegmentID != "" {
		if err := ValidateID(path+".segment_id", s.SegmentID); err != nil {
			return err
		}
	}
	return nil
}

func (p *Port) validate(path string) error {
	if p == nil {
		return verr(path, "null port")
	}
	if err := ValidateID(path+".id", p.ID); err != nil {
		return err
	}
	if !IsMAC(p.MACAddress) {
		return verr(path+".mac_address", "invalid MAC %q", p.MACAddress)
	}
	if err := checkText(path+".device_id", p.DeviceID); err != nil {
		return err
	}
	if err := checkText(path+".device_owner", p.DeviceOwner); err != nil {
		return err
	}
	for j, f := range p.FixedIPs {
		fp := fmt.Sprintf("%s.fixed_ips[%d]", path, j)
		if err := ValidateID(fp+".subnet_id", f.SubnetID); err != nil {
			return err
		}
		if _, err := parseIP(f.IPAddress); err != nil {
			return verr(fp+".ip_address", "invalid IP %q", f.IPAddress)
		}
	}
	for j, o := range p.ExtraDHCPOpts {
		op := fmt.Sprintf("%s.extra_dhcp_opts[%d]", path, j)
		if err := checkText(op+".opt_name", o.OptName); err != nil {
			return err
		}
		if strings.TrimSpace(TrimToFirstLine(o.OptName)) == "" {
			return verr(op+".opt_name", "empty option name")
		}
		if err := checkText(op+".opt_value", o.OptValue); err != nil {
			return err
		}
		if isClientID(o) && strings.Contains(TrimToFirstLine(o.OptValue), ",") {
			// the id: field of a dhcp-host line: a comma would add fields
			// (another MAC, address, tag) to the line
			return verr(op+".opt_value", "comma in client-id %q", TrimToFirstLine(o.OptValue))
		}
		if o.IPVersion != 0 && o.IPVersion != 4 && o.IPVersion != 6 {
			return verr(op+".ip_version", "must be 4 or 6, got %d", o.IPVersion)
		}
	}
	for j, d := range p.DNSAssignment {
		dp := fmt.Sprintf("%s.dns_assignment[%d]", path, j)
		if err := checkName(dp+".hostname", d.Hostname); err != nil {
			return err
		}
		if err := checkName(dp+".fqdn", d.FQDN); err != nil {
			return err
		}
		if _, err := parseIP(d.IPAddress); err != nil {
			return verr(dp+".ip_address", "invalid IP %q", d.IPAddress)
		}
	}
	return nil
}

// isClientID is IsClientID on the name as written (cut at the first
// newline).
func isClientID(o ExtraDHCPOpt) bool {
	n := TrimToFirstLine(o.OptName)
	return n == ClientIDOptName || n == ClientIDOptNumber
}

// DecodeNetwork parses one network in the get_network_info format and
// validates it. Errors name the JSON path of the problem. Keys starting with
// "_" (test-harness annotations) are ignored like any unknown key.
func DecodeNetwork(data []byte) (*Network, error) {
	var n Network
	if err := decodeStrict(data, &n); err != nil {
		return nil, err
	}
	if err := n.Validate(); err != nil {
		return nil, err
	}
	return &n, nil
}

// decodeStrict decodes JSON, turning encoding/json's errors into ones that
// carry the field path.
func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			path := pathAt(data, te.Offset)
			if path == "" {
				path = te.Field
			}
			return verr(path, "expected %s, got JSON %s", te.Type, te.Value)
		}
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return verr("", "invalid JSON at byte %d: %v", se.Offset, err)
		}
		return verr("", "invalid JSON: %v", err)
	}
	if dec.More() {
		return verr("", "trailing data after the JSON object")
	}
	return nil
}

// InvalidPort is a port that failed the checks Validate makes of ports.
type InvalidPort struct {
	Port *Port // nil for a null port
	Err  error // with the JSON path of the port in the network it came in
}

// WithoutInvalidPorts returns n without the ports that fail the checks
// Validate makes of ports, and those ports with why. n itself is returned
// (and never changed) when every port passes; otherwise a shallow copy
// with its own port list. The rest of the network is not checked:
// Validate it afterwards.
func (n *Network) WithoutInvalidPorts() (*Network, []InvalidPort) {
	var bad []InvalidPort
	var kept []*Port
	for i, p := range n.Ports {
		if err := p.validate(fmt.Sprintf("ports[%d]", i)); err != nil {
			if bad == nil {
				kept = append(kept, n.Ports[:i]...)
			}
			bad = append(bad, InvalidPort{Port: p, Err: err})
			continue
		}
		if bad != nil {
			kept = append(kept, p)
		}
	}
	if bad == nil {
		return n, nil
	}
	c := *n
	c.Ports = kept
	return &c, bad
}

// Validate checks one port (as carried by a port notification).
func (p *Port) Validate() error {
	if err := p.validate("port"); err != nil {
		return err
	}
	return ValidateID("port.network_id", p.NetworkID)
}

// parseIP parses an IP address as neutron accepts it: no IPv6 zone (netip
// would take "fe80::1%anything", newlines included).
func parseIP(s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return a, err
	}
	if a.Zone() != "" {
		return netip.Addr{}, fmt.Errorf("IP %q has a zone", s)
	}
	return a, nil
}
