package dnsmasq

import (
	"strings"
	"testing"
)

// FuzzParseLeases: a leases file of any content parses or errors, never
// panics, and every parsed lease has an address and a version.
func FuzzParseLeases(f *testing.F) {
	f.Add([]byte("1700086400 fa:16:3e:8a:3b:dd 10.0.0.10 * *\n"))
	f.Add([]byte("duid 00:01:00:01:2c:4f:7a:10:fa:16:3e:00:00:01\n" +
		"1700086400 1234 2001:db8::10 host-x 00:01:00:01:aa:bb:cc:dd\n"))
	f.Add([]byte("0 fa:16:3e:8a:3b:dd 10.0.0.10 host 01:fa:16:3e:8a:3b:dd\n"))
	f.Add([]byte("garbage\n\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		leases, err := ParseLeases(data)
		if err != nil {
			return
		}
		for _, l := range leases {
			if l.IP == "" || (l.Version != 4 && l.Version != 6) {
				t.Fatalf("lease without address or version: %+v", l)
			}
			if strings.ContainsAny(l.IP, " \n") {
				t.Fatalf("lease IP %q", l.IP)
			}
		}
	})
}
