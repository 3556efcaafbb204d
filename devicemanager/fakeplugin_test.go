package devicemanager

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"sync"

	"qdhcp/model"
)

// rpcCall is one recorded PluginAPI call, with neutron's kwarg names.
type rpcCall struct {
	Method string
	Args   map[string]any
}

// fakePlugin is a small in-memory server side: it records every call and
// answers create/update/get like neutron-server would for the network it
// holds (IPs allocated first-free, SLAAC addresses from the MAC).
type fakePlugin struct {
	mu    sync.Mutex
	calls []rpcCall
	host  string
	net   *model.Network // the server's view; ports are updated in it

	// identity of the next port the server creates
	nextPortID, nextMAC string

	// hooks to simulate a refusing or forgetful server
	refuseUpdate  bool                                 // update_dhcp_port returns nil
	dropOnUpdate  map[string]bool                      // subnets the server "forgets" to allocate
	getDHCPPortFn func(id string) (*model.Port, error) // overrides get_dhcp_port
}

func newFakePlugin(host string, net *model.Network) *fakePlugin {
	return &fakePlugin{host: host, net: net.Clone()}
}

func (f *fakePlugin) record(method string, args map[string]any) {
	f.calls = append(f.calls, rpcCall{Method: method, Args: args})
}

func (f *fakePlugin) methods() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, c := range f.calls {
		out = append(out, c.Method)
	}
	return out
}

// portBody renders a PortRequest the way it goes on the wire: {"port": {...}}.
func portBody(req model.PortRequest) map[string]any {
	b, _ := json.Marshal(map[string]any{"port": req})
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return m
}

func (f *fakePlugin) GetActiveNetworksInfo(ctx context.Context, filter bool) ([]*model.Network, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("get_active_networks_info", map[string]any{"host": f.host, "enable_dhcp_filter": filter})
	return []*model.Network{f.net.Clone()}, nil
}

func (f *fakePlugin) GetNetworkInfo(ctx context.Context, id string) (*model.Network, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("get_network_info", map[string]any{"network_id": id, "host": f.host})
	if id != f.net.ID {
		return nil, nil
	}
	return f.net.Clone(), nil
}

func (f *fakePlugin) CreateDHCPPort(ctx context.Context, req model.PortRequest) (*model.Port, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("create_dhcp_port", map[string]any{"port": portBody(req), "host": f.host})
	up := true
	p := &model.Port{
		ID: f.nextPortID, NetworkID: req.NetworkID, MACAddress: f.nextMAC, AdminStateUp: &up,
		DeviceID: req.DeviceID, DeviceOwner: model.OwnerDHCP, ProjectID: req.ProjectID, BindingHostID: f.host,
	}
	var err error
	if p.FixedIPs, err = f.allocate(p, req.FixedIPs); err != nil {
		return nil, err
	}
	f.net.Ports = append(f.net.Ports, p)
	return p.Clone(), nil
}

func (f *fakePlugin) UpdateDHCPPort(ctx context.Context, id string, req model.PortRequest) (*model.Port, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("update_dhcp_port", map[string]any{"port_id": id, "port": portBody(req), "host": f.host})
	if f.refuseUpdate {
		return nil, nil
	}
	p := f.net.Port(id)
	if p == nil {
		return nil, fmt.Errorf("port %s: %w", id, model.ErrNotFound)
	}
	if req.DeviceID != "" {
		p.DeviceID = req.DeviceID
	}
	if req.FixedIPs != nil {
		ips, err := f.allocate(p, req.FixedIPs)
		if err != nil {
			return nil, err
		}
		p.FixedIPs = ips
	}
	return p.Clone(), nil
}

func (f *fakePlugin) ReleaseDHCPPort(ctx context.Context, netID, deviceID string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("release_dhcp_port", map[string]any{"network_id": netID, "device_id": deviceID, "host": f.host})
	kept := f.net.Ports[:0]
	for _, p := range f.net.Ports {
		if p.DeviceID != deviceID {
			kept = append(kept, p)
		}
	}
	f.net.Ports = kept
	return nil
}

func (f *fakePlugin) GetDHCPPort(ctx context.Context, id string) (*model.Port, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("get_dhcp_port", map[string]any{"port_id": id})
	if f.getDHCPPortFn != nil {
		return f.getDHCPPortFn(id)
	}
	p := f.net.Port(id)
	if p == nil {
		return nil, fmt.Errorf("port %s: %w", id, model.ErrNotFound)
	}
	return p.Clone(), nil
}

func (f *fakePlugin) DHCPReadyOnPorts(ctx context.Context, ids []string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("dhcp_ready_on_ports", map[string]any{"port_ids": ids})
	return nil
}

// allocate fills in the IP of every {subnet_id} request: the EUI-64 address
// on SLAAC/stateless subnets, else the first free host address after the
// gateway.
func (f *fakePlugin) allocate(p *model.Port, req []model.FixedIP) ([]model.FixedIP, error) {
	used := map[netip.Addr]bool{}
	for _, q := range f.net.Ports {
		for _, ip := range q.FixedIPs {
			used[ip.Addr()] = true
		}
	}
	var out []model.FixedIP
	for _, r := range req {
		if r.IPAddress != "" {
			out = append(out, r)
			continue
		}
		if f.dropOnUpdate[r.SubnetID] {
			continue
		}
		s := f.net.Subnet(r.SubnetID)
		if s == nil {
			return nil, fmt.Errorf("subnet %s: %w", r.SubnetID, model.ErrNotFound)
		}
		if s.IsAutoAddress() {
			out = append(out, model.FixedIP{SubnetID: s.ID, IPAddress: eui64(s.Prefix(), p.MACAddress).String()})
			continue
		}
		a := s.Prefix().Addr().Next()
		for ; s.Prefix().Contains(a); a = a.Next() {
			if a != s.Gateway() && !used[a] {
				break
			}
		}
		used[a] = true
		out = append(out, model.FixedIP{SubnetID: s.ID, IPAddress: a.String()})
	}
	return out, nil
}

// eui64 is the SLAAC address of mac in a /64.
func eui64(pfx netip.Prefix, mac string) netip.Addr {
	var m [6]byte
	fmt.Sscanf(mac, "%02x:%02x:%02x:%02x:%02x:%02x", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5])
	b := pfx.Addr().As16()
	b[8], b[9], b[10], b[11] = m[0]^2, m[1], m[2], 0xff
	b[12], b[13], b[14], b[15] = 0xfe, m[3], m[4], m[5]
	return netip.AddrFrom16(b)
}
