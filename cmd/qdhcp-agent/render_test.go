package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

var (
	fixtureDir = filepath.Join("..", "..", "testdata", "fixtures")
	goldenDir  = filepath.Join("..", "..", "testdata", "golden")
)

// renderMeta is what the render command needs of a fixture's annotations.
type renderMeta struct {
	Conf    map[string]any `json:"_conf"`
	Harness struct {
		IPv6Enabled    *bool `json:"ipv6_enabled"`
		HostTagSupport *bool `json:"host_tag_support"`
	} `json:"_harness"`
	Leases *string `json:"_leases"`
}

// writeConf writes a dhcp_agent.ini with the reference environment (host
// network-node-1, openvswitch, haproxy as nobody/nogroup), state_path and
// the fixture's _conf ("AGENT.key" goes to [AGENT]).
func writeConf(t *testing.T, dir, state string, conf map[string]any) string {
	t.Helper()
	sections := map[string][]string{"DEFAULT": {
		"state_path = " + state, "host = network-node-1", "interface_driver = openvswitch",
		"metadata_proxy_user = nobody", "metadata_proxy_group = nogroup",
	}}
	keys := make([]string, 0, len(conf))
	for k := range conf {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		group, key, ok := strings.Cut(k, ".")
		if !ok {
			group, key = "DEFAULT", k
		}
		sections[group] = append(sections[group], key+" = "+iniValue(conf[k]))
	}
	var b strings.Builder
	for _, g := range []string{"DEFAULT", "AGENT", "OVS"} {
		if len(sections[g]) == 0 {
			continue
		}
		fmt.Fprintf(&b, "[%s]\n%s\n\n", g, strings.Join(sections[g], "\n"))
	}
	p := filepath.Join(dir, "dhcp_agent.ini")
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func iniValue(v any) string {
	switch x := v.(type) {
	case bool:
		if x {
			return "True"
		}
		return "False"
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = iniValue(e)
		}
		return strings.Join(parts, ",")
	}
	return fmt.Sprint(v)
}

func runRender(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := dispatch(append([]string{"render"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

// TestRenderCommandGolden runs `qdhcp-agent render` on every reference
// fixture and compares the directory with neutron's files.
func TestRenderCommandGolden(t *testing.T) {
	names, _ := filepath.Glob(filepath.Join(fixtureDir, "*.json"))
	if len(names) == 0 {
		t.Fatal("no fixtures")
	}
	for _, path := range names {
		name := strings.TrimSuffix(filepath.Base(path), ".json")
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			var meta renderMeta
			if err := json.Unmarshal(raw, &meta); err != nil {
				t.Fatal(err)
			}
			tmp := t.TempDir()
			state := filepath.Join(tmp, "state")
			out := filepath.Join(tmp, "out")
			args := []string{"--config-file", writeConf(t, tmp, state, meta.Conf), "--network", path,
				"--out", out, "--now", "1700000000", "--host-tags=true", "--ipv6=true"}
			if v := meta.Harness.HostTagSupport; v != nil {
				args = append(args, "--host-tags="+strconv.FormatBool(*v))
			}
			if v := meta.Harness.IPv6Enabled; v != nil {
				args = append(args, "--ipv6="+strconv.FormatBool(*v))
			}
			if meta.Leases != nil {
				lp := filepath.Join(tmp, "old_leases")
				if err := os.WriteFile(lp, []byte(*meta.Leases), 0o644); err != nil {
					t.Fatal(err)
				}
				args = append(args, "--leases", lp)
			}
			code, _, stderr := runRender(args...)
			wantFiles, _ := filepath.Glob(filepath.Join(goldenDir, name, "*"))
			var want []string
			for _, f := range wantFiles {
				switch b := filepath.Base(f); b {
				case "actions.json", "summary.json", "cmdline.json":
				default:
					if st, err := os.Stat(f); err == nil && !st.IsDir() {
						want = append(want, b)
					}
				}
			}
			switch {
			case len(want) == 0: // neutron spawned nothing
				if code != 0 || !strings.Contains(stderr, "no DHCP-enabled subnet") {
					t.Fatalf("exit %d, stderr %q", code, stderr)
				}
				if _, err := os.Stat(out); !os.IsNotExist(err) {
					t.Fatalf("output directory written: %v", err)
				}
				return
			}
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			got, _ := os.ReadDir(out)
			var gotNames []string
			for _, e := range got {
				gotNames = append(gotNames, e.Name())
			}
			sort.Strings(want)
			if strings.Join(gotNames, " ") != strings.Join(want, " ") {
				t.Errorf("files: got %v want %v", gotNames, want)
			}
			for _, f := range want {
				w, _ := os.ReadFile(filepath.Join(goldenDir, name, f))
				w = bytes.ReplaceAll(w, []byte("$STATE"), []byte(state))
				g, _ := os.ReadFile(filepath.Join(out, f))
				if f == "interface" && !hasOwnPort(raw) && !hasReservedPort(raw) {
					// a port the server creates has an id of its own choosing
					if len(g) != 14 || !bytes.HasPrefix(g, []byte("tap")) {
						t.Errorf("interface %q", g)
					}
					continue
				}
				if !bytes.Equal(g, w) {
					t.Errorf("%s differs:\n got %q\nwant %q", f, clip(g), clip(w))
				}
			}
		})
	}
}

// hasOwnPort: the fixture holds this agent's DHCP port (host network-node-1).
func hasOwnPort(raw []byte) bool {
	return bytes.Contains(raw, []byte(`"device_id": "dhcpd84bb4e6-abd2-5cee-ae74-ee87ec7cd084-`))
}

func clip(b []byte) string {
	if len(b) > 600 {
		return string(b[:600]) + "..."
	}
	return string(b)
}

// Malformed or hostile network files: exit 2, one line naming the problem
// (with its JSON path), nothing written.
func TestRenderCommandBadNetwork(t *testing.T) {
	good, err := os.ReadFile(filepath.Join(fixtureDir, "v4_single_gateway.json"))
	if err != nil {
		t.Fatal(err)
	}
	replace := func(old, new string) string {
		if !strings.Contains(string(good), old) {
			t.Fatalf("fixture lacks %q", old)
		}
		return strings.Replace(string(good), old, new, 1)
	}
	cases := []struct{ name, json, want string }{
		{"truncated", string(good[:len(good)/2]), "invalid JSON"},
		{"not an object", `[1,2]`, "expected"},
		{"trailing data", string(good) + `{}`, "trailing data"},
		{"wrong type", replace(`"mtu": 1450`, `"mtu": "big"`), "mtu"},
		{"bad MAC", replace(`"fa:16:3e:8a:3b:dd"`, `"fa:16:3e:8a:3b:dd\nfa:16:3e:00:00:01,evil"`), "ports[1].mac_address"},
		{"option value with a control character", replace(`"extra_dhcp_opts": [],`,
			`"extra_dhcp_opts": [{"opt_name": "mtu", "opt_value": "1400\r", "ip_version": 4}],`), "extra_dhcp_opts[0].opt_value"},
		{"zone smuggling a line", replace(`"8.8.4.4"`, `"fe80::1%x\ndhcp-range=evil"`), "subnets[0].dns_nameservers[1]"},
		{"subnet id used as a path", replace(`"id": "b58dddbc-1b19-5e8a-84fe-9f22a67212a7"`, `"id": "../../../etc"`), "subnets[0].id"},
		{"network id used as a path", replace(`"id": "cf09365d-0bff-57c9-8f78-61f4fa05301e",
 "mtu"`, `"id": "../x",
 "mtu"`), "id"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tmp := t.TempDir()
			netFile := filepath.Join(tmp, "net.json")
			if err := os.WriteFile(netFile, []byte(tc.json), 0o644); err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(tmp, "out")
			code, stdout, stderr := runRender("--config-file", writeConf(t, tmp, tmp, nil), "--network", netFile,
				"--out", out, "--host-tags=false", "--ipv6=false")
			if code != 2 {
				t.Errorf("exit %d, want 2 (stderr %q)", code, stderr)
			}
			if strings.Count(stderr, "\n") != 1 || !strings.HasSuffix(stderr, "\n") || !strings.Contains(stderr, tc.want) {
				t.Errorf("want one line naming %q, got %q", tc.want, stderr)
			}
			if stdout != "" {
				t.Errorf("stdout %q", stdout)
			}
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Errorf("output directory written: %v", err)
			}
		})
	}
}

func TestRenderCommandUsage(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"--network", "x.json"},
		{"--network", "x.json", "--out", "d", "--ipv6=maybe"},
		{"--network", "x.json", "--out", "d", "extra"},
		{"--bogus"},
	} {
		if code, _, stderr := runRender(args...); code != 2 || stderr == "" {
			t.Errorf("%q: exit %d, stderr %q", args, code, stderr)
		}
	}
	var out, errb bytes.Buffer
	if code := dispatch([]string{"no-such-command"}, &out, &errb); code != 2 || !strings.Contains(errb.String(), "render") {
		t.Errorf("unknown command: %d %q", code, errb.String())
	}
	// a missing network file is an I/O error, not a malformed one
	tmp := t.TempDir()
	if code, _, _ := runRender("--network", filepath.Join(tmp, "absent.json"), "--out", filepath.Join(tmp, "o")); code != 1 {
		t.Errorf("missing file: exit %d", code)
	}
}

// A previous render's haproxy files vanish when the proxy is no longer
// needed; other files are replaced.
func TestRenderCommandRemovesStaleProxy(t *testing.T) {
	tmp := t.TempDir()
	out := filepath.Join(tmp, "out")
	net := filepath.Join(fixtureDir, "isolated_metadata_no_router.json")
	conf := writeConf(t, tmp, tmp, map[string]any{"enable_isolated_metadata": true})
	if code, _, stderr := runRender("--config-file", conf, "--network", net, "--out", out, "--ipv6=false", "--host-tags=false"); code != 0 {
		t.Fatal(stderr)
	}
	if _, err := os.Stat(filepath.Join(out, "haproxy.cfg")); err != nil {
		t.Fatal(err)
	}
	conf = writeConf(t, tmp, tmp, nil)
	if code, _, stderr := runRender("--config-file", conf, "--network", net, "--out", out, "--ipv6=false", "--host-tags=false"); code != 0 {
		t.Fatal(stderr)
	}
	for _, f := range []string{"haproxy.cfg", "haproxy_cmdline"} {
		if _, err := os.Stat(filepath.Join(out, f)); !os.IsNotExist(err) {
			t.Errorf("%s left behind: %v", f, err)
		}
	}
}

// hasReservedPort reports a reserved_dhcp_port the agent would adopt.
func hasReservedPort(raw []byte) bool {
	return bytes.Contains(raw, []byte(`"device_id": "reserved_dhcp_port"`))
}
