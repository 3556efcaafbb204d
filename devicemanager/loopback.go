package devicemanager

import (
	"fmt"
	"net"

	"github.com/vishvananda/netlink"
)

// loopbackUp sets lo up in the namespace, as neutron's ensure_namespace
// does: dnsmasq reaches itself over it (dhcp_release sends its DHCPRELEASE
// to the server's own address) and so does anything probing the proxy.
func loopbackUp(h *netlink.Handle) error {
	lo, err := h.LinkByName("lo")
	if err != nil {
		return fmt.Errorf("lo: %w", err)
	}
	if lo.Attrs().Flags&net.FlagUp != 0 {
		return nil
	}
	if err := h.LinkSetUp(lo); err != nil {
		return fmt.Errorf("set lo up: %w", err)
	}
	return nil
}
