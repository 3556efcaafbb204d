package memory

import (
	"errors"
	"fmt"
	"net/netip"

	"qdhcp/model"
)

// Failures of an IP request, mapped to what neutron-server answers: the
// exceptions its DHCP RPC swallows (the call returns None) and the ones it
// re-raises to the agent.
var (
	// errInvalid: unknown subnet, address outside the subnet, an address
	// chosen on an auto-address subnet (SubnetNotFound / InvalidInput:
	// neutron returns None).
	errInvalid = errors.New("invalid fixed ip")
	// errInUse: IpAddressAlreadyAllocated, re-raised.
	errInUse = errors.New("ip address already allocated")
	// errExhausted: IpAddressGenerationFailure, re-raised.
	errExhausted = errors.New("no more IP addresses available")
)

// remoteClass is the neutron exception class the agent would see for err.
func remoteClass(err error) string {
	switch {
	case errors.Is(err, errInUse):
		return "neutron_lib.exceptions.IpAddressAlreadyAllocated"
	case errors.Is(err, errExhausted):
		return "neutron_lib.exceptions.IpAddressGenerationFailure"
	}
	return "neutron_lib.exceptions.InvalidInput"
}

// assignIPs resolves the requested fixed IPs of port p (whose MAC is set)
// on network n, in request order. Entries with an ip_address are honoured
// when free; subnet-only entries keep an address p already has on that
// subnet, else get the EUI-64 address (auto-address subnets) or the first
// free pool address.
func assignIPs(n *model.Network, p *model.Port, req []model.FixedIP) ([]model.FixedIP, error) {
	used := UsedIPs(n, p.ID)
	own := make(map[netip.Addr]bool)
	for _, f := range p.FixedIPs {
		own[f.Addr()] = true
	}
	out := make([]model.FixedIP, len(req))
	claimed := make(map[netip.Addr]bool)
	// explicit addresses first, so subnet-only entries cannot take them
	for i, f := range req {
		if f.IPAddress == "" {
			continue
		}
		a, err := netip.ParseAddr(f.IPAddress)
		if err != nil {
			return nil, fmt.Errorf("fixed_ips[%d]: %q: %w", i, f.IPAddress, errInvalid)
		}
		s := localSubnet(n, f.SubnetID, a)
		if s == nil || !s.Prefix().Contains(a) {
			return nil, fmt.Errorf("fixed_ips[%d]: %s not on subnet %q: %w", i, a, f.SubnetID, errInvalid)
		}
		if IsAutoAddressSubnet(s) && !own[a] {
			if eui, _ := EUI64(s.Prefix(), p.MACAddress); eui != a {
				return nil, fmt.Errorf("fixed_ips[%d]: %s cannot be assigned on auto-address subnet %s: %w", i, a, s.ID, errInvalid)
			}
		}
		if used[a] || claimed[a] {
			return nil, fmt.Errorf("fixed_ips[%d]: %s: %w", i, a, errInUse)
		}
		claimed[a] = true
		out[i] = model.FixedIP{SubnetID: s.ID, IPAddress: a.String()}
	}
	for i, f := range req {
		if f.IPAddress != "" {
			continue
		}
		s := localSubnet(n, f.SubnetID, netip.Addr{})
		if s == nil {
			return nil, fmt.Errorf("fixed_ips[%d]: subnet %q: %w", i, f.SubnetID, errInvalid)
		}
		a, err := pickIP(s, p, used, claimed)
		if err != nil {
			return nil, fmt.Errorf("fixed_ips[%d]: subnet %s: %w", i, s.ID, err)
		}
		claimed[a] = true
		out[i] = model.FixedIP{SubnetID: s.ID, IPAddress: a.String()}
	}
	return out, nil
}

// pickIP chooses the address for a subnet-only request entry.
func pickIP(s *model.Subnet, p *model.Port, used, claimed map[netip.Addr]bool) (netip.Addr, error) {
	if IsAutoAddressSubnet(s) {
		a, err := EUI64(s.Prefix(), p.MACAddress)
		if err != nil {
			return netip.Addr{}, fmt.Errorf("%v: %w", err, errInvalid)
		}
		return a, nil
	}
	for _, f := range p.FixedIPs {
		if a := f.Addr(); f.SubnetID == s.ID && a.IsValid() && !claimed[a] && !used[a] {
			return a, nil
		}
	}
	taken := make(map[netip.Addr]bool, len(used)+len(claimed))
	for a := range used {
		taken[a] = true
	}
	for a := range claimed {
		taken[a] = true
	}
	a, ok := FirstFreeIP(s, taken)
	if !ok {
		return netip.Addr{}, errExhausted
	}
	return a, nil
}

// localSubnet finds a subnet of n.Subnets by id, or by address when id is
// empty. Non-local subnets (other segments) cannot hold this host's port.
func localSubnet(n *model.Network, id string, a netip.Addr) *model.Subnet {
	for _, s := range n.Subnets {
		if id != "" && s.ID == id {
			return s
		}
		if id == "" && a.IsValid() && s.Prefix().Contains(a) {
			return s
		}
	}
	return nil
}
