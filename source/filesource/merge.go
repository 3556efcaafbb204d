package filesource

import (
	"net/netip"

	"qdhcp/model"
	"qdhcp/source/memory"
)

// merge puts the network's owned (persisted) ports into n, replacing a
// file port with the same id or appending. An owned address that the file
// no longer allows (its subnet is gone or not local, it left the subnet's
// CIDR, it is the gateway or another port's) is re-allocated like the
// server would, or dropped when the subnet is gone or full. It reports
// whether the owned ports changed. s.mu must be held.
func (s *Source) merge(n *model.Network) bool {
	owned := s.owned[n.ID]
	if len(owned) == 0 {
		return false
	}
	changed := false
	kept := make([]*model.Port, 0, len(owned))
	for _, op := range owned {
		p := op.Clone()
		fixed, repaired := repairIPs(n, p)
		if repaired {
			s.log.Info("DHCP port addresses re-allocated after a file change",
				"network", n.ID, "port", p.ID, "before", p.FixedIPs, "after", fixed)
			p.FixedIPs = fixed
			changed = true
		}
		replaced := false
		for i, fp := range n.Ports {
			if fp.ID == p.ID {
				n.Ports[i], replaced = p, true
				break
			}
		}
		if !replaced {
			n.Ports = append(n.Ports, p)
		}
		kept = append(kept, p)
	}
	if changed {
		s.owned[n.ID] = kept
	}
	return changed
}

// repairIPs checks the fixed IPs of owned port p against n (which does not
// yet hold p's own entry from the file) and returns the corrected list.
func repairIPs(n *model.Network, p *model.Port) ([]model.FixedIP, bool) {
	used := memory.UsedIPs(n, p.ID)
	out := make([]model.FixedIP, 0, len(p.FixedIPs))
	repaired := false
	for _, f := range p.FixedIPs {
		sub := localSubnet(n, f.SubnetID)
		if sub == nil {
			repaired = true
			continue
		}
		auto := memory.IsAutoAddressSubnet(sub)
		a := f.Addr()
		if addrAllowed(sub, p, a, auto, used) {
			used[a] = true
			out = append(out, f)
			continue
		}
		repaired = true
		var ok bool
		if auto {
			var err error
			a, err = memory.EUI64(sub.Prefix(), p.MACAddress)
			ok = err == nil && !used[a]
		} else {
			a, ok = memory.FirstFreeIP(sub, used)
		}
		if ok {
			used[a] = true
			out = append(out, model.FixedIP{SubnetID: sub.ID, IPAddress: a.String()})
		}
	}
	return out, repaired
}

func addrAllowed(sub *model.Subnet, p *model.Port, a netip.Addr, auto bool, used map[netip.Addr]bool) bool {
	if !a.IsValid() || !sub.Prefix().Contains(a) || used[a] {
		return false
	}
	if auto {
		eui, err := memory.EUI64(sub.Prefix(), p.MACAddress)
		return err == nil && eui == a
	}
	return a != sub.Gateway()
}

func localSubnet(n *model.Network, id string) *model.Subnet {
	for _, s := range n.Subnets {
		if s.ID == id {
			return s
		}
	}
	return nil
}
