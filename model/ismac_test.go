package model

import (
	"math/rand"
	"net"
	"testing"
)

// IsMAC is what validation used before it: net.ParseMAC accepting a
// 17-character string.
func TestIsMACMatchesParseMAC(t *testing.T) {
	cases := []string{"fa:16:3e:00:00:01", "FA-16-3E-00-00-01", "fa:16-3e:00:00:01", "fa:16:3e:00:00:0g",
		"fa:16:3e:00:00:01 ", "fa163e000001", "fa16.3e00.0001", "", "fa:16:3e:00:00:01:02",
		"fa:16:3e:00:00:\n1", "fa:16:3e:zz:00:02"}
	r := rand.New(rand.NewSource(1))
	const alphabet = "0123456789abcdefABCDEFgG:-. \n"
	for i := 0; i < 20000; i++ {
		b := []byte("fa:16:3e:00:00:01")
		for k := r.Intn(3); k >= 0; k-- {
			b[r.Intn(len(b))] = alphabet[r.Intn(len(alphabet))]
		}
		cases = append(cases, string(b))
	}
	for _, s := range cases {
		_, err := net.ParseMAC(s)
		if want := err == nil && len(s) == 17; IsMAC(s) != want {
			t.Errorf("IsMAC(%q) = %v, net.ParseMAC says %v", s, !want, want)
		}
	}
}
