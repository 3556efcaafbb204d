package dnsmasq

import (
	"os"
	"strings"

	"qdhcp/dhcpagent/config"
)

// Paths are the per-network files as neutron names them: under
// os.path.abspath(os.path.normpath(dhcp_confs)) + "/<network-id>/".
type Paths struct {
	Dir, Host, AddnHosts, Opts, Leases, Interface, Pid string
}

// ConfPaths returns the state files of a network for the configuration.
func ConfPaths(c *config.Config, networkID string) Paths {
	dir := PyJoin(PyAbsNorm(c.DHCPConfs), networkID)
	return Paths{
		Dir:       dir,
		Host:      PyJoin(dir, "host"),
		AddnHosts: PyJoin(dir, "addn_hosts"),
		Opts:      PyJoin(dir, "opts"),
		Leases:    PyJoin(dir, "leases"),
		Interface: PyJoin(dir, "interface"),
		Pid:       PyJoin(dir, "pid"),
	}
}

// PyJoin joins two path parts like Python's os.path.join: no cleaning, an
// absolute second part replaces the first.
func PyJoin(a, b string) string {
	switch {
	case strings.HasPrefix(b, "/"), a == "":
		return b
	case strings.HasSuffix(a, "/"):
		return a + b
	}
	return a + "/" + b
}

// PyAbsNorm is Python's os.path.abspath(os.path.normpath(p)) (the form
// neutron gives dhcp_confs and external_pids).
func PyAbsNorm(p string) string {
	if !strings.HasPrefix(p, "/") {
		wd, err := os.Getwd()
		if err != nil {
			wd = "/"
		}
		p = PyJoin(wd, p)
	}
	return pyNormpath(p)
}

// pyNormpath is posixpath.normpath: it collapses separators and "." and
// resolves "..", keeping exactly two leading slashes (POSIX allows those
// to mean something else).
func pyNormpath(p string) string {
	if p == "" {
		return "."
	}
	lead := ""
	switch {
	case strings.HasPrefix(p, "//") && !strings.HasPrefix(p, "///"):
		lead = "//"
	case strings.HasPrefix(p, "/"):
		lead = "/"
	}
	var out []string
	for _, part := range strings.Split(p, "/") {
		switch {
		case part == "" || part == ".":
		case part != "..":
			out = append(out, part)
		case len(out) > 0 && out[len(out)-1] != "..":
			out = out[:len(out)-1]
		case lead == "":
			out = append(out, part)
		}
	}
	s := lead + strings.Join(out, "/")
	if s == "" {
		return "."
	}
	return s
}
