package memory

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"testing"

	"qdhcp/model"
)

// The reference goldens (copied from neutron runs into testdata/) record
// the agent's port RPCs and what it then plugged and addressed. Replaying
// the recorded request against this server must give the same port: id
// (injected where the reference server chose it), MAC and addresses, and
// the recorded call must read back as the golden's action.
func TestGoldenDHCPPortRPC(t *testing.T) {
	for _, c := range []struct {
		name   string
		portID string // id the reference server gave a created port
	}{
		{"new_dhcp_port_created", "1fc11d08-31e2-5965-8252-99cfe7895340"},
		{"reserved_dhcp_port", ""},
		{"dhcp_port_missing_subnet", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", "fixtures", c.name+".json"))
			if err != nil {
				t.Fatal(err)
			}
			net, err := model.DecodeNetwork(data)
			if err != nil {
				t.Fatal(err)
			}
			var actions []map[string]any
			readJSON(t, filepath.Join("testdata", "golden", c.name, "actions.json"), &actions)
			s := New(testHost, WithPortIDs(func(string) string { return c.portID }))
			s.Put(net)

			var port *model.Port
			var rpc map[string]any
			for _, a := range actions {
				op, _ := a["op"].(string)
				if op != "rpc.create_dhcp_port" && op != "rpc.update_dhcp_port" {
					continue
				}
				rpc = a
				var req struct {
					Port model.PortRequest `json:"port"`
				}
				remarshal(t, a["port"], &req)
				if op == "rpc.create_dhcp_port" {
					port, err = s.CreateDHCPPort(context.Background(), req.Port)
				} else {
					port, err = s.UpdateDHCPPort(context.Background(), a["port_id"].(string), req.Port)
				}
				if err != nil || port == nil {
					t.Fatalf("%s: %v, %v", op, port, err)
				}
			}
			if rpc == nil {
				t.Fatal("golden has no port RPC")
			}
			calls := s.Calls()
			if got := calls[len(calls)-1].Action(); !reflect.DeepEqual(got, rpc) {
				t.Fatalf("recorded %v\ngolden   %v", got, rpc)
			}
			plug := find(actions, "driver.plug")
			mustEqual(t, "port id", port.ID, plug["port_id"].(string))
			mustEqual(t, "mac", port.MACAddress, plug["mac_address"].(string))
			var cidrs []string
			for _, f := range port.FixedIPs {
				sn := net.Subnet(f.SubnetID)
				if sn.EnableDHCP {
					cidrs = append(cidrs, f.IPAddress+"/"+strconv.Itoa(sn.Prefix().Bits()))
				}
			}
			var want []string
			remarshal(t, find(actions, "driver.init_l3")["ip_cidrs"], &want)
			if !reflect.DeepEqual(cidrs, want) {
				t.Fatalf("addresses %v, golden init_l3 %v", cidrs, want)
			}
		})
	}
}

func find(actions []map[string]any, op string) map[string]any {
	for _, a := range actions {
		if a["op"] == op {
			return a
		}
	}
	return map[string]any{}
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func remarshal(t *testing.T, in, out any) {
	t.Helper()
	b, err := json.Marshal(in)
	if err == nil {
		err = json.Unmarshal(b, out)
	}
	if err != nil {
		t.Fatal(err)
	}
}
