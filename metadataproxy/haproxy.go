// Package metadataproxy renders the haproxy that neutron's DHCP agent runs in
// a qdhcp- namespace to serve instance metadata on isolated networks: its
// configuration file and its argv, byte-identical to neutron (Zed). It is
// pure apart from the user/group name lookups (users.go).
package metadataproxy

import (
	"fmt"
	"qdhcp/internal/pypath"
	"strconv"
	"strings"

	"qdhcp/model"
)

// Port is the metadata port haproxy listens on.
const Port = 80

// ConfigDir is the directory under state_path holding the haproxy configs.
const ConfigDir = "ns-metadata-proxy"

// Config is one metadata proxy. Exactly one of NetworkID and RouterID is
// set: the proxy adds the X-Neutron-Network-ID (or -Router-ID) header.
type Config struct {
	NetworkID, RouterID string
	BindAddress         string // 169.254.169.254
	Port                int    // 80
	BindAddressV6       string // fe80::a9fe:a9fe, with BindInterface
	BindInterface       string // the DHCP tap (IPv6 link-local needs one)
	SocketPath          string // metadata_proxy_socket (the metadata agent)
	User, Group         string // names (see ResolveUser, ResolveGroup)
	StatePath           string // state_path
	ExternalPids        string // external_pids
	Debug               bool   // debug: haproxy logs at debug level
}

// UUID is the id the proxy runs under: the network id, or the router id.
func (c *Config) UUID() string {
	if c.NetworkID != "" {
		return c.NetworkID
	}
	return c.RouterID
}

// ConfigPath is <state_path>/ns-metadata-proxy/<uuid>.conf.
func (c *Config) ConfigPath() string {
	return pypath.Join(pypath.Join(c.StatePath, ConfigDir), c.UUID()+".conf")
}

// PidFile is <external_pids>/<uuid>.pid.haproxy (haproxy writes it: the
// pidfile line of its config).
func (c *Config) PidFile() string {
	return pypath.Join(pypath.AbsNorm(c.ExternalPids), c.UUID()) + ".pid.haproxy"
}

// Argv is haproxy's command line: haproxy -f <config>.
func (c *Config) Argv() []string {
	return []string{"haproxy", "-f", c.ConfigPath()}
}

// Render returns the haproxy configuration file. It refuses ids that are not
// UUIDs (they name files) and values that would break a config line.
func (c *Config) Render() ([]byte, error) {
	if err := c.check(); err != nil {
		return nil, err
	}
	level := "info"
	if c.Debug {
		level = "debug"
	}
	resType, resDel := "Network", "Router"
	if c.NetworkID == "" {
		resType, resDel = "Router", "Network"
	}
	bindV6 := ""
	if c.BindAddressV6 != "" && c.BindInterface != "" {
		bindV6 = "bind " + c.BindAddressV6 + ":" + strconv.Itoa(c.Port) + " interface " + c.BindInterface
	}
	var b strings.Builder
	b.WriteString("\nglobal\n")
	b.WriteString("    log         /dev/log local0 " + level + "\n")
	b.WriteString("    log-tag     haproxy-metadata-proxy-" + c.UUID() + "\n")
	b.WriteString("    user        " + c.User + "\n")
	b.WriteString("    group       " + c.Group + "\n")
	b.WriteString("    maxconn     1024\n")
	b.WriteString("    pidfile     " + c.PidFile() + "\n")
	b.WriteString("    daemon\n")
	b.WriteString(defaults)
	b.WriteString("\nlisten listener\n")
	b.WriteString("    bind " + c.BindAddress + ":" + strconv.Itoa(c.Port) + "\n")
	b.WriteString("    " + bindV6 + "\n")
	b.WriteString("    server metadata " + c.SocketPath + "\n")
	b.WriteString("    http-request del-header X-Neutron-" + resDel + "-ID\n")
	b.WriteString("    http-request set-header X-Neutron-" + resType + "-ID " + c.UUID() + "\n")
	return []byte(b.String()), nil
}

const defaults = `
defaults
    log global
    mode http
    option httplog
    option dontlognull
    option http-server-close
    option forwardfor
    retries                 3
    timeout http-request    30s
    timeout connect         30s
    timeout client          32s
    timeout server          32s
    timeout http-keep-alive 30s
`

func (c *Config) check() error {
	if (c.NetworkID == "") == (c.RouterID == "") {
		return fmt.Errorf("metadata proxy: exactly one of network id and router id, got %q and %q", c.NetworkID, c.RouterID)
	}
	if !model.IsUUID(c.UUID()) {
		return fmt.Errorf("metadata proxy: id %q is not a UUID", c.UUID())
	}
	for _, f := range []struct{ name, v string }{
		{"bind address", c.BindAddress}, {"IPv6 bind address", c.BindAddressV6},
		{"bind interface", c.BindInterface}, {"metadata_proxy_socket", c.SocketPath},
		{"user", c.User}, {"group", c.Group}, {"state_path", c.StatePath},
		{"external_pids", c.ExternalPids},
	} {
		if strings.ContainsFunc(f.v, func(r rune) bool { return r < 0x20 || r == 0x7f || r == ' ' || r == '\t' }) {
			return fmt.Errorf("metadata proxy: %s %q contains white space or a control character", f.name, f.v)
		}
	}
	if c.User == "" || c.Group == "" || c.BindAddress == "" || c.SocketPath == "" {
		return fmt.Errorf("metadata proxy: bind address, socket, user and group are required")
	}
	return nil
}
