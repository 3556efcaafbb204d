package dnsmasq

import (
	"bytes"
	"net/netip"
	"strconv"
	"strings"
)

// leaseWriter renders the leases file written before each spawn: the
// previous file's "duid " lines (verbatim), then per DHCP host entry
// "<expiry> <mac> <ip> * *" for IPv4 (expiry now + lease, 0 when infinite)
// and, for IPv6, the previous file's line for that address if there was one
// (its IAID and DUID cannot be invented). Other old lines vanish.
type leaseWriter struct {
	v      *view
	b      bytes.Buffer
	old6   map[netip.Addr]string
	expiry string
}

func (v *view) newLeaseWriter(prev []byte) *leaseWriter {
	w := &leaseWriter{v: v, old6: map[netip.Addr]string{}, expiry: "0"}
	w.b.Grow(48 * len(v.net.Ports))
	for _, l := range splitLines(string(prev)) {
		if strings.HasPrefix(l, "duid ") {
			w.b.WriteString(l)
			continue
		}
		f := strings.Split(l, " ")
		if len(f) != 5 {
			continue
		}
		if a, err := netip.ParseAddr(f[2]); err == nil && a.Is6() && a.Zone() == "" {
			w.old6[a] = l
		}
	}
	if v.conf.DHCPLeaseDuration != -1 {
		w.expiry = strconv.FormatInt(v.env.Now.Unix()+int64(v.conf.DHCPLeaseDuration), 10)
	}
	return w
}

// add writes the line of one host entry (unmerged), if it gets one.
func (w *leaseWriter) add(e *hostEntry) {
	if e.noDHCP {
		return
	}
	switch {
	case w.v.isDHCPv4(e.subnetID):
		w.b.WriteString(w.expiry)
		w.b.WriteByte(' ')
		w.b.WriteString(e.port.MACAddress)
		w.b.WriteByte(' ')
		w.b.WriteString(e.ip)
		w.b.WriteString(" * *\n")
	case len(w.old6) > 0 && w.v.isDHCPv6(e.subnetID):
		if a, err := netip.ParseAddr(e.ip); err == nil {
			if l, ok := w.old6[a]; ok {
				w.b.WriteString(l)
			}
		}
	}
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
