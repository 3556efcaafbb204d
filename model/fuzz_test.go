package model

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzDecodeNetwork: any input is a network that validates, or an error;
// never a panic, and a decoded network always re-validates.
func FuzzDecodeNetwork(f *testing.F) {
	seeds, _ := filepath.Glob("../testdata/networks/*.json")
	for _, s := range seeds {
		if b, err := os.ReadFile(s); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"id": "11111111-1111-4111-8111-111111111111", "subnets": [], "ports": []}`))
	f.Add([]byte(`{"id": "../../etc/passwd"}`))
	f.Add([]byte(`{"id": "11111111-1111-4111-8111-111111111111", "mtu": -1}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		n, err := DecodeNetwork(data)
		if err != nil {
			if n != nil {
				t.Fatal("network returned with an error")
			}
			return
		}
		if err := n.Validate(); err != nil {
			t.Fatalf("decoded network does not validate: %v", err)
		}
		if !IsUUID(n.ID) {
			t.Fatalf("id %q accepted", n.ID)
		}
	})
}
