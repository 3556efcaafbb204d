// Package memory is an in-memory neutron-server for one DHCP agent host: it
// holds networks and answers the DHCP RPC (model.PluginAPI) with
// neutron-server's semantics, allocating the agent's DHCP port like
// neutron's IPAM would. It records every call for tests and can emit the
// notifications neutron would cast when a network is put or deleted.
//
// Networks given to Put are stored as given (callers validate them, e.g.
// with model.DecodeNetwork). Ports changed through the RPC produce no
// notification: neutron's agent drops network:dhcp port events anyway.
package memory

import (
	"maps"
	"slices"
	"sort"
	"sync"

	"github.com/google/uuid"

	"qdhcp/model"
)

// Server is an in-memory neutron-server; it implements model.PluginAPI for
// one agent host. It is safe for concurrent use.
type Server struct {
	host      string
	newPortID func(networkID string) string

	mu    sync.Mutex // guards nets, calls, ready
	nets  map[string]*model.Network
	calls []Call
	ready []string

	putMu  sync.Mutex // serialises Put/Delete with their notifications
	notify model.NotificationFunc
}

var _ model.PluginAPI = (*Server)(nil)

// Option configures a Server.
type Option func(*Server)

// WithNotify sets the callback receiving the notifications of Put and
// Delete.
func WithNotify(fn model.NotificationFunc) Option {
	return func(s *Server) { s.notify = fn }
}

// WithPortIDs replaces the uuid4 generator of new port ids (e.g. to
// reproduce a golden's DHCP port id).
func WithPortIDs(fn func(networkID string) string) Option {
	return func(s *Server) { s.newPortID = fn }
}

// New returns an empty server for the agent on host (conf.host).
func New(host string, opts ...Option) *Server {
	s := &Server{
		host:      host,
		nets:      make(map[string]*model.Network),
		newPortID: func(string) string { return uuid.NewString() },
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Host returns the agent host the server answers for.
func (s *Server) Host() string { return s.host }

// SetNotify replaces the notification callback (nil: none).
func (s *Server) SetNotify(fn model.NotificationFunc) {
	s.putMu.Lock()
	defer s.putMu.Unlock()
	s.notify = fn
}

// Put stores a copy of n, replacing the network with the same id (subnets
// and ports without network_id get n's id, as the server always sends it),
// and
// sends the notifications for the difference (see Diff) to the callback,
// in order, before returning. The callback must not call Put or Delete.
func (s *Server) Put(n *model.Network) {
	s.putMu.Lock()
	defer s.putMu.Unlock()
	c := n.Clone()
	fillNetworkID(c)
	s.mu.Lock()
	old := s.nets[c.ID]
	s.nets[c.ID] = c
	s.mu.Unlock()
	s.emit(Diff(old, c))
}

// Delete removes the network; it reports whether it existed.
func (s *Server) Delete(id string) bool {
	s.putMu.Lock()
	defer s.putMu.Unlock()
	s.mu.Lock()
	old := s.nets[id]
	delete(s.nets, id)
	s.mu.Unlock()
	s.emit(Diff(old, nil))
	return old != nil
}

func fillNetworkID(n *model.Network) {
	for _, sn := range n.AllSubnets() {
		if sn.NetworkID == "" {
			sn.NetworkID = n.ID
		}
	}
	for _, p := range n.Ports {
		if p.NetworkID == "" {
			p.NetworkID = n.ID
		}
	}
}

func (s *Server) emit(notes []model.Notification) {
	if s.notify == nil {
		return
	}
	for _, n := range notes {
		s.notify(n)
	}
}

// Network returns a copy of the stored network with all its subnets and
// ports, or nil.
func (s *Server) Network(id string) *model.Network {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nets[id].Clone()
}

// NetworkIDs returns the ids of the stored networks, sorted.
func (s *Server) NetworkIDs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Sorted(maps.Keys(s.nets))
}

// view is the network as the RPC returns it: a copy with subnets and
// non-local subnets sorted by id, only enable_dhcp ones when dhcpOnly.
func view(n *model.Network, dhcpOnly bool) *model.Network {
	c := n.Clone()
	c.Subnets = subnetView(c.Subnets, dhcpOnly)
	c.NonLocalSubnets = subnetView(c.NonLocalSubnets, dhcpOnly)
	if c.Ports == nil {
		c.Ports = []*model.Port{}
	}
	return c
}

func subnetView(in []*model.Subnet, dhcpOnly bool) []*model.Subnet {
	out := make([]*model.Subnet, 0, len(in))
	for _, sn := range in {
		if !dhcpOnly || sn.EnableDHCP {
			out = append(out, sn)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// findPort returns the network holding the port and its index; s.mu held.
func (s *Server) findPort(id string) (*model.Network, int) {
	for _, n := range s.nets {
		for i, p := range n.Ports {
			if p.ID == id {
				return n, i
			}
		}
	}
	return nil, -1
}
