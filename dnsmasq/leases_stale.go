package dnsmasq

import (
	"net/netip"
	"sort"
	"strings"

	"qdhcp/model"
)

// Release is one lease reload_allocations releases before its SIGHUP.
type Release struct {
	Version  int
	IP       string
	MAC      string // v4
	ClientID string // v4: the client id to release with ("" = none); v6: the client DUID
	ServerID string // v6: the server DUID of the leases file
	IAID     string // v6
}

// Argv is the release command run in the namespace for the interface:
// dhcp_release <iface> <ip> <mac> [<client-id>] or dhcp_release6 --iface
// <iface> --ip <ip> --client-id <duid> --server-id <duid> --iaid <iaid>.
// It is nil for an IPv6 lease whose file gives no client or server DUID
// (dnsmasq could not match the release).
func (r Release) Argv(iface string) []string {
	if r.Version == 6 {
		if r.ClientID == "" || r.ServerID == "" {
			return nil
		}
		return []string{"dhcp_release6", "--iface", iface, "--ip", r.IP,
			"--client-id", r.ClientID, "--server-id", r.ServerID, "--iaid", r.IAID}
	}
	a := []string{"dhcp_release", iface, r.IP, r.MAC}
	if r.ClientID != "" {
		a = append(a, r.ClientID)
	}
	return a
}

// leaseKey is neutron's (ip, mac, client_id) tuple; client_id may be None
// (hasCID false) or a string, possibly empty.
type leaseKey struct {
	ip, mac, cid string
	hasCID       bool
}

// StaleLeases computes which leases reload_allocations releases, given the
// previous host file, the current leases file and the network: candidates
// are the IPv4 leases (ip, mac, client-id) plus every (ip, mac, id) of the
// old host file, minus the (ip, mac, client-id) of every fixed IP of every
// current port. A candidate with a client id is kept when the same entry
// without one is both in the old host file and current. Only candidates
// whose IP has a lease are released (v6 ones with the lease's IAID and
// DUIDs). The result is sorted (neutron's order is unspecified).
func StaleLeases(prevHost []byte, leases []Lease, n *model.Network) []Release {
	cur := make(map[string]Lease, len(leases))
	for _, l := range leases {
		cur[l.IP] = l // a later line wins
	}
	if len(cur) == 0 {
		return nil
	}
	old := hostFileLeases(prevHost)
	candidates := make(map[leaseKey]bool, len(old)+len(cur))
	for k := range old {
		candidates[k] = true
	}
	for ip, l := range cur {
		if l.Version == 4 {
			candidates[leaseKey{ip: ip, mac: l.MAC, cid: l.ClientID, hasCID: l.ClientID != ""}] = true
		}
	}
	current := map[leaseKey]bool{}
	for _, p := range n.Ports {
		cid, has := clientID(p)
		for _, f := range p.FixedIPs {
			current[leaseKey{ip: f.IPAddress, mac: p.MACAddress, cid: cid, hasCID: has}] = true
		}
	}
	var out []Release
	for k := range candidates {
		if current[k] {
			continue
		}
		if k.hasCID && k.cid != "" {
			bare := leaseKey{ip: k.ip, mac: k.mac}
			if old[bare] && current[bare] {
				continue
			}
		}
		l, ok := cur[k.ip]
		if !ok {
			continue // no lease: nothing to release
		}
		r := Release{Version: l.Version, IP: k.ip, MAC: k.mac, ClientID: k.cid}
		if l.Version == 6 {
			r.MAC, r.ClientID, r.ServerID, r.IAID = "", l.ClientID, l.ServerID, l.IAID
		}
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.IP != b.IP {
			return a.IP < b.IP
		}
		if a.MAC != b.MAC {
			return a.MAC < b.MAC
		}
		return a.ClientID < b.ClientID
	})
	return out
}

// hostFileLeases reads the (ip, mac, client-id) entries of a host file as
// neutron does: "set:" lines skipped; "id:" gives the client id (its
// addresses from the fourth field on); a "tag:" line's addresses from the
// fourth field on (its id, if any, is not read); otherwise from the third
// field on; only fields that are IPs once stripped of brackets count.
func hostFileLeases(data []byte) map[leaseKey]bool {
	out := map[leaseKey]bool{}
	for _, raw := range splitLines(string(data)) {
		f := strings.Split(strings.TrimSpace(raw), ",")
		if len(f) < 2 || strings.HasPrefix(f[1], "set:") {
			continue
		}
		k := leaseKey{mac: f[0]}
		from := 2
		switch {
		case strings.HasPrefix(f[1], "id:"):
			k.cid, k.hasCID, from = f[1][3:], true, 3
		case strings.HasPrefix(f[1], "tag:"):
			from = 3
		}
		if from > len(f) {
			continue
		}
		for _, field := range f[from:] {
			ip := strings.Trim(field, "[]")
			if _, err := netip.ParseAddr(ip); err != nil || strings.Contains(ip, "%") {
				continue
			}
			k.ip = ip
			out[k] = true
		}
	}
	return out
}
