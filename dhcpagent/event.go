package dhcpagent

import "qdhcp/model"

// kind is what an event asks of a network.
type kind int

const (
	// evConfigure configures the network from ev.net (full sync) or, when
	// ev.net is nil, from get_network_info (network_create_end,
	// network_update_end with admin up, a per-network resync).
	evConfigure kind = iota
	// evDisable tears the network down (network_delete_end, admin down).
	evDisable
	// evRefresh re-reads the network after a subnet change: reload, or
	// restart when the DHCP CIDRs changed.
	evRefresh
	// evPort adds or updates a port in the cache (port_create_end,
	// port_update_end) and reloads allocations.
	evPort
	// evPortDelete removes a port (port_delete_end) and reloads.
	evPortDelete
	// evReloadNow reloads allocations now (the bulk reload timer).
	evReloadNow
)

// Neutron's METHOD_PRIORITY_MAP: lower runs first within a network.
const (
	prioNetworkCreate = 0
	prioNetworkUpdate = 1
	prioNetworkDelete = 2
	prioSubnetUpdate  = 3
	prioSubnetDelete  = 4
	prioPortCreateLow = 5
	prioPort          = 6
	prioResync        = 0
)

// event is one unit of queued work for a network.
type event struct {
	kind   kind
	prio   int
	seq    uint64
	method string         // notification method, for logs and metrics
	net    *model.Network // evConfigure from a sync
	port   *model.Port    // evPort
	portID string         // evPortDelete
	create bool           // evPort from port_create_end (duplicate-IP check)
	done   func(error)    // called once the batch holding the event is done
}

func (e *event) finish(err error) {
	if e.done != nil {
		e.done(err)
	}
}
