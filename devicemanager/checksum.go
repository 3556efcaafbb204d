package devicemanager

import (
	"errors"
	"fmt"
	"sync"

	"github.com/coreos/go-iptables/iptables"
)

var (
	iptMu      sync.Mutex
	iptRunners = map[string]*iptables.IPTables{}
)

// iptablesFor returns the iptables runner of a family. Making one runs the
// binary once (`--version`) to learn its flavour; the runner holds no
// namespace, so one per family serves every namespace.
func iptablesFor(family string) (*iptables.IPTables, error) {
	iptMu.Lock()
	defer iptMu.Unlock()
	if ipt := iptRunners[family]; ipt != nil {
		return ipt, nil
	}
	proto := iptables.ProtocolIPv4
	if family == "ipv6" {
		proto = iptables.ProtocolIPv6
	}
	ipt, err := iptables.New(iptables.IPFamily(proto), iptables.Timeout(10))
	if err != nil {
		return nil, fmt.Errorf("%s tables: %w", family, err)
	}
	iptRunners[family] = ipt
	return ipt, nil
}

// ensureChecksumRules appends each rule inside the namespace unless it is
// already there (neutron's fill_dhcp_udp_checksums). In a namespace this
// Setup has just created no rule can be there yet, so the check is skipped
// (one iptables run per rule instead of two). The two IP families are
// done concurrently. go-iptables runs the iptables binaries;
// they inherit the namespace of the thread that starts them, which
// inNamespace switched.
func ensureChecksumRules(ns string, rules []ChecksumRule, freshNamespace bool) error {
	var families []string
	byFamily := map[string][]ChecksumRule{}
	for _, r := range rules {
		if _, ok := byFamily[r.Family]; !ok {
			families = append(families, r.Family)
		}
		byFamily[r.Family] = append(byFamily[r.Family], r)
	}
	errs := make([]error, len(families))
	var wg sync.WaitGroup
	for i, fam := range families {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = inNamespace(ns, func() error {
				for _, r := range byFamily[fam] {
					if err := ensureChecksumRule(ns, r, freshNamespace); err != nil {
						return err
					}
				}
				return nil
			})
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func ensureChecksumRule(ns string, r ChecksumRule, freshNamespace bool) error {
	ipt, err := iptablesFor(r.Family)
	if err != nil {
		return err
	}
	add := ipt.AppendUnique
	if freshNamespace {
		add = ipt.Append
	}
	if err := add(r.Table, r.Chain, r.Rule...); err != nil {
		return fmt.Errorf("%s -t %s -A %s %v in %s: %w", r.Family, r.Table, r.Chain, r.Rule, ns, err)
	}
	return nil
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
