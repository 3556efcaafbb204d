package filesource

import (
	"context"

	"qdhcp/model"
)

// GetActiveNetworksInfo: see memory.Server.GetActiveNetworksInfo.
func (s *Source) GetActiveNetworksInfo(ctx context.Context, enableDHCPFilter bool) ([]*model.Network, error) {
	return s.mem.GetActiveNetworksInfo(ctx, enableDHCPFilter)
}

// GetNetworkInfo: see memory.Server.GetNetworkInfo.
func (s *Source) GetNetworkInfo(ctx context.Context, networkID string) (*model.Network, error) {
	return s.mem.GetNetworkInfo(ctx, networkID)
}

// CreateDHCPPort allocates the port (see memory.Server.CreateDHCPPort) and
// persists it.
func (s *Source) CreateDHCPPort(ctx context.Context, req model.PortRequest) (*model.Port, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, err := s.mem.CreateDHCPPort(ctx, req)
	if p != nil {
		s.own(p)
	}
	return p, err
}

// UpdateDHCPPort updates the port (see memory.Server.UpdateDHCPPort) and
// persists the result, which from then on overrides a port of the same id
// in the user's file.
func (s *Source) UpdateDHCPPort(ctx context.Context, portID string, req model.PortRequest) (*model.Port, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, err := s.mem.UpdateDHCPPort(ctx, portID, req)
	if p != nil {
		s.own(p)
	}
	return p, err
}

// ReleaseDHCPPort deletes the network's ports with that device id and
// their persisted state. A port declared in the user's file comes back on
// the file's next load.
func (s *Source) ReleaseDHCPPort(ctx context.Context, networkID, deviceID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.mem.ReleaseDHCPPort(ctx, networkID, deviceID); err != nil {
		return err
	}
	owned := s.owned[networkID]
	kept := owned[:0:0]
	for _, p := range owned {
		if p.DeviceID != deviceID {
			kept = append(kept, p)
		}
	}
	if len(kept) != len(owned) {
		s.owned[networkID] = kept
		if len(kept) == 0 {
			delete(s.owned, networkID)
		}
		s.saveState(networkID)
	}
	return nil
}

// GetDHCPPort: see memory.Server.GetDHCPPort.
func (s *Source) GetDHCPPort(ctx context.Context, portID string) (*model.Port, error) {
	return s.mem.GetDHCPPort(ctx, portID)
}

// DHCPReadyOnPorts: see memory.Server.DHCPReadyOnPorts.
func (s *Source) DHCPReadyOnPorts(ctx context.Context, portIDs []string) error {
	return s.mem.DHCPReadyOnPorts(ctx, portIDs)
}

// own records p as created or changed through the RPC and persists its
// network's owned ports. s.mu must be held.
func (s *Source) own(p *model.Port) {
	id := p.NetworkID
	ports := s.owned[id]
	for i, o := range ports {
		if o.ID == p.ID {
			ports[i] = p.Clone()
			s.saveState(id)
			return
		}
	}
	s.owned[id] = append(ports, p.Clone())
	s.saveState(id)
}
