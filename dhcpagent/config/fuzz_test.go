package config

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoad feeds arbitrary file contents to Load: it must return a config
// or an error, never panic, and what it returns must validate.
func FuzzLoad(f *testing.F) {
	for _, s := range []string{
		"[DEFAULT]\nstate_path = /s\ndhcp_confs = $state_path/d\n",
		"[AGENT]\ncheck_child_processes_interval = 1_0\nreport_interval = 1e1\n",
		"[DEFAULT]\nx = ${y\nhost = $$\\$ $\n[OVS]\novs_integration_bridge = b\n",
		"[DEFAULT]\ndns_domain = 'a\n  b\n\nresync_throttle = 9\n",
		"[oslo_messaging_rabbit]\nssl = on\nkombu_failover_strategy = shuffle\n",
		"\"\"\"k\"\"\" = v\n[DEFAULT]\nhost = `x`\n",
	} {
		f.Add(s)
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, s string) {
		p := filepath.Join(dir, "fuzz.ini")
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		c, err := Load(p)
		if err != nil {
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("Load returned a config that does not validate: %v", err)
		}
	})
}
