package devicemanager

import (
	"context"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"qdhcp/source/memory"
)

// TestSetupDHCPPortAgainstMemoryServer runs SetupDHCPPort against the
// in-memory neutron-server (source/memory) for the three goldens whose DHCP
// port needs the server, and compares the RPC calls and the resulting
// addresses with neutron's.
func TestSetupDHCPPortAgainstMemoryServer(t *testing.T) {
	for _, name := range []string{"new_dhcp_port_created", "reserved_dhcp_port", "dhcp_port_missing_subnet"} {
		t.Run(name, func(t *testing.T) {
			golden := loadGolden(t, filepath.Join(goldenDir, name))
			id, _ := serverIdentity(golden)
			srv := memory.New(testHost, memory.WithPortIDs(func(string) string { return id }))
			fixture := loadFixture(t, name)
			srv.Put(fixture)
			net := srv.Network(fixture.ID)

			port, err := SetupDHCPPort(context.Background(), srv, testConf(), net)
			if err != nil {
				t.Fatal(err)
			}
			var rpc, want []action
			for _, c := range srv.Calls() {
				if c.ChangesPorts() {
					rpc = append(rpc, c.Action())
				}
			}
			var l3 action
			for _, a := range golden {
				if strings.HasPrefix(a["op"].(string), "rpc.") {
					want = append(want, a)
				}
				if a["op"] == "driver.init_l3" {
					l3 = a
				}
			}
			if g, w := normalize(t, rpc), normalize(t, want); !reflect.DeepEqual(g, w) {
				t.Fatalf("RPC calls\n got %v\nwant %v", g, w)
			}
			var cidrs []any
			for _, p := range NewPlan(testConf(), net, port, true).Addresses {
				cidrs = append(cidrs, p.String())
			}
			if !reflect.DeepEqual(cidrs, l3["ip_cidrs"]) {
				t.Fatalf("addresses %v, neutron %v", cidrs, l3["ip_cidrs"])
			}

			// a second run on the server's new view needs no RPC at all
			before := len(srv.Calls())
			if _, err := SetupDHCPPort(context.Background(), srv, testConf(), srv.Network(fixture.ID)); err != nil {
				t.Fatal(err)
			}
			if calls := srv.Calls()[before:]; len(calls) != 0 {
				t.Fatalf("second setup called %v", calls)
			}
		})
	}
}
