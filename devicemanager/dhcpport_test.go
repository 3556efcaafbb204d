package devicemanager

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"qdhcp/dhcpagent/config"
	"qdhcp/model"
)

const testHost = "network-node-1"

func testConf() *config.Config {
	c := config.Defaults()
	c.Host = testHost
	return c
}

func loadFixture(t *testing.T, name string) *model.Network {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", "devicemanager", "fixtures", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	n, err := model.DecodeNetwork(b)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return n
}

func TestSetupDHCPPortExistingUnchanged(t *testing.T) {
	net := loadFixture(t, "v4_single_gateway")
	fp := newFakePlugin(testHost, net)
	port, err := SetupDHCPPort(context.Background(), fp, testConf(), net)
	if err != nil {
		t.Fatal(err)
	}
	if m := fp.methods(); len(m) != 0 {
		t.Fatalf("no RPC expected for an up-to-date port, got %v", m)
	}
	if port.ID != "dfb05f78-87d2-51a6-959d-fbcdd510dfb4" || net.Port(port.ID) != port {
		t.Fatalf("port %s not the own port placed in net.Ports", port.ID)
	}
}

func TestSetupDHCPPortExistingMissingSubnet(t *testing.T) {
	net := loadFixture(t, "dhcp_port_missing_subnet")
	before := len(net.Ports)
	fp := newFakePlugin(testHost, net)
	port, err := SetupDHCPPort(context.Background(), fp, testConf(), net)
	if err != nil {
		t.Fatal(err)
	}
	if m := fp.methods(); !reflect.DeepEqual(m, []string{"update_dhcp_port"}) {
		t.Fatalf("calls %v", m)
	}
	body := fp.calls[0].Args["port"].(map[string]any)["port"].(map[string]any)
	want := []any{
		map[string]any{"subnet_id": "b372fbe2-117d-5cea-a8c0-f2726ab74189", "ip_address": "10.182.0.2"},
		map[string]any{"subnet_id": "85315bf8-ce37-56af-96e5-8762d28a2841"},
	}
	if !reflect.DeepEqual(body["fixed_ips"], want) || body["network_id"] != net.ID || len(body) != 2 {
		t.Fatalf("update body %v", body)
	}
	// the IP on the DHCP-disabled subnet 10.184.0.0/24 is gone; the new one is kept
	if got := port.SubnetIDs(); len(got) != 2 || !got["85315bf8-ce37-56af-96e5-8762d28a2841"] {
		t.Fatalf("fixed IPs %v", port.FixedIPs)
	}
	if len(net.Ports) != before || net.Port(port.ID) != port {
		t.Fatal("port not replaced in place")
	}
}

func TestSetupDHCPPortReserved(t *testing.T) {
	net := loadFixture(t, "reserved_dhcp_port")
	fp := newFakePlugin(testHost, net)
	port, err := SetupDHCPPort(context.Background(), fp, testConf(), net)
	if err != nil {
		t.Fatal(err)
	}
	if m := fp.methods(); !reflect.DeepEqual(m, []string{"update_dhcp_port"}) {
		t.Fatalf("calls %v", m)
	}
	c := fp.calls[0]
	body := c.Args["port"].(map[string]any)["port"].(map[string]any)
	if c.Args["port_id"] != "63951a0a-24c2-58f0-9a39-053f6ef1b31f" || body["device_id"] != model.DHCPDeviceID(testHost, net.ID) || len(body) != 2 {
		t.Fatalf("adopt call %v", c.Args)
	}
	if port.DeviceID != model.DHCPDeviceID(testHost, net.ID) || net.Port(port.ID).DeviceID != port.DeviceID {
		t.Fatalf("adopted port %+v", port)
	}
}

func TestSetupDHCPPortReservedRefusedThenCreate(t *testing.T) {
	net := loadFixture(t, "reserved_dhcp_port")
	fp := newFakePlugin(testHost, net)
	fp.refuseUpdate = true
	fp.nextPortID, fp.nextMAC = "11111111-2222-3333-4444-555555555555", "fa:16:3e:00:00:77"
	port, err := SetupDHCPPort(context.Background(), fp, testConf(), net)
	if err != nil {
		t.Fatal(err)
	}
	if m := fp.methods(); !reflect.DeepEqual(m, []string{"update_dhcp_port", "create_dhcp_port"}) {
		t.Fatalf("calls %v", m)
	}
	if port.ID != fp.nextPortID || net.Ports[len(net.Ports)-1] != port {
		t.Fatal("created port not appended")
	}
}

func TestSetupDHCPPortCreate(t *testing.T) {
	net := loadFixture(t, "new_dhcp_port_created")
	fp := newFakePlugin(testHost, net)
	fp.nextPortID, fp.nextMAC = "1fc11d08-31e2-5965-8252-99cfe7895340", "fa:16:3e:1f:c1:1d"
	port, err := SetupDHCPPort(context.Background(), fp, testConf(), net)
	if err != nil {
		t.Fatal(err)
	}
	c := fp.calls[0]
	body := c.Args["port"].(map[string]any)["port"].(map[string]any)
	want := map[string]any{
		"name": "", "admin_state_up": true, "device_id": model.DHCPDeviceID(testHost, net.ID),
		"network_id": net.ID, "project_id": "a1b2c3d4e5f60718293a4b5c6d7e8f90",
		"fixed_ips": []any{
			map[string]any{"subnet_id": "6630ec4b-7b3e-5a85-8cb3-5d2b44bb8170"},
			map[string]any{"subnet_id": "bbdef060-1de9-5fda-b726-a75a51a94fa4"},
		},
	}
	if c.Method != "create_dhcp_port" || !reflect.DeepEqual(body, want) {
		t.Fatalf("create %s %v", c.Method, body)
	}
	if len(port.FixedIPs) != 2 {
		t.Fatalf("fixed IPs %v", port.FixedIPs)
	}
}

func TestSetupDHCPPortMismatch(t *testing.T) {
	net := loadFixture(t, "dhcp_port_missing_subnet")
	fp := newFakePlugin(testHost, net)
	fp.dropOnUpdate = map[string]bool{"85315bf8-ce37-56af-96e5-8762d28a2841": true}
	_, err := SetupDHCPPort(context.Background(), fp, testConf(), net)
	var sm *SubnetMismatchError
	if !errors.As(err, &sm) || sm.SubnetID != "85315bf8-ce37-56af-96e5-8762d28a2841" {
		t.Fatalf("want SubnetMismatchError, got %v", err)
	}
	if m := fp.methods(); !reflect.DeepEqual(m, []string{"update_dhcp_port", "get_dhcp_port"}) {
		t.Fatalf("calls %v", m)
	}
}

func TestSetupDHCPPortMismatchHealedByGet(t *testing.T) {
	net := loadFixture(t, "dhcp_port_missing_subnet")
	fp := newFakePlugin(testHost, net)
	fp.dropOnUpdate = map[string]bool{"85315bf8-ce37-56af-96e5-8762d28a2841": true}
	fp.getDHCPPortFn = func(id string) (*model.Port, error) {
		p := fp.net.Port(id).Clone()
		p.FixedIPs = append(p.FixedIPs, model.FixedIP{SubnetID: "85315bf8-ce37-56af-96e5-8762d28a2841", IPAddress: "10.183.0.7"})
		return p, nil
	}
	port, err := SetupDHCPPort(context.Background(), fp, testConf(), net)
	if err != nil {
		t.Fatal(err)
	}
	if !port.SubnetIDs()["85315bf8-ce37-56af-96e5-8762d28a2841"] {
		t.Fatalf("refetched port not used: %v", port.FixedIPs)
	}
}

func TestSetupDHCPPortUpdateRefused(t *testing.T) {
	net := loadFixture(t, "dhcp_port_missing_subnet")
	fp := newFakePlugin(testHost, net)
	fp.refuseUpdate = true
	_, err := SetupDHCPPort(context.Background(), fp, testConf(), net)
	var ce *ConflictError
	if !errors.As(err, &ce) {
		t.Fatalf("want ConflictError, got %v", err)
	}
	// neutron does not fall through to reserved/new once its own port exists
	if m := fp.methods(); !reflect.DeepEqual(m, []string{"update_dhcp_port"}) {
		t.Fatalf("calls %v", m)
	}
}

func TestSetupDHCPPortCreateFails(t *testing.T) {
	net := loadFixture(t, "new_dhcp_port_created")
	fp := newFakePlugin(testHost, net)
	fp.nextPortID, fp.nextMAC = "1fc11d08-31e2-5965-8252-99cfe7895340", "fa:16:3e:1f:c1:1d"
	fp.dropOnUpdate = map[string]bool{} // create allocates everything
	// a server that answers create with nil: Conflict
	_, err := SetupDHCPPort(context.Background(), nilCreate{fp}, testConf(), net)
	var ce *ConflictError
	if !errors.As(err, &ce) {
		t.Fatalf("want ConflictError, got %v", err)
	}
}

type nilCreate struct{ *fakePlugin }

func (n nilCreate) CreateDHCPPort(ctx context.Context, req model.PortRequest) (*model.Port, error) {
	n.fakePlugin.record("create_dhcp_port", nil)
	return nil, nil
}
