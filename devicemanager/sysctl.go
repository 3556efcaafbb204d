package devicemanager

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// sysctlPath maps a dotted key to its /proc/sys file.
func sysctlPath(key string) string {
	return filepath.Join("/proc/sys", strings.ReplaceAll(key, ".", "/"))
}

// writeSysctls sets the sysctls inside the namespace. /proc/sys/net shows
// the network namespace of the thread that opens it, so the files are
// written from a thread inside ns.
func writeSysctls(ns string, sysctls []Sysctl) error {
	return inNamespace(ns, func() error {
		for _, s := range sysctls {
			if err := os.WriteFile(sysctlPath(s.Key), []byte(s.Value), 0o644); err != nil {
				return fmt.Errorf("sysctl %s=%s in %s: %w", s.Key, s.Value, ns, err)
			}
		}
		return nil
	})
}

// readSysctl reads one sysctl inside the namespace.
func readSysctl(ns, key string) (string, error) {
	var v string
	err := inNamespace(ns, func() error {
		b, err := os.ReadFile(sysctlPath(key))
		v = strings.TrimSpace(string(b))
		return err
	})
	return v, err
}

// kernelIPv6Enabled is neutron's netutils.is_ipv6_enabled: the root
// namespace's default interface setting has IPv6 on.
func kernelIPv6Enabled() bool {
	b, err := os.ReadFile("/proc/sys/net/ipv6/conf/default/disable_ipv6")
	if err != nil {
		return false // no IPv6 support compiled in / module not loaded
	}
	return strings.TrimSpace(string(b)) == "0"
}

// writeRootSysctl sets a sysctl in the agent's own namespace.
func writeRootSysctl(s Sysctl) error {
	if err := os.WriteFile(sysctlPath(s.Key), []byte(s.Value), 0o644); err != nil {
		return fmt.Errorf("sysctl %s=%s: %w", s.Key, s.Value, err)
	}
	return nil
}
