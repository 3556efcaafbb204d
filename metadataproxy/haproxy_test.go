package metadataproxy

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The reference haproxy config of the metadata network fixture (keyed by
// its router, IPv6 bind on the DHCP tap), rendered from explicit values.
func TestRenderGoldenRouter(t *testing.T) {
	state := "/srv/state"
	c := &Config{
		RouterID:      "6ff19352-5f4d-562e-8e97-b23e14571e1c",
		BindAddress:   "169.254.169.254",
		Port:          Port,
		BindAddressV6: "fe80::a9fe:a9fe",
		BindInterface: "tapc3202dd0-5d",
		SocketPath:    state + "/metadata_proxy",
		User:          "nobody",
		Group:         "nogroup",
		StatePath:     state,
		ExternalPids:  state + "/external/pids",
	}
	got, err := c.Render()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join("..", "testdata", "golden", "metadata_network")
	want := readGolden(t, filepath.Join(dir, "haproxy.cfg"), state)
	if string(got) != want {
		t.Errorf("haproxy.cfg\n got %q\nwant %q", got, want)
	}
	argv := strings.Join(c.Argv(), "\n") + "\n"
	if want := readGolden(t, filepath.Join(dir, "haproxy_cmdline"), state); argv != want {
		t.Errorf("argv %q want %q", argv, want)
	}
}

func readGolden(t *testing.T, path, state string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.ReplaceAll(string(b), "$STATE", state)
}

func TestRenderRefuses(t *testing.T) {
	ok := func() *Config {
		return &Config{NetworkID: "846b4a7d-74e4-55fe-92b1-c1d3aab145ae", BindAddress: "169.254.169.254", Port: Port,
			SocketPath: "/s", User: "u", Group: "g", StatePath: "/st", ExternalPids: "/p"}
	}
	if _, err := ok().Render(); err != nil {
		t.Fatal(err)
	}
	for name, mod := range map[string]func(c *Config){
		"both ids":        func(c *Config) { c.RouterID = c.NetworkID },
		"no id":           func(c *Config) { c.NetworkID = "" },
		"id not a UUID":   func(c *Config) { c.NetworkID = "../../x" },
		"newline in path": func(c *Config) { c.SocketPath = "/s\n    bind 0.0.0.0:80" },
		"space in user":   func(c *Config) { c.User = "a b" },
		"no user":         func(c *Config) { c.User = "" },
	} {
		c := ok()
		mod(c)
		if _, err := c.Render(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestPaths(t *testing.T) {
	c := &Config{NetworkID: "846b4a7d-74e4-55fe-92b1-c1d3aab145ae", StatePath: "/var/lib/neutron/", ExternalPids: "/run//pids/./"}
	if got := c.ConfigPath(); got != "/var/lib/neutron/ns-metadata-proxy/846b4a7d-74e4-55fe-92b1-c1d3aab145ae.conf" {
		t.Errorf("config path %q", got)
	}
	if got := c.PidFile(); got != "/run/pids/846b4a7d-74e4-55fe-92b1-c1d3aab145ae.pid.haproxy" {
		t.Errorf("pid file %q", got)
	}
}

func TestResolveUserGroup(t *testing.T) {
	for _, u := range []string{"0", "root"} {
		if got, err := ResolveUser(u); err != nil || got != "root" {
			t.Errorf("user %q: %q %v", u, got, err)
		}
	}
	for _, g := range []string{"0", "root"} {
		if got, err := ResolveGroup(g); err != nil || got != "root" {
			t.Errorf("group %q: %q %v", g, got, err)
		}
	}
	if _, err := ResolveUser("no-such-user-qdhcp"); err == nil {
		t.Error("unknown user resolved")
	}
	if _, err := ResolveGroup("no-such-group-qdhcp"); err == nil {
		t.Error("unknown group resolved")
	}
}
