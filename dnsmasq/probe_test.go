package dnsmasq

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// The probe runs the real dnsmasq (Debian's 2.90 supports host tags).
func TestSupportsHostTags(t *testing.T) {
	path, err := exec.LookPath("dnsmasq")
	if err != nil {
		t.Skip("dnsmasq not installed (scripts/testenv.sh installs dnsmasq-base)")
	}
	if !SupportsHostTags(path) {
		t.Errorf("%s --test --dhcp-host=tag:foo failed", path)
	}
	// a dnsmasq that rejects the option: a script failing like an old one
	old := filepath.Join(t.TempDir(), "dnsmasq")
	if err := os.WriteFile(old, []byte("#!/bin/sh\necho 'dnsmasq: bad dhcp-host' >&2\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if SupportsHostTags(old) {
		t.Error("failing dnsmasq reported as supporting host tags")
	}
	if SupportsHostTags(filepath.Join(t.TempDir(), "missing")) {
		t.Error("missing dnsmasq reported as supporting host tags")
	}
}

func TestIPv6EnabledFrom(t *testing.T) {
	dir := t.TempDir()
	for content, want := range map[string]bool{"0\n": true, "1\n": false} {
		p := filepath.Join(dir, "disable_ipv6")
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if got := ipv6EnabledFrom(p); got != want {
			t.Errorf("%q: got %v", content, got)
		}
	}
	if ipv6EnabledFrom(filepath.Join(dir, "absent")) {
		t.Error("absent file means IPv6 disabled")
	}
}
