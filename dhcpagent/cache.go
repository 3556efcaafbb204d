package dhcpagent

import (
	"maps"
	"net/netip"
	"slices"
	"sync"
	"time"

	"qdhcp/model"
)

// deletedPortMemory is how long a deleted port id is remembered, so a late
// port_update_end for it is recognised as stale (neutron keeps 24 h).
const deletedPortMemory = 24 * time.Hour

// cache is the agent's view of the networks it serves: networks by id, the
// network of every subnet and port, and recently deleted ports.
type cache struct {
	mu       sync.RWMutex
	networks map[string]*model.Network
	subnets  map[string]string // subnet id -> network id
	ports    map[string]string // port id -> network id
	deleted  map[string]time.Time
	now      func() time.Time
	// holders indexes the fixed IPs of the cached ports: (network,
	// address) -> ids of the ports holding it (duplicate-IP checks cost
	// O(1) per port event instead of a copy of the network)
	holders map[ipKey]map[string]bool
}

// ipKey is an address on a network.
type ipKey struct {
	net  string
	addr netip.Addr
}

func newCache() *cache {
	return &cache{
		networks: map[string]*model.Network{},
		subnets:  map[string]string{},
		ports:    map[string]string{},
		deleted:  map[string]time.Time{},
		now:      time.Now,
		holders:  map[ipKey]map[string]bool{},
	}
}

// indexPort records (add) or forgets the fixed IPs of a port of network
// netID. c.mu must be held.
func (c *cache) indexPort(netID string, p *model.Port, add bool) {
	for _, f := range p.FixedIPs {
		k := ipKey{netID, f.Addr()}
		h := c.holders[k]
		if add {
			if h == nil {
				h = map[string]bool{}
				c.holders[k] = h
			}
			h[p.ID] = true
		} else if h != nil {
			delete(h, p.ID)
			if len(h) == 0 {
				delete(c.holders, k)
			}
		}
	}
}

// ipTaken reports whether a cached port of network netID other than port
// holds one of port's fixed IPs.
func (c *cache) ipTaken(netID string, port *model.Port) bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	for _, f := range port.FixedIPs {
		for id := range c.holders[ipKey{netID, f.Addr()}] {
			if id != port.ID {
				return true
			}
		}
	}
	return false
}

// put stores (a copy of) net, replacing what was cached for its id.
func (c *cache) put(net *model.Network) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.removeLocked(net.ID)
	n := net.Clone()
	c.networks[n.ID] = n
	for _, s := range n.AllSubnets() {
		c.subnets[s.ID] = n.ID
	}
	for _, p := range n.Ports {
		c.ports[p.ID] = n.ID
		c.indexPort(n.ID, p, true)
	}
}

// putEmpty caches a network known only by id (a state dir found at start),
// so that the first sync tears it down when the server no longer has it.
func (c *cache) putEmpty(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.networks[id]; !ok {
		c.networks[id] = &model.Network{ID: id}
	}
}

func (c *cache) remove(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.removeLocked(id)
}

func (c *cache) removeLocked(id string) {
	old, ok := c.networks[id]
	if !ok {
		return
	}
	for _, s := range old.AllSubnets() {
		delete(c.subnets, s.ID)
	}
	for _, p := range old.Ports {
		delete(c.ports, p.ID)
		c.indexPort(id, p, false)
	}
	delete(c.networks, id)
}

// get returns a copy of the cached network, or nil.
func (c *cache) get(id string) *model.Network {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if n, ok := c.networks[id]; ok {
		return n.Clone()
	}
	return nil
}

func (c *cache) has(id string) bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	_, ok := c.networks[id]
	return ok
}

// ids returns the cached network ids, sorted.
func (c *cache) ids() []string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return slices.Sorted(maps.Keys(c.networks))
}

func (c *cache) networkOfSubnet(subnetID string) string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.subnets[subnetID]
}

func (c *cache) networkOfPort(portID string) string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.ports[portID]
}

// putPort adds or replaces a port in its (cached) network. It returns false
// when the network is not cached.
func (c *cache) putPort(p *model.Port) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, ok := c.networks[p.NetworkID]
	if !ok {
		return false
	}
	oldNet, known := c.ports[p.ID]
	if known && oldNet != p.NetworkID {
		if on := c.networks[oldNet]; on != nil {
			for _, q := range on.Ports {
				if q.ID == p.ID {
					c.indexPort(oldNet, q, false)
				}
			}
			on.Ports = removePort(on.Ports, p.ID)
		}
	}
	cp := p.Clone()
	replaced := false
	for i, q := range n.Ports {
		if q.ID == p.ID {
			c.indexPort(n.ID, q, false)
			n.Ports[i] = cp
			replaced = true
			break
		}
	}
	if !replaced {
		n.Ports = append(n.Ports, cp)
	}
	c.indexPort(n.ID, cp, true)
	c.ports[p.ID] = n.ID
	return true
}

// removePort forgets a port and remembers it as deleted. It returns the
// removed port (nil if it was not cached).
func (c *cache) removePort(portID string) *model.Port {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.deleted[portID] = c.now()
	netID, ok := c.ports[portID]
	if !ok {
		return nil
	}
	delete(c.ports, portID)
	n := c.networks[netID]
	if n == nil {
		return nil
	}
	var removed *model.Port
	for _, p := range n.Ports {
		if p.ID == portID {
			c.indexPort(netID, p, false)
			removed = p.Clone()
		}
	}
	n.Ports = removePort(n.Ports, portID)
	return removed
}

func removePort(ports []*model.Port, id string) []*model.Port {
	out := ports[:0]
	for _, p := range ports {
		if p.ID != id {
			out = append(out, p)
		}
	}
	for i := len(out); i < len(ports); i++ {
		ports[i] = nil
	}
	return out
}

// isStale reports whether a port update is older than what is cached: a
// greater cached revision_number, or a port deleted in the last 24 h.
func (c *cache) isStale(p *model.Port) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	for id, t := range c.deleted {
		if now.Sub(t) > deletedPortMemory {
			delete(c.deleted, id)
		}
	}
	if _, ok := c.deleted[p.ID]; ok {
		return true
	}
	netID, ok := c.ports[p.ID]
	if !ok {
		return false
	}
	for _, q := range c.networks[netID].Ports {
		if q.ID == p.ID {
			return q.RevisionNumber > p.RevisionNumber
		}
	}
	return false
}

// counts returns the numbers reported in the agent state: networks,
// subnets (including non-local) and ports.
func (c *cache) counts() (networks, subnets, ports int) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	for _, n := range c.networks {
		networks++
		subnets += len(n.Subnets) + len(n.NonLocalSubnets)
		ports += len(n.Ports)
	}
	return
}

// portIDs returns the ids of every cached port.
func (c *cache) portIDs() []string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return slices.Sorted(maps.Keys(c.ports))
}
