package dnsmasq

import (
	"reflect"
	"strings"
	"testing"

	"qdhcp/model"
)

func TestParseLeases(t *testing.T) {
	data := "1700000000 aa:bb:cc:dd:ee:01 10.0.0.1 early *\n" + // before the duid line
		"duid 00:01:00:01:aa\r\n" +
		"duid 00:01:00:01:bb\n" + // a second duid line is ignored
		"0 aa:bb:cc:dd:ee:02 10.0.0.2 * 01:aa:bb:cc:dd:ee:02\n" +
		"1700000000 123 [2001:db8::5] vm6 00:03:00:01:aa\n" +
		"garbage line\n" +
		"1700000000 124 not-an-ip x y\n" +
		"\n" +
		"1700000001 T125 2001:db8::6 * *" // no final newline
	got, err := ParseLeases([]byte(data))
	want := []Lease{
		{Expiry: 1700000000, Version: 4, MAC: "aa:bb:cc:dd:ee:01", IP: "10.0.0.1", Hostname: "early"},
		{Expiry: 0, Version: 4, MAC: "aa:bb:cc:dd:ee:02", IP: "10.0.0.2", ClientID: "01:aa:bb:cc:dd:ee:02", ServerID: "00:01:00:01:aa"},
		{Expiry: 1700000000, Version: 6, IAID: "123", IP: "2001:db8::5", Hostname: "vm6", ClientID: "00:03:00:01:aa", ServerID: "00:01:00:01:aa"},
		{Expiry: 1700000001, Version: 6, IAID: "T125", IP: "2001:db8::6", ServerID: "00:01:00:01:aa"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("leases\n got %+v\nwant %+v", got, want)
	}
	if err == nil || !strings.Contains(err.Error(), "line 6") || !strings.Contains(err.Error(), "line 7") {
		t.Errorf("error should name lines 6 and 7: %v", err)
	}
	if l, err := ParseLeases(nil); l != nil || err != nil {
		t.Errorf("empty file: %v %v", l, err)
	}
}

func TestStaleLeases(t *testing.T) {
	const mac1, mac2 = "fa:16:3e:00:00:01", "fa:16:3e:00:00:02"
	withCID := port(tVM1, mac1, "compute:nova", tS1, "10.0.0.10")
	withCID.ExtraDHCPOpts = []model.ExtraDHCPOpt{{OptName: "client-id", OptValue: "cid-1"}}
	plain := port(tVM2, mac2, "compute:nova", tS1, "10.0.0.11", tS2, "2001:db8::11")
	n := &model.Network{ID: tNet, Ports: []*model.Port{withCID, plain}}

	parse := func(s string) []Lease {
		l, err := ParseLeases([]byte(s))
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	cases := []struct {
		name, host, leases string
		want               []Release
	}{
		{
			name: "a lease without client id for a port that has one is released (initial leases quirk)",
			host: lines(mac1 + ",id:cid-1,host-10-0-0-10.openstacklocal,10.0.0.10"),
			leases: lines("1700086400 "+mac1+" 10.0.0.10 * *",
				"1700086400 "+mac2+" 10.0.0.11 * *"),
			want: []Release{{Version: 4, IP: "10.0.0.10", MAC: mac1}},
		},
		{
			name:   "a client id the VM sent, unknown to the port, is kept while the bare entry is current",
			host:   lines(mac2 + ",host-10-0-0-11.openstacklocal,10.0.0.11"),
			leases: lines("1700086400 " + mac2 + " 10.0.0.11 vm 01:fa:16:3e:00:00:02"),
		},
		{
			name: "stale host entries are released only when they have a lease",
			host: lines("fa:16:3e:00:00:09,host-10-0-0-9.openstacklocal,10.0.0.9",
				"fa:16:3e:00:00:08,host-10-0-0-8.openstacklocal,10.0.0.8",
				"fa:16:3e:00:00:07,tag:dhcpv6,host-x,[2001:db8::7],[2001:db8::77]",
				"fa:16:3e:00:00:07,tag:dhcpv6,set:port-"+tVM1),
			leases: lines("duid 00:01:00:01:ss",
				"1700086400 fa:16:3e:00:00:09 10.0.0.9 * ff:01",
				"1700086400 99 2001:db8::77 * 00:03:00:01:cc",
				"1700086400 98 2001:db8::11 * 00:03:00:01:dd"),
			want: []Release{
				{Version: 4, IP: "10.0.0.9", MAC: "fa:16:3e:00:00:09"},
				{Version: 4, IP: "10.0.0.9", MAC: "fa:16:3e:00:00:09", ClientID: "ff:01"},
				{Version: 6, IP: "2001:db8::77", ClientID: "00:03:00:01:cc", ServerID: "00:01:00:01:ss", IAID: "99"},
			},
		},
		{
			name: "no leases at all: nothing to release",
			host: lines("fa:16:3e:00:00:09,host-10-0-0-9.openstacklocal,10.0.0.9"),
		},
	}
	for _, tc := range cases {
		got := StaleLeases([]byte(tc.host), parse(tc.leases), n)
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", tc.name, got, tc.want)
		}
	}
}

func TestReleaseArgv(t *testing.T) {
	cases := []struct {
		r    Release
		want []string
	}{
		{Release{Version: 4, IP: "10.0.0.9", MAC: "m"}, []string{"dhcp_release", "tap1", "10.0.0.9", "m"}},
		{Release{Version: 4, IP: "10.0.0.9", MAC: "m", ClientID: "c"}, []string{"dhcp_release", "tap1", "10.0.0.9", "m", "c"}},
		{Release{Version: 6, IP: "2001:db8::7", ClientID: "c", ServerID: "s", IAID: "9"},
			[]string{"dhcp_release6", "--iface", "tap1", "--ip", "2001:db8::7", "--client-id", "c", "--server-id", "s", "--iaid", "9"}},
		{Release{Version: 6, IP: "2001:db8::7", ServerID: "s", IAID: "9"}, nil},
	}
	for _, tc := range cases {
		if got := tc.r.Argv("tap1"); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%+v: got %q want %q", tc.r, got, tc.want)
		}
	}
}

// Initial leases: duid lines kept verbatim (even a malformed last line is
// dropped), IPv6 leases kept only for addresses still in a DHCPv6 subnet
// (matched as addresses, not strings), IPv4 regenerated.
func TestInitLeasesKeepsIPv6(t *testing.T) {
	n := &model.Network{ID: tNet, Subnets: []*model.Subnet{v4(tS1, "10.0.0.0/24", ""), v6(tS2, "2001:db8::/64", "dhcpv6-stateful")},
		Ports: []*model.Port{ourPort(tS1, "10.0.0.2"), port(tVM1, "fa:16:3e:00:00:10", "", tS2, "2001:db8::10", tS1, "10.0.0.10")}}
	prev := "duid 00:01\n1699000000 7 2001:DB8:0::10 vm 00:03:aa\n1699000000 8 2001:db8::99 x 00:03:bb\n1699000000 fa:16:3e:00:00:10 10.0.0.10 vm 01:02\nbroken"
	f := render(t, n, testConf(t), Env{HostTagSupport: true}, prev)
	expectFile(t, "leases", f.Leases, "duid 00:01\n1699000000 7 2001:DB8:0::10 vm 00:03:aa\n1700086400 fa:16:3e:00:00:10 10.0.0.10 * *\n")
}
