package dnsmasq

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"
)

var hostTagProbes sync.Map // dnsmasq path -> *hostTagProbe

type hostTagProbe struct {
	once sync.Once
	ok   bool
}

// SupportsHostTags reports whether the dnsmasq at dnsmasqPath (a name is
// looked up in PATH) accepts "tag:" in dhcp-host lines, by running
// `dnsmasq --test --dhcp-host=tag:foo` with LC_ALL=C, as neutron's
// dnsmasq_host_tag_support check does. The probe runs once per path per
// process; a dnsmasq that cannot be run counts as no support.
func SupportsHostTags(dnsmasqPath string) bool {
	v, _ := hostTagProbes.LoadOrStore(dnsmasqPath, &hostTagProbe{})
	p := v.(*hostTagProbe)
	p.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, dnsmasqPath, "--test", "--dhcp-host=tag:foo")
		cmd.Env = []string{"LC_ALL=C", "PATH=/sbin:/usr/sbin:/bin:/usr/bin"}
		p.ok = cmd.Run() == nil
	})
	return p.ok
}

// IPv6Enabled is oslo's is_ipv6_enabled: true when
// /proc/sys/net/ipv6/conf/default/disable_ipv6 exists and holds 0.
func IPv6Enabled() bool {
	return ipv6EnabledFrom("/proc/sys/net/ipv6/conf/default/disable_ipv6")
}

func ipv6EnabledFrom(path string) bool {
	b, err := os.ReadFile(path)
	return err == nil && strings.TrimSpace(string(b)) == "0"
}
