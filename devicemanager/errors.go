package devicemanager

import (
	"errors"
	"fmt"
)

// SubnetMismatchError is neutron's SubnetMismatchForPort: the server gave the
// DHCP port no IP on a DHCP-enabled subnet, even when asked again. The agent
// schedules a resync of the network.
type SubnetMismatchError struct {
	PortID   string
	SubnetID string // the first subnet still missing
}

func (e *SubnetMismatchError) Error() string {
	return fmt.Sprintf("DHCP port %s has no IP on subnet %s", e.PortID, e.SubnetID)
}

// ConflictError is neutron's Conflict during setup_dhcp_port: the server
// refused to update our DHCP port, or no port could be created or adopted.
type ConflictError struct {
	NetworkID string
	PortID    string
	Reason    string
}

func (e *ConflictError) Error() string {
	if e.PortID != "" {
		return fmt.Sprintf("network %s, DHCP port %s: %s", e.NetworkID, e.PortID, e.Reason)
	}
	return fmt.Sprintf("network %s: %s", e.NetworkID, e.Reason)
}

// ErrPlug marks (wrapped) a failure to plug the DHCP port's device. Setup has
// already unplugged it; neutron then releases the DHCP port
// (release_dhcp_port), which is the caller's job.
var ErrPlug = errors.New("plug failed")
