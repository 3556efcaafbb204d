package devicemanager

import (
	"context"
	"errors"
	"fmt"

	"qdhcp/model"
)

// Destroy tears the network's DHCP device down in neutron's order: unplug
// devName (its OVS port, via OVSDB), release the DHCP port on the server
// when plugin is not nil (release_dhcp_port with this agent's device id),
// then unplug whatever else is left in the namespace and delete the
// namespace. Processes still running inside (dnsmasq, haproxy) must be
// stopped before. Every step runs even when an earlier one failed; the
// errors are joined.
func (m *Manager) Destroy(ctx context.Context, networkID, devName string, plugin model.PluginAPI) error {
	defer m.lock(networkID)()
	m.setLive(networkID, false)
	ns := NamespaceName(networkID)
	var errs []error
	exists := namespaceExists(ns)
	if devName != "" {
		if exists {
			h, err := nsHandle(ns)
			if err != nil {
				errs = append(errs, err)
			} else {
				errs = append(errs, m.unplug(ctx, h, ns, devName))
				h.Close()
			}
		} else {
			errs = append(errs, m.unplug(ctx, nil, ns, devName))
		}
	}
	if plugin != nil {
		if err := plugin.ReleaseDHCPPort(ctx, networkID, model.DHCPDeviceID(m.conf.Host, networkID)); err != nil {
			errs = append(errs, fmt.Errorf("release_dhcp_port: %w", err))
		}
	}
	if exists {
		if h, err := nsHandle(ns); err == nil {
			errs = append(errs, m.cleanupStaleDevices(ctx, h, ns, ""))
			h.Close()
		}
	}
	// also removes a /run/netns file left unmounted by an agent killed
	// while creating the namespace
	errs = append(errs, deleteNamespace(ns))
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("destroy DHCP device of network %s: %w", networkID, err)
	}
	return nil
}
