package dnsmasq

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Lease is one line of dnsmasq's leases file:
//
//	v4: <expiry> <mac> <ip> <hostname|*> <client-id|*>
//	v6: <expiry> <iaid> <ip> <hostname|*> <client-duid|*>
//
// plus the server DUID of the file's "duid <server-duid>" line.
type Lease struct {
	Expiry   int64  // seconds since the epoch; 0 = infinite
	Version  int    // 4 or 6
	MAC      string // v4: the link address as written (empty for v6)
	IAID     string // v6: the IAID as written (decimal, "T" prefix for IA_TA)
	IP       string // as written, brackets stripped
	Hostname string // "" when the file says "*"
	ClientID string // v4 client id, v6 client DUID; "" when "*"
	ServerID string // the DUID of the first duid line before this lease
}

// ParseLeases parses a leases file the way neutron reads it for lease
// release: a line starting with "duid" gives the server DUID (the first
// one counts), other lines need exactly five whitespace-separated fields.
// Lines neutron would skip are skipped; the error, if any, lists the
// malformed lines and comes with the leases that did parse.
func ParseLeases(data []byte) ([]Lease, error) {
	var out []Lease
	var errs []error
	serverID := ""
	for i, raw := range splitLines(string(data)) {
		if strings.HasPrefix(raw, "duid") {
			if f := strings.Fields(raw); len(f) > 1 && serverID == "" {
				serverID = f[1]
			}
			continue
		}
		f := strings.Fields(raw)
		if len(f) == 0 {
			continue
		}
		if len(f) != 5 {
			errs = append(errs, fmt.Errorf("leases line %d: %d fields, want 5", i+1, len(f)))
			continue
		}
		ip := strings.Trim(f[2], "[]")
		a, err := netip.ParseAddr(ip)
		if err != nil {
			errs = append(errs, fmt.Errorf("leases line %d: invalid IP %q", i+1, f[2]))
			continue
		}
		exp, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			errs = append(errs, fmt.Errorf("leases line %d: invalid expiry %q", i+1, f[0]))
		}
		ls := Lease{Expiry: exp, IP: ip, Hostname: star(f[3]), ClientID: star(f[4]), ServerID: serverID, Version: 6}
		if a.Is4() {
			ls.Version, ls.MAC = 4, f[1]
		} else {
			ls.IAID = f[1]
		}
		out = append(out, ls)
	}
	return out, errors.Join(errs...)
}

func star(s string) string {
	if s == "*" {
		return ""
	}
	return s
}

// splitLines splits text into lines the way Python reads a text file:
// "\r\n" and "\r" end a line like "\n", and each line keeps its "\n" (the
// last one only if the data ends with one).
func splitLines(s string) []string {
	if strings.IndexByte(s, '\r') >= 0 {
		s = strings.ReplaceAll(s, "\r\n", "\n")
		s = strings.ReplaceAll(s, "\r", "\n")
	}
	var out []string
	for s != "" {
		i := strings.IndexByte(s, '\n')
		if i < 0 {
			out = append(out, s)
			break
		}
		out = append(out, s[:i+1])
		s = s[i+1:]
	}
	return out
}
