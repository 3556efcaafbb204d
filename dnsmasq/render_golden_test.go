package dnsmasq

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"qdhcp/dhcpagent/config"
	"qdhcp/model"
)

// TestGolden renders every fixture and compares each file with what
// neutron wrote (testdata/golden/<fixture>/), then replays the fixture's
// _steps.
func TestGolden(t *testing.T) {
	for _, name := range fixtureNames(t) {
		t.Run(name, func(t *testing.T) {
			f := loadFixture(t, name)
			state := t.TempDir()
			c := f.conf(t, state)
			n := withSetupPort(t, f.net, c, name)
			in := &Input{Network: n, Conf: c, Env: f.env()}
			if f.meta.Leases != nil {
				in.PrevLeases = []byte(*f.meta.Leases)
			}
			compareSummary(t, name, n, c)
			files, err := Render(in)
			if _, spawned := golden(t, name, "cmdline", state); !spawned {
				if !errors.Is(err, ErrNoDHCPSubnet) {
					t.Fatalf("neutron spawned no dnsmasq, Render: %v", err)
				}
				checkNoProxy(t, name, state)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			compareFiles(t, name, state, files, true)
			compareProxy(t, f, n, c, name, state)
			if len(f.meta.Steps) > 0 {
				replaySteps(t, f, files, state)
			}
		})
	}
}

// compareSummary checks the agent's view neutron recorded: which subnets
// are isolated and whether the metadata proxy should run.
func compareSummary(t *testing.T, dir string, n *model.Network, c *config.Config) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(goldenDir, dir, "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	var sum struct {
		Isolated map[string]bool `json:"isolated_subnets"`
		Metadata bool            `json:"should_enable_metadata"`
	}
	if err := json.Unmarshal(b, &sum); err != nil {
		t.Fatal(err)
	}
	if got := IsolatedSubnets(n); !reflect.DeepEqual(got, sum.Isolated) {
		t.Errorf("isolated subnets: got %v want %v", got, sum.Isolated)
	}
	if got := ShouldEnableMetadata(n, c); got != sum.Metadata {
		t.Errorf("should_enable_metadata: got %v want %v", got, sum.Metadata)
	}
}

// compareFiles compares the rendered files with golden/<dir>; leases and
// cmdline only when full (a spawn).
func compareFiles(t *testing.T, dir, state string, files *Files, full bool) {
	t.Helper()
	got := map[string][]byte{
		"host":       files.Host,
		"addn_hosts": files.AddnHosts,
		"opts":       files.Opts,
		"interface":  []byte(files.Interface),
	}
	if full {
		got["leases"] = files.Leases
		got["cmdline"] = cmdlineFile(files.Argv)
	}
	for _, name := range []string{"host", "addn_hosts", "opts", "interface", "leases", "cmdline"} {
		g, ok := got[name]
		if !ok {
			continue
		}
		want, exists := golden(t, dir, name, state)
		if !exists {
			t.Errorf("%s/%s: neutron wrote no such file", dir, name)
			continue
		}
		if !bytes.Equal(g, want) {
			t.Errorf("%s/%s differs\n%s", dir, name, diffLines(want, g))
		}
	}
}

func compareProxy(t *testing.T, f *fixture, n *model.Network, c *config.Config, dir, state string) {
	t.Helper()
	p, err := MetadataProxy(n, c, f.env())
	if err != nil {
		t.Fatal(err)
	}
	wantCfg, ok := golden(t, dir, "haproxy.cfg", state)
	if !ok {
		if p != nil {
			t.Fatalf("neutron runs no metadata proxy, MetadataProxy returned %+v", p)
		}
		return
	}
	if p == nil {
		t.Fatal("neutron runs a metadata proxy, MetadataProxy returned nil")
	}
	cfg, err := p.Render()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(cfg, wantCfg) {
		t.Errorf("%s/haproxy.cfg differs\n%s", dir, diffLines(wantCfg, cfg))
	}
	wantArgv, _ := golden(t, dir, "haproxy_cmdline", state)
	if got := cmdlineFile(p.Argv()); !bytes.Equal(got, wantArgv) {
		t.Errorf("%s/haproxy_cmdline differs\n%s", dir, diffLines(wantArgv, got))
	}
}

func checkNoProxy(t *testing.T, dir, state string) {
	t.Helper()
	if _, ok := golden(t, dir, "haproxy.cfg", state); ok {
		t.Fatalf("%s: golden has a haproxy.cfg but no dnsmasq", dir)
	}
}

// replaySteps plays the fixture's later driver actions on the files: a
// reload rewrites host/addn_hosts/opts after releasing stale leases; a
// restart (or a full configure) re-renders everything from the current
// leases file. The leases file between steps is what dnsmasq wrote (the
// step's "leases") minus the lines of released leases.
func replaySteps(t *testing.T, f *fixture, spawned *Files, state string) {
	host := spawned.Host
	leases := spawned.Leases
	iface := spawned.Interface
	for i, st := range f.meta.Steps {
		dir := filepath.Join(f.name, fmt.Sprintf("step%d", i+1))
		if st.Leases != nil {
			leases = []byte(*st.Leases)
		}
		net := f.net
		if len(st.Network) > 0 {
			var err error
			if net, err = model.DecodeNetwork(st.Network); err != nil {
				t.Fatalf("%s network: %v", dir, err)
			}
		}
		c := f.conf(t, state)
		in := &Input{Network: net, Conf: c, Env: f.env(), DeviceName: iface, PrevLeases: leases}
		wantReleases := goldenReleases(t, dir)
		switch st.Action {
		case "reload_allocations", "bulk_reload_allocations":
			files, err := RenderReload(in)
			if errors.Is(err, ErrNoDHCPSubnet) {
				// neutron disables the network instead of reloading
				if len(wantReleases) > 0 {
					t.Errorf("%s: neutron released %v while disabling", dir, wantReleases)
				}
				if _, ok := golden(t, dir, "host", state); ok {
					t.Errorf("%s: neutron wrote files while disabling", dir)
				}
				host, leases = nil, nil
				continue
			}
			if err != nil {
				t.Fatalf("%s: %v", dir, err)
			}
			parsed, err := ParseLeases(leases)
			if err != nil {
				t.Fatalf("%s leases: %v", dir, err)
			}
			rel := StaleLeases(host, parsed, net)
			if got := releaseSet(rel, iface); !equalStrings(got, wantReleases) {
				t.Errorf("%s releases:\n got %q\nwant %q", dir, got, wantReleases)
			}
			leases = dropReleased(leases, rel)
			compareFiles(t, dir, state, files, false)
			if want, ok := golden(t, dir, "leases", state); ok && !bytes.Equal(leases, want) {
				t.Errorf("%s/leases after release differs\n%s", dir, diffLines(want, leases))
			}
			host = files.Host
		case "restart", "enable", "configure", "sync_state":
			files, err := Render(in)
			if errors.Is(err, ErrNoDHCPSubnet) {
				continue
			}
			if err != nil {
				t.Fatalf("%s: %v", dir, err)
			}
			if len(wantReleases) > 0 {
				t.Errorf("%s: neutron released leases on %s", dir, st.Action)
			}
			compareFiles(t, dir, state, files, true)
			host, leases, iface = files.Host, files.Leases, files.Interface
		default:
			t.Logf("%s: action %q is the agent's, not replayed here", dir, st.Action)
		}
	}
}

// goldenReleases is the set of dhcp_release/dhcp_release6 calls of a step,
// as sorted strings.
func goldenReleases(t *testing.T, dir string) []string {
	var out []string
	for _, a := range goldenActions(t, dir) {
		switch a.Op {
		case "dhcp_release":
			cid := ""
			if a.ClientID != nil {
				cid = *a.ClientID
			}
			out = append(out, strings.Join([]string{"dhcp_release", a.Interface, a.IPAddress, a.MACAddress, cid}, " "))
		case "dhcp_release6":
			out = append(out, strings.Join([]string{"dhcp_release6", a.Interface, a.IPAddress, *a.ClientID, a.ServerID, a.IAID}, " "))
		}
	}
	sort.Strings(out)
	return out
}

func releaseSet(rel []Release, iface string) []string {
	var out []string
	for _, r := range rel {
		if r.Version == 6 {
			out = append(out, strings.Join([]string{"dhcp_release6", iface, r.IP, r.ClientID, r.ServerID, r.IAID}, " "))
		} else {
			out = append(out, strings.Join([]string{"dhcp_release", iface, r.IP, r.MAC, r.ClientID}, " "))
		}
	}
	sort.Strings(out)
	return out
}

// dropReleased removes the lease lines of released addresses, as dnsmasq
// does on dhcp_release.
func dropReleased(leases []byte, rel []Release) []byte {
	gone := map[string]bool{}
	for _, r := range rel {
		gone[r.IP] = true
	}
	var b bytes.Buffer
	for _, l := range splitLines(string(leases)) {
		if f := strings.Fields(l); len(f) == 5 && gone[strings.Trim(f[2], "[]")] {
			continue
		}
		b.WriteString(l)
	}
	return b.Bytes()
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// diffLines shows the first differing line of two files.
func diffLines(want, got []byte) string {
	w := strings.Split(string(want), "\n")
	g := strings.Split(string(got), "\n")
	for i := 0; i < len(w) || i < len(g); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl || i >= len(w) || i >= len(g) {
			return fmt.Sprintf("line %d:\n want %q\n  got %q\n(%d lines wanted, %d got)", i+1, wl, gl, len(w), len(g))
		}
	}
	return "(same lines, different bytes)"
}
