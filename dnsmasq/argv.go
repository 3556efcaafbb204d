package dnsmasq

import (
	"math"
	"net/netip"
	"qdhcp/internal/pypath"
	"strconv"
	"strings"

	"qdhcp/dhcpagent/config"
)

// argv is dnsmasq's command line in neutron's order.
func (v *view) argv() []string {
	c := v.conf
	p := ConfPaths(c, v.net.ID)
	noResolv := ""
	if len(c.DnsmasqDNSServers) > 0 || !c.DnsmasqLocalResolv {
		noResolv = "--no-resolv"
	}
	a := []string{
		"dnsmasq",
		"--no-hosts",
		noResolv, // neutron keeps the slot as an empty element
		"--pid-file=" + p.Pid,
		"--dhcp-hostsfile=" + p.Host,
		"--addn-hosts=" + p.AddnHosts,
		"--dhcp-optsfile=" + p.Opts,
		"--dhcp-leasefile=" + p.Leases,
		"--dhcp-match=set:ipxe,175",
		"--dhcp-userclass=set:ipxe6,iPXE",
		"--local-service",
		"--bind-dynamic",
	}
	if !bridged(c) {
		a = append(a, "--bridge-interface="+v.iface+",tap*")
	}
	lease := strconv.Itoa(c.DHCPLeaseDuration) + "s"
	if c.DHCPLeaseDuration == -1 {
		lease = "infinite"
	}
	var possible int64
	for _, s := range v.all {
		if !s.EnableDHCP {
			continue
		}
		pfx := s.Prefix()
		tag := "--dhcp-range=set:subnet-" + s.ID + "," + pfx.Addr().String() + ",static,"
		if s.IPVersion == 4 {
			a = append(a, tag+netmask(pfx.Bits())+","+lease)
		} else {
			if !hasDHCPv6Range(s.IPv6AddressMode, s.IPv6RAMode) {
				continue
			}
			if pfx.Bits() < 64 {
				continue // neutron ignores such a subnet
			}
			a = append(a, tag+strconv.Itoa(pfx.Bits())+","+lease)
		}
		possible = addSat(possible, rangeSize(pfx))
	}
	if v.net.MTU > 0 {
		a = append(a, "--dhcp-option-force=option:mtu,"+strconv.Itoa(v.net.MTU))
	}
	a = append(a, "--dhcp-lease-max="+strconv.FormatInt(min(possible, int64(c.DnsmasqLeaseMax)), 10))
	if c.DHCPRenewalTime > 0 {
		a = append(a, "--dhcp-option-force=option:T1,"+strconv.Itoa(c.DHCPRenewalTime)+"s")
	}
	if c.DHCPRebindingTime > 0 {
		a = append(a, "--dhcp-option-force=option:T2,"+strconv.Itoa(c.DHCPRebindingTime)+"s")
	}
	confFile := strings.TrimSpace(c.DnsmasqConfigFile)
	if confFile == "" {
		confFile = "/dev/null"
	}
	a = append(a, "--conf-file="+confFile)
	for _, s := range c.DnsmasqDNSServers {
		a = append(a, "--server="+s)
	}
	if c.DNSDomain != "" {
		a = append(a, "--domain="+c.DNSDomain)
	}
	if c.DHCPBroadcastReply {
		a = append(a, "--dhcp-broadcast")
	}
	if c.DnsmasqBaseLogDir != "" {
		a = append(a, "--log-queries", "--log-dhcp", "--log-facility="+LogFile(c, v.net.ID))
	}
	return a
}

// LogFile is dnsmasq's log file when dnsmasq_base_log_dir is set:
// <dnsmasq_base_log_dir>/<network-id>/dhcp_dns_log. The driver creates its
// directory before the spawn (neutron drops the log options when it
// cannot).
func LogFile(c *config.Config, networkID string) string {
	return pypath.Join(pypath.Join(c.DnsmasqBaseLogDir, networkID), "dhcp_dns_log")
}

// hasDHCPv6Range: an IPv6 subnet gets a static range when its address mode
// is dhcpv6-stateful or -stateless, or when neither mode is set.
func hasDHCPv6Range(addrMode, raMode string) bool {
	switch addrMode {
	case "dhcpv6-stateful", "dhcpv6-stateless":
		return true
	}
	return addrMode == "" && raMode == ""
}

// bridged reports whether the interface driver attaches the DHCP port to a
// bridge (OVS, linuxbridge); only then does dnsmasq bind to the device
// alone.
func bridged(c *config.Config) bool {
	d := strings.ToLower(c.InterfaceDriver)
	return !(d == "null" || strings.HasSuffix(d, ".nulldriver") || strings.HasSuffix(d, ":nulldriver"))
}

// netmask is the dotted IPv4 netmask of a prefix length.
func netmask(bits int) string {
	m := uint32(0)
	if bits > 0 {
		m = ^uint32(0) << (32 - bits)
	}
	return netip.AddrFrom4([4]byte{byte(m >> 24), byte(m >> 16), byte(m >> 8), byte(m)}).String()
}

// rangeSize is the number of addresses in the prefix, saturated.
func rangeSize(p netip.Prefix) int64 {
	host := p.Addr().BitLen() - p.Bits()
	if host >= 63 {
		return math.MaxInt64
	}
	return int64(1) << host
}

func addSat(a, b int64) int64 {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}
