package dnsmasq

import (
	"strings"
	"testing"

	"qdhcp/model"
)

func TestShouldEnableMetadata(t *testing.T) {
	routed := func() *model.Network {
		return &model.Network{ID: tNet, Subnets: []*model.Subnet{v4(tS1, "10.1.0.0/24", "10.1.0.1")},
			Ports: []*model.Port{ourPort(tS1, "10.1.0.2"), port(tRtr, "fa:16:3e:00:00:01", model.OwnerRouterInterfaceDistrib, tS1, "10.1.0.1")}}
	}
	isolated := func() *model.Network {
		n := routed()
		n.Ports = n.Ports[:1]
		return n
	}
	v6only := &model.Network{ID: tNet, Subnets: []*model.Subnet{v6(tS2, "2001:db8::/64", "dhcpv6-stateful")}}
	meta := routed()
	meta.Subnets[0].CIDR, meta.Subnets[0].GatewayIP = "169.254.0.0/16", "169.254.0.1"
	meta.Ports[1].FixedIPs[0].IPAddress = "169.254.0.1"
	noDHCP := isolated()
	noDHCP.Subnets[0].EnableDHCP = false

	cases := []struct {
		name string
		n    *model.Network
		kv   []string
		want bool
	}{
		{"defaults", isolated(), nil, false},
		{"isolated", isolated(), []string{"enable_isolated_metadata", "true"}, true},
		{"routed", routed(), []string{"enable_isolated_metadata", "true"}, false},
		{"forced routed", routed(), []string{"force_metadata", "true"}, true},
		{"forced IPv6 only", v6only, []string{"force_metadata", "true"}, true},
		{"no DHCP subnet", noDHCP, []string{"force_metadata", "true"}, false},
		{"metadata network", meta, []string{"enable_isolated_metadata", "true", "enable_metadata_network", "true"}, true},
		{"metadata network, option off", meta, []string{"enable_isolated_metadata", "true"}, false},
	}
	for _, tc := range cases {
		if got := ShouldEnableMetadata(tc.n, testConf(t, tc.kv...)); got != tc.want {
			t.Errorf("%s: got %v want %v", tc.name, got, tc.want)
		}
	}
}

func TestMetadataProxy(t *testing.T) {
	base := func() *model.Network {
		return &model.Network{ID: tNet, Subnets: []*model.Subnet{v4(tS1, "10.1.0.0/24", "10.1.0.1")},
			Ports: []*model.Port{ourPort(tS1, "10.1.0.2")}}
	}
	c := testConf(t, "force_metadata", "true", "metadata_proxy_user", "0", "metadata_proxy_group", "root", "debug", "true",
		"external_pids", "/run/neutron//pids/")

	p, err := MetadataProxy(base(), c, Env{IPv6Enabled: true})
	if err != nil || p == nil {
		t.Fatalf("%v %v", p, err)
	}
	cfg, err := p.Render()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"    log         /dev/log local0 debug\n",
		"    user        root\n    group       root\n",
		"    pidfile     /run/neutron/pids/" + tNet + ".pid.haproxy\n",
		"    bind fe80::a9fe:a9fe:80 interface tapcccccccc-00\n",
		"    server metadata /var/lib/neutron/metadata_proxy\n",
		"    http-request set-header X-Neutron-Network-ID " + tNet + "\n",
	} {
		if !strings.Contains(string(cfg), want) {
			t.Errorf("config lacks %q:\n%s", want, cfg)
		}
	}
	if got := strings.Join(p.Argv(), " "); got != "haproxy -f /var/lib/neutron/ns-metadata-proxy/"+tNet+".conf" {
		t.Errorf("argv %s", got)
	}

	// no IPv6 bind: IPv6 off, two own DHCP ports, or the own port admin-down
	n := base()
	second := ourPort(tS1, "10.1.0.3")
	second.ID = tDHCP2
	n.Ports = append(n.Ports, second)
	down := base()
	f := false
	down.Ports[0].AdminStateUp = &f
	for name, tc := range map[string]struct {
		n   *model.Network
		env Env
	}{"ipv6 off": {base(), Env{}}, "two ports": {n, Env{IPv6Enabled: true}}, "admin down": {down, Env{IPv6Enabled: true}}} {
		p, err := MetadataProxy(tc.n, c, tc.env)
		if err != nil {
			t.Fatal(err)
		}
		cfg, _ := p.Render()
		if strings.Contains(string(cfg), "fe80") || !strings.Contains(string(cfg), "\n    \n    server") {
			t.Errorf("%s: want an empty bind line:\n%s", name, cfg)
		}
	}

	// a metadata network is keyed by its router, whose id names files
	meta := base()
	meta.Subnets[0].CIDR = "169.254.0.0/16"
	meta.Ports = append(meta.Ports, port(tRtr, "fa:16:3e:00:00:01", model.OwnerRouterInterface, tS1, "169.254.0.1"))
	meta.Ports[1].DeviceID = "ffffffff-0000-4000-8000-000000000001"
	cm := testConf(t, "enable_isolated_metadata", "true", "enable_metadata_network", "true", "metadata_proxy_user", "root", "metadata_proxy_group", "0")
	p, err = MetadataProxy(meta, cm, Env{})
	if err != nil || p.RouterID != meta.Ports[1].DeviceID || p.NetworkID != "" {
		t.Fatalf("%+v %v", p, err)
	}
	meta.Ports[1].DeviceID = "../../../etc/passwd"
	if _, err := MetadataProxy(meta, cm, Env{}); err == nil {
		t.Error("router device_id that is not a UUID accepted")
	}

	if p, err := MetadataProxy(base(), testConf(t), Env{}); p != nil || err != nil {
		t.Errorf("defaults: %v %v", p, err)
	}
	if _, err := MetadataProxy(base(), testConf(t, "force_metadata", "true", "metadata_proxy_user", "no-such-user-qdhcp"), Env{}); err == nil {
		t.Error("unknown user accepted")
	}
}
