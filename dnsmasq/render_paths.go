package dnsmasq

import (
	"qdhcp/dhcpagent/config"
	"qdhcp/internal/pypath"
)

// Paths are the per-network files as neutron names them: under
// os.path.abspath(os.path.normpath(dhcp_confs)) + "/<network-id>/".
type Paths struct {
	Dir, Host, AddnHosts, Opts, Leases, Interface, Pid string
}

// ConfPaths returns the state files of a network for the configuration.
func ConfPaths(c *config.Config, networkID string) Paths {
	dir := pypath.Join(pypath.AbsNorm(c.DHCPConfs), networkID)
	return Paths{
		Dir:       dir,
		Host:      pypath.Join(dir, "host"),
		AddnHosts: pypath.Join(dir, "addn_hosts"),
		Opts:      pypath.Join(dir, "opts"),
		Leases:    pypath.Join(dir, "leases"),
		Interface: pypath.Join(dir, "interface"),
		Pid:       pypath.Join(dir, "pid"),
	}
}
