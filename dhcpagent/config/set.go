package config

import (
	"errors"
	"fmt"
	"strings"
)

// ErrUnknownOption is returned by Set for an option qdhcp does not read.
var ErrUnknownOption = errors.New("unknown option")

// Set applies one option as if it were read from a configuration file:
// section is the group ("DEFAULT" or "" for [DEFAULT], "AGENT", "OVS",
// "oslo_messaging_rabbit"; matched like oslo.config does), key the exact
// option name. A key written "AGENT.report_interval" with an empty section
// names the group itself (the fixtures' _conf form). $option references in
// value are substituted from the current values; setting state_path moves the
// options still at their $state_path default. Set does not cross-check
// options: call Validate once everything is set.
func (c *Config) Set(section, key, value string) error {
	if section == "" {
		section = GroupDefault
		if g, k, ok := strings.Cut(key, "."); ok {
			section, key = g, k
		}
	}
	o, _ := lookupOption(section, key)
	if o == nil {
		return fmt.Errorf("config: [%s] %s: %w", section, key, ErrUnknownOption)
	}
	v, err := interpolate(value, o.group, func(ref *option) (string, error) {
		return ref.format(c), nil
	})
	if err == nil {
		err = o.assign(c, v)
	}
	if err != nil {
		return fmt.Errorf("config: [%s] %s: %w", section, key, err)
	}
	c.explicit(o)
	return nil
}

// explicit records that o was set by the operator and re-derives what
// depends on it.
func (c *Config) explicit(o *option) {
	switch o.optKey {
	case optKey{GroupDefault, "state_path"}:
		c.ExpandStatePath()
	case optKey{GroupDefault, "dhcp_confs"}:
		c.dhcpConfsDerived = false
	case optKey{GroupDefault, "external_pids"}:
		c.externalPidsDerived = false
	case optKey{GroupDefault, "metadata_proxy_socket"}:
		c.metadataSocketDerived = false
	case optKey{GroupOVS, "integration_bridge"}:
		c.ovsBridgeExplicit = true
	case optKey{GroupDefault, "transport_url"}:
		c.transportURLExplicit = true
	case optKey{GroupDefault, "ovs_integration_bridge"}:
		// the deprecated [DEFAULT] name stands for [OVS] integration_bridge
		// unless that one is set explicitly
		if !c.ovsBridgeExplicit {
			c.OVS.IntegrationBridge = c.OVSIntegrationBridge
		}
	}
}
