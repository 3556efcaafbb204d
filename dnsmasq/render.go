// Package dnsmasq renders what neutron's Dnsmasq DHCP driver writes for a
// network: the dhcp-hostsfile (host), the addn-hosts file, the
// dhcp-optsfile (opts), the initial leases file, the interface file and the
// dnsmasq argv, byte-identical to neutron-dhcp-agent (Zed).
//
// Rendering is pure: a function of the network, the configuration, the
// previous leases file and the clock. The only side effect in the package
// is the host-tag probe (probe.go), which runs dnsmasq once.
package dnsmasq

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"qdhcp/dhcpagent/config"
	"qdhcp/model"
)

// Env holds the facts about the machine that change neutron's output.
type Env struct {
	// HostTagSupport: dnsmasq accepts tag: in dhcp-host lines (see
	// SupportsHostTags); IPv6 host entries then carry "tag:dhcpv6,".
	HostTagSupport bool
	// IPv6Enabled: the kernel has IPv6 (see IPv6Enabled); the metadata
	// proxy then also binds fe80::a9fe:a9fe.
	IPv6Enabled bool
	// Now is the clock used for the initial lease expiry.
	Now time.Time
}

// Input is everything a rendering depends on.
type Input struct {
	// Network after DHCP port setup: the agent's DHCP port (device_id ==
	// model.DHCPDeviceID(conf.Host, net.ID)) is in Ports.
	Network *model.Network
	Conf    *config.Config
	Env     Env
	// DeviceName is the tap name (the interface file content). Empty means
	// the name derived from the DHCP port (model.DeviceName).
	DeviceName string
	// PrevLeases is the existing leases file content, nil if none.
	PrevLeases []byte
}

// Files is what the driver writes into <dhcp_confs>/<network-id>/ and the
// argv it spawns dnsmasq with. RenderReload leaves Leases and Argv nil.
type Files struct {
	Host, AddnHosts, Opts, Leases []byte
	Interface                     string
	Argv                          []string
}

// ErrNoDHCPPort is returned when the network lacks this agent's DHCP port.
var ErrNoDHCPPort = errors.New("network has no DHCP port for this host")

// ErrNoDHCPSubnet is returned for a network without any DHCP-enabled local
// subnet: neutron runs no dnsmasq for it (and tears down a running one).
var ErrNoDHCPSubnet = errors.New("network has no DHCP-enabled subnet")

// Render returns everything for a spawn: host, addn_hosts, opts, the initial
// leases file, the interface name and the dnsmasq argv.
func Render(in *Input) (*Files, error) {
	v, err := newView(in)
	if err != nil {
		return nil, err
	}
	leases := v.newLeaseWriter(in.PrevLeases)
	f := v.configFiles(leases)
	f.Leases = leases.b.Bytes()
	f.Argv = v.argv()
	return f, nil
}

// RenderReload returns what reload_allocations rewrites before its SIGHUP:
// host, addn_hosts and opts (and the interface name). The leases file is
// dnsmasq's own by then and the argv only changes on a (re)spawn.
func RenderReload(in *Input) (*Files, error) {
	v, err := newView(in)
	if err != nil {
		return nil, err
	}
	return v.configFiles(nil), nil
}

func (v *view) configFiles(leases *leaseWriter) *Files {
	host, addn := v.hostFiles(leases)
	return &Files{Host: host, AddnHosts: addn, Opts: v.optsFile(), Interface: v.iface}
}

// view is one rendering: the input plus the lookups every file needs.
type view struct {
	net  *model.Network
	conf *config.Config
	env  Env

	all        []*model.Subnet          // subnets + non_local_subnets
	byID       map[string]*model.Subnet // all subnets, a later duplicate wins
	v6ByID     map[string]*model.Subnet // v6_nets: the IPv6 ones
	dhcpIDs    map[string]bool          // ids of DHCP-enabled subnets (all)
	dupIDs     bool                     // a subnet id occurs twice
	dhcpPort   *model.Port              // this agent's DHCP port
	iface      string
	dnsDomain  string
	hostDHCPv6 string // "tag:dhcpv6," when host tags are supported
}

func newView(in *Input) (*view, error) {
	if in == nil || in.Network == nil || in.Conf == nil {
		return nil, errors.New("dnsmasq: render needs a network and a config")
	}
	n, c := in.Network, in.Conf
	if err := checkInput(n, c); err != nil {
		return nil, err
	}
	if !n.HasDHCPSubnet() {
		return nil, fmt.Errorf("network %s: %w", n.ID, ErrNoDHCPSubnet)
	}
	v := &view{net: n, conf: c, env: in.Env, dnsDomain: c.DNSDomain}
	v.all = n.AllSubnets()
	v.byID = make(map[string]*model.Subnet, len(v.all))
	v.v6ByID = make(map[string]*model.Subnet)
	v.dhcpIDs = make(map[string]bool, len(v.all))
	for _, s := range v.all {
		if _, dup := v.byID[s.ID]; dup {
			v.dupIDs = true
		}
		v.byID[s.ID] = s
		if s.IPVersion == 6 {
			v.v6ByID[s.ID] = s
		}
		if s.EnableDHCP {
			v.dhcpIDs[s.ID] = true
		}
	}
	devID := model.DHCPDeviceID(c.Host, n.ID)
	for _, p := range n.Ports {
		if p.DeviceID == devID {
			v.dhcpPort = p
			break
		}
	}
	if v.dhcpPort == nil {
		return nil, fmt.Errorf("%w (device_id %s); the agent creates one at setup", ErrNoDHCPPort, devID)
	}
	v.iface = in.DeviceName
	if model.HasControl(v.iface) || strings.ContainsAny(v.iface, "/, ") || len(v.iface) > 15 {
		return nil, fmt.Errorf("dnsmasq: invalid device name %q", v.iface)
	}
	if v.iface == "" {
		v.iface = model.DeviceName(c.DeviceNamePrefix(), v.dhcpPort.ID)
	}
	if in.Env.HostTagSupport {
		v.hostDHCPv6 = "tag:dhcpv6,"
	}
	return v, nil
}
