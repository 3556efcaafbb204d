package dhcpagent

import (
	"encoding/json"
	"fmt"

	"qdhcp/model"
)

// excludedOwners are the device owners whose ports the DHCP agent ignores in
// port notifications (they never get a dhcp-host entry).
var excludedOwners = map[string]bool{
	model.OwnerRouterHAInterface: true,
	model.OwnerFloatingIP:        true,
	model.OwnerDHCP:              true,
	model.OwnerDistributed:       true,
}

// notificationPayload is the union of the payload shapes neutron casts.
type notificationPayload struct {
	Network *struct {
		ID           string `json:"id"`
		AdminStateUp *bool  `json:"admin_state_up"`
	} `json:"network"`
	NetworkID string `json:"network_id"`
	Subnet    *struct {
		ID        string `json:"id"`
		NetworkID string `json:"network_id"`
	} `json:"subnet"`
	SubnetID     string          `json:"subnet_id"`
	Port         *model.Port     `json:"port"`
	PortID       string          `json:"port_id"`
	AdminStateUp *bool           `json:"admin_state_up"`
	Priority     *int            `json:"priority"`
	FixedIPs     json.RawMessage `json:"fixed_ips"`
}

// HandleNotification queues the work a server notification asks for. It
// returns an error for a payload it cannot use (logged by the caller); it
// never blocks on the work itself.
func (a *Agent) HandleNotification(n model.Notification) error {
	a.stats.Events.Add(1)
	var p notificationPayload
	if len(n.Payload) > 0 {
		if err := json.Unmarshal(n.Payload, &p); err != nil {
			return fmt.Errorf("%s: bad payload: %w", n.Method, err)
		}
	}
	prio := func(def int) int {
		if p.Priority != nil {
			return *p.Priority
		}
		return def
	}
	switch n.Method {
	case "network_create_end":
		if p.Network == nil || !model.IsUUID(p.Network.ID) {
			return fmt.Errorf("%s: payload has no network id", n.Method)
		}
		return a.enqueue(p.Network.ID, &event{kind: evConfigure, prio: prio(prioNetworkCreate), method: n.Method})
	case "network_update_end":
		if p.Network == nil || !model.IsUUID(p.Network.ID) {
			return fmt.Errorf("%s: payload has no network id", n.Method)
		}
		k := evConfigure
		if p.Network.AdminStateUp != nil && !*p.Network.AdminStateUp {
			k = evDisable
		}
		return a.enqueue(p.Network.ID, &event{kind: k, prio: prio(prioNetworkUpdate), method: n.Method})
	case "network_delete_end":
		if !model.IsUUID(p.NetworkID) {
			return fmt.Errorf("%s: payload has no network_id", n.Method)
		}
		return a.enqueue(p.NetworkID, &event{kind: evDisable, prio: prio(prioNetworkDelete), method: n.Method})
	case "subnet_create_end", "subnet_update_end":
		if p.Subnet == nil || !model.IsUUID(p.Subnet.NetworkID) {
			return fmt.Errorf("%s: payload has no subnet network_id", n.Method)
		}
		return a.enqueue(p.Subnet.NetworkID, &event{kind: evRefresh, prio: prio(prioSubnetUpdate), method: n.Method})
	case "subnet_delete_end":
		netID := p.NetworkID
		if netID == "" {
			netID = a.cache.networkOfSubnet(p.SubnetID)
		}
		if netID == "" {
			a.log.Debug("subnet delete for unknown subnet", "subnet", p.SubnetID)
			return nil
		}
		return a.enqueue(netID, &event{kind: evRefresh, prio: prio(prioSubnetDelete), method: n.Method})
	case "port_create_end", "port_update_end":
		if p.Port == nil {
			return fmt.Errorf("%s: payload has no port", n.Method)
		}
		if err := p.Port.Validate(); err != nil {
			return fmt.Errorf("%s: %w", n.Method, err)
		}
		if excludedOwners[p.Port.DeviceOwner] {
			return nil
		}
		return a.enqueue(p.Port.NetworkID, &event{kind: evPort, prio: prio(prioPort), method: n.Method,
			port: p.Port, create: n.Method == "port_create_end"})
	case "port_delete_end":
		netID := p.NetworkID
		if netID == "" {
			netID = a.cache.networkOfPort(p.PortID)
		}
		if netID == "" {
			a.cache.removePort(p.PortID) // remember it as deleted all the same
			return nil
		}
		return a.enqueue(netID, &event{kind: evPortDelete, prio: prio(prioPort), method: n.Method, portID: p.PortID})
	case "agent_updated":
		a.ScheduleResync("agent updated", "")
		return nil
	default:
		a.log.Debug("ignoring notification", "method", n.Method)
		return nil
	}
}

func (a *Agent) enqueue(netID string, ev *event) error {
	if !model.IsUUID(netID) {
		return fmt.Errorf("%s: invalid network id %q", ev.method, netID)
	}
	if a.queue == nil {
		return fmt.Errorf("%s: agent not running", ev.method)
	}
	a.queue.add(netID, ev)
	return nil
}
