package memory

import (
	"bytes"
	"encoding/json"

	"qdhcp/model"
)

// Priorities neutron adds to each payload (METHOD_PRIORITY_MAP); a port
// create goes to one agent with the high priority, and this server has one.
const (
	PriorityNetworkCreate  = 0
	PriorityNetworkUpdate  = 1
	PriorityNetworkDelete  = 2
	PrioritySubnetUpdate   = 3
	PrioritySubnetDelete   = 4
	PriorityPortCreateHigh = 5
	PriorityPort           = 6
)

// Diff returns the notifications neutron-server would cast to the DHCP
// agent for the change from old to new (nil old: created, nil new:
// deleted), in this order:
//
//   - created network: network_create_end {"network": {"id"}} only (the
//     agent then fetches the whole network);
//   - deleted network: network_delete_end {"network_id"};
//   - network_update_end {"network": {...}} when admin_state_up or mtu
//     changed;
//   - subnet_create_end / subnet_update_end {"subnet": {...}} for added or
//     changed subnets (local and non-local), subnet_delete_end
//     {"subnet_id", "network_id"} for removed ones;
//   - port_delete_end {"port_id", "network_id", "fixed_ips"} for removed
//     ports, port_create_end / port_update_end {"port": {...}} for added
//     or changed ones.
//
// Every payload carries "priority".
func Diff(old, new *model.Network) []model.Notification {
	switch {
	case old == nil && new == nil:
		return nil
	case old == nil:
		return []model.Notification{note("network_create_end", PriorityNetworkCreate,
			map[string]any{"network": map[string]any{"id": new.ID}})}
	case new == nil:
		return []model.Notification{note("network_delete_end", PriorityNetworkDelete,
			map[string]any{"network_id": old.ID})}
	}
	var out []model.Notification
	if old.IsAdminUp() != new.IsAdminUp() || old.MTU != new.MTU {
		out = append(out, note("network_update_end", PriorityNetworkUpdate,
			map[string]any{"network": networkPayload(new)}))
	}
	out = append(out, diffSubnets(old, new)...)
	return append(out, diffPorts(old, new)...)
}

func diffSubnets(old, new *model.Network) []model.Notification {
	var out []model.Notification
	before := make(map[string][]byte)
	for _, s := range old.AllSubnets() {
		before[s.ID] = mustJSON(subnetPayload(old.ID, s))
	}
	seen := make(map[string]bool)
	for _, s := range new.AllSubnets() {
		seen[s.ID] = true
		p := subnetPayload(new.ID, s)
		prev, ok := before[s.ID]
		switch {
		case !ok:
			out = append(out, note("subnet_create_end", PrioritySubnetUpdate, map[string]any{"subnet": p}))
		case !bytes.Equal(prev, mustJSON(p)):
			out = append(out, note("subnet_update_end", PrioritySubnetUpdate, map[string]any{"subnet": p}))
		}
	}
	for _, s := range old.AllSubnets() {
		if !seen[s.ID] {
			seen[s.ID] = true
			out = append(out, note("subnet_delete_end", PrioritySubnetDelete,
				map[string]any{"subnet_id": s.ID, "network_id": old.ID}))
		}
	}
	return out
}

func diffPorts(old, new *model.Network) []model.Notification {
	var out []model.Notification
	now := make(map[string]bool, len(new.Ports))
	for _, p := range new.Ports {
		now[p.ID] = true
	}
	for _, p := range old.Ports {
		if !now[p.ID] {
			now[p.ID] = true // a repeated id is deleted once
			fixed := p.FixedIPs
			if fixed == nil {
				fixed = []model.FixedIP{}
			}
			out = append(out, note("port_delete_end", PriorityPort,
				map[string]any{"port_id": p.ID, "network_id": old.ID, "fixed_ips": fixed}))
		}
	}
	before := make(map[string][]byte, len(old.Ports))
	for _, p := range old.Ports {
		before[p.ID] = mustJSON(portPayload(old.ID, p))
	}
	var updates []model.Notification
	for _, p := range new.Ports {
		pp := portPayload(new.ID, p)
		prev, ok := before[p.ID]
		switch {
		case !ok:
			out = append(out, note("port_create_end", PriorityPortCreateHigh, map[string]any{"port": pp}))
		case !bytes.Equal(prev, mustJSON(pp)):
			updates = append(updates, note("port_update_end", PriorityPort, map[string]any{"port": pp}))
		}
		before[p.ID] = mustJSON(pp) // a repeated id is announced once
	}
	return append(out, updates...)
}

// networkPayload is the API network dict of network_update_end.
func networkPayload(n *model.Network) map[string]any {
	ids := make([]string, 0, len(n.Subnets))
	for _, s := range n.Subnets {
		ids = append(ids, s.ID)
	}
	m := map[string]any{
		"id":             n.ID,
		"name":           n.Name,
		"admin_state_up": n.IsAdminUp(),
		"project_id":     n.Project(),
		"tenant_id":      n.Project(),
		"subnets":        ids,
	}
	if n.MTU > 0 {
		m["mtu"] = n.MTU
	}
	if n.RevisionNumber > 0 {
		m["revision_number"] = n.RevisionNumber
	}
	return m
}

// subnetPayload is the subnet with its network_id filled in.
func subnetPayload(netID string, s *model.Subnet) *model.Subnet {
	c := s.Clone()
	if c.NetworkID == "" {
		c.NetworkID = netID
	}
	return c
}

// portPayload is the port with its network_id filled in.
func portPayload(netID string, p *model.Port) *model.Port {
	c := p.Clone()
	if c.NetworkID == "" {
		c.NetworkID = netID
	}
	if c.FixedIPs == nil {
		c.FixedIPs = []model.FixedIP{}
	}
	return c
}

func note(method string, prio int, payload map[string]any) model.Notification {
	payload["priority"] = prio
	return model.Notification{Method: method, Payload: mustJSON(payload)}
}

// mustJSON marshals values that cannot fail (model structs, maps of them).
func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic("memory: marshal: " + err.Error())
	}
	return b
}
