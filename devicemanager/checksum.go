package devicemanager

import (
	"fmt"

	"github.com/coreos/go-iptables/iptables"
)

func iptablesFor(family string) (*iptables.IPTables, error) {
	proto := iptables.ProtocolIPv4
	if family == "ipv6" {
		proto = iptables.ProtocolIPv6
	}
	ipt, err := iptables.New(iptables.IPFamily(proto), iptables.Timeout(10))
	if err != nil {
		return nil, fmt.Errorf("%s tables: %w", family, err)
	}
	return ipt, nil
}

// ensureChecksumRules appends each rule inside the namespace unless it is
// already there (neutron's fill_dhcp_udp_checksums). go-iptables runs the
// iptables binaries; they inherit the namespace of the thread that starts
// them, which inNamespace switched.
func ensureChecksumRules(ns string, rules []ChecksumRule) error {
	return inNamespace(ns, func() error {
		for _, r := range rules {
			ipt, err := iptablesFor(r.Family)
			if err != nil {
				return err
			}
			if err := ipt.AppendUnique(r.Table, r.Chain, r.Rule...); err != nil {
				return fmt.Errorf("%s -t %s -A %s %v in %s: %w", r.Family, r.Table, r.Chain, r.Rule, ns, err)
			}
		}
		return nil
	})
}

// listRules returns the rules of a chain inside the namespace as
// `iptables -S` prints them.
func listRules(ns, family, table, chain string) ([]string, error) {
	var out []string
	err := inNamespace(ns, func() error {
		ipt, err := iptablesFor(family)
		if err != nil {
			return err
		}
		out, err = ipt.List(table, chain)
		return err
	})
	return out, err
}
