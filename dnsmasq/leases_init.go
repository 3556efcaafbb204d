package dnsmasq

import (
	"bytes"
	"net/netip"
	"strconv"
	"strings"
)

// initLeases renders the leases file written before each spawn: the
// previous file's "duid " lines (verbatim), then per DHCP host entry
// "<expiry> <mac> <ip> * *" for IPv4 (expiry now + lease, 0 when infinite)
// and, for IPv6, the previous file's line for that address if there was one
// (its IAID and DUID cannot be invented). Other old lines vanish.
func (v *view) initLeases(prev []byte) []byte {
	var b bytes.Buffer
	b.Grow(48 * len(v.net.Ports))
	old6 := map[netip.Addr]string{}
	for _, l := range splitLines(string(prev)) {
		if strings.HasPrefix(l, "duid ") {
			b.WriteString(l)
			continue
		}
		f := strings.Split(l, " ")
		if len(f) != 5 {
			continue
		}
		if a, err := netip.ParseAddr(f[2]); err == nil && a.Is6() && a.Zone() == "" {
			old6[a] = l
		}
	}
	expiry := "0"
	if v.conf.DHCPLeaseDuration != -1 {
		expiry = strconv.FormatInt(v.env.Now.Unix()+int64(v.conf.DHCPLeaseDuration), 10)
	}
	v.eachHost(false, func(e *hostEntry) {
		if e.noDHCP {
			return
		}
		switch {
		case v.isDHCPv4(e.subnetID):
			b.WriteString(expiry)
			b.WriteByte(' ')
			b.WriteString(e.port.MACAddress)
			b.WriteByte(' ')
			b.WriteString(e.ip)
			b.WriteString(" * *\n")
		case v.isDHCPv6(e.subnetID) && len(old6) > 0:
			if a, err := netip.ParseAddr(e.ip); err == nil {
				if l, ok := old6[a]; ok {
					b.WriteString(l)
				}
			}
		}
	})
	return b.Bytes()
}

// isDHCPv4 and isDHCPv6 test neutron's lists of DHCP-enabled subnet ids of
// each version (over subnets + non_local_subnets; an id counts when any
// subnet with that id matches).
func (v *view) isDHCPv4(id string) bool { return v.hasDHCPSubnet(id, 4) }
func (v *view) isDHCPv6(id string) bool { return v.hasDHCPSubnet(id, 6) }

func (v *view) hasDHCPSubnet(id string, version int) bool {
	s := v.byID[id]
	if s != nil && s.EnableDHCP && s.IPVersion == version {
		return true
	}
	if !v.dupIDs {
		return false
	}
	for _, s := range v.all {
		if s.ID == id && s.EnableDHCP && s.IPVersion == version {
			return true
		}
	}
	return false
}
