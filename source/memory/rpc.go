package memory

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"qdhcp/model"
)

// GetActiveNetworksInfo returns the admin-up networks, sorted by id, with
// all their subnets, or only the enable_dhcp ones when enableDHCPFilter.
func (s *Server) GetActiveNetworksInfo(ctx context.Context, enableDHCPFilter bool) ([]*model.Network, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.record("get_active_networks_info", map[string]any{"host": s.host, "enable_dhcp_filter": enableDHCPFilter})
	out := make([]*model.Network, 0, len(s.nets))
	for _, n := range s.nets {
		if n.IsAdminUp() {
			out = append(out, view(n, enableDHCPFilter))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// GetNetworkInfo returns the network with only its enable_dhcp subnets (as
// servers from RPC version 1.9 do), or nil, nil when unknown.
func (s *Server) GetNetworkInfo(ctx context.Context, networkID string) (*model.Network, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.record("get_network_info", map[string]any{"host": s.host, "network_id": networkID})
	n := s.nets[networkID]
	if n == nil {
		return nil, nil
	}
	return view(n, true), nil
}

// CreateDHCPPort creates a port with device_owner network:dhcp bound to
// this host: a new port id, a fa:16:3e MAC, and the requested fixed IPs
// (see assignIPs). It returns nil, nil where neutron returns None (unknown
// network or subnet, invalid address) and a *model.RemoteError where
// neutron raises (address in use, pool exhausted).
func (s *Server) CreateDHCPPort(ctx context.Context, req model.PortRequest) (*model.Port, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.record("create_dhcp_port", map[string]any{"host": s.host, "port": wire(map[string]any{"port": req})})
	n := s.nets[req.NetworkID]
	if n == nil {
		return nil, nil
	}
	p := &model.Port{
		ID:             s.newPortID(n.ID),
		NetworkID:      n.ID,
		ProjectID:      req.ProjectID,
		TenantID:       req.ProjectID,
		DeviceID:       req.DeviceID,
		DeviceOwner:    model.OwnerDHCP,
		BindingHostID:  s.host,
		Status:         "ACTIVE",
		RevisionNumber: 1,
	}
	if req.Name != nil {
		p.Name = *req.Name
	}
	if req.AdminStateUp != nil {
		v := *req.AdminStateUp
		p.AdminStateUp = &v
	}
	p.MACAddress = newMAC(n, p.ID)
	ips, err := assignIPs(n, p, req.FixedIPs)
	if err != nil {
		return nil, rpcError("create_dhcp_port", err)
	}
	p.FixedIPs = ips
	n.Ports = append(n.Ports, p)
	return p.Clone(), nil
}

// UpdateDHCPPort applies device_id and/or fixed_ips to a port. Like neutron
// it refuses (nil, nil) unless the port's current device_id is this host's
// DHCP device id for the request's network or reserved_dhcp_port. An
// unknown port is a PortNotFound *model.RemoteError (wrapping
// model.ErrNotFound).
func (s *Server) UpdateDHCPPort(ctx context.Context, portID string, req model.PortRequest) (*model.Port, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.record("update_dhcp_port", map[string]any{"host": s.host, "port_id": portID, "port": wire(map[string]any{"port": req})})
	n, i := s.findPort(portID)
	if n == nil {
		return nil, portNotFound(portID)
	}
	netID := req.NetworkID
	if netID == "" {
		netID = n.ID
	}
	old := n.Ports[i]
	if old.DeviceID != model.ReservedDHCPPortDeviceID && old.DeviceID != model.DHCPDeviceID(s.host, netID) {
		return nil, nil
	}
	if s.nets[netID] == nil {
		return nil, nil
	}
	p := old.Clone()
	if req.DeviceID != "" {
		p.DeviceID = req.DeviceID
	}
	if req.Name != nil {
		p.Name = *req.Name
	}
	if req.AdminStateUp != nil {
		v := *req.AdminStateUp
		p.AdminStateUp = &v
	}
	if req.FixedIPs != nil {
		ips, err := assignIPs(n, p, req.FixedIPs)
		if err != nil {
			return nil, rpcError("update_dhcp_port", err)
		}
		p.FixedIPs = ips
	}
	p.BindingHostID = s.host
	p.RevisionNumber++
	n.Ports[i] = p
	return p.Clone(), nil
}

// ReleaseDHCPPort deletes the ports of the network whose device_id is
// deviceID (none: nothing happens, as in neutron).
func (s *Server) ReleaseDHCPPort(ctx context.Context, networkID, deviceID string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.record("release_dhcp_port", map[string]any{"host": s.host, "network_id": networkID, "device_id": deviceID})
	n := s.nets[networkID]
	if n == nil {
		return nil
	}
	kept := n.Ports[:0]
	for _, p := range n.Ports {
		if p.DeviceID != deviceID {
			kept = append(kept, p)
		}
	}
	for i := len(kept); i < len(n.Ports); i++ {
		n.Ports[i] = nil
	}
	n.Ports = kept
	return nil
}

// GetDHCPPort returns the port, or a PortNotFound *model.RemoteError
// wrapping model.ErrNotFound.
func (s *Server) GetDHCPPort(ctx context.Context, portID string) (*model.Port, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.record("get_dhcp_port", map[string]any{"port_id": portID})
	n, i := s.findPort(portID)
	if n == nil {
		return nil, portNotFound(portID)
	}
	return n.Ports[i].Clone(), nil
}

// DHCPReadyOnPorts records the ids (see ReadyPorts).
func (s *Server) DHCPReadyOnPorts(ctx context.Context, portIDs []string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.record("dhcp_ready_on_ports", map[string]any{"port_ids": wire(portIDs)})
	s.ready = append(s.ready, portIDs...)
	return nil
}

// rpcError maps an allocation failure to neutron's answer: nil for the
// failures neutron swallows (the call returns None), a RemoteError for the
// ones it re-raises.
func rpcError(method string, err error) error {
	if errors.Is(err, errInvalid) {
		return nil
	}
	return &model.RemoteError{Class: remoteClass(err), Message: fmt.Sprintf("%s: %v", method, err)}
}

func portNotFound(id string) error {
	re := &model.RemoteError{Class: "neutron_lib.exceptions.PortNotFound", Message: "Port " + id + " could not be found."}
	return fmt.Errorf("%w (%w)", re, model.ErrNotFound)
}
