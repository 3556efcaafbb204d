package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"qdhcp/internal/rabbittest"
)

// TestBenchNeutronSideBySide runs scripts/bench_neutron.py small: neutron's
// own neutron-dhcp-agent (Debian package) and this qdhcp-agent against the
// same stand-in server and networks. Both must serve every network and
// report every port, and the run must leave nothing behind.
func TestBenchNeutronSideBySide(t *testing.T) {
	rabbittest.Require(t)
	if _, err := exec.LookPath("neutron-dhcp-agent"); err != nil {
		rabbittest.Unavailable(t, "neutron-dhcp-agent not installed (scripts/testenv.sh setup installs it)")
	}
	bin := buildAgent(t)
	dir := t.TempDir()
	cmd := exec.Command("/usr/bin/python3", "../../scripts/bench_neutron.py", "--networks", "3", "--ports", "2",
		"--qdhcp", bin, "--state-dir", dir, "--settle", "0.2", "--timeout", "120")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("bench_neutron.py: %v\n%s", err, stderr.String())
	}
	t.Logf("%s", out)
	var agents []map[string]any
	var ratio map[string]any
	for _, line := range bytes.Split(bytes.TrimSpace(out), []byte("\n")) {
		m := benchLinesOf(t, line)
		switch m["scenario"] {
		case "side_by_side":
			agents = append(agents, m)
		case "side_by_side_ratio":
			ratio = m
		}
	}
	if len(agents) != 2 || agents[0]["agent"] != "neutron-dhcp-agent" || agents[1]["agent"] != "qdhcp-agent" {
		t.Fatalf("agent lines: %v", agents)
	}
	for _, a := range agents {
		if num(t, a, "networks") != 3 || num(t, a, "ports_per_network") != 2 || num(t, a, "seconds") <= 0 ||
			num(t, a, "sync_seconds") <= 0 {
			t.Errorf("%v", a)
		}
	}
	if ratio == nil || num(t, ratio, "neutron_over_qdhcp") <= 0 {
		t.Errorf("ratio line: %v", ratio)
	}

	// nothing left: state, namespaces of the run's networks (ids 5b...),
	// its bridge, dnsmasq processes, its RabbitMQ virtual host
	if sub, _ := os.ReadDir(dir); len(sub) > 0 {
		t.Errorf("state left: %s", sub[0].Name())
	}
	ns, _ := os.ReadDir("/run/netns")
	for _, e := range ns {
		if strings.HasPrefix(e.Name(), "qdhcp-5b") {
			t.Errorf("namespace left: %s", e.Name())
		}
	}
	if brs, err := exec.Command("ovs-vsctl", "list-br").Output(); err == nil && strings.Contains(string(brs), "br-nb") {
		t.Errorf("bridge left: %s", brs)
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, _ := os.ReadFile(p)
		if (bytes.HasPrefix(b, []byte("dnsmasq\x00")) || bytes.Contains(b, []byte("neutron-dhcp-agent"))) && bytes.Contains(b, []byte(dir)) {
			if st, err := os.ReadFile(filepath.Join(filepath.Dir(p), "stat")); err == nil && !bytes.Contains(st, []byte(") Z ")) {
				t.Errorf("process left: %s", bytes.ReplaceAll(b, []byte{0}, []byte{' '}))
			}
		}
	}
	if vh, err := exec.Command("rabbitmqctl", "-q", "list_vhosts").Output(); err == nil && strings.Contains(string(vh), "qdhcp-nbench-") {
		t.Errorf("virtual host left: %s", vh)
	}
}

// benchLinesOf parses one JSON line of a bench's output.
func benchLinesOf(t *testing.T, line []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(line, &m); err != nil {
		t.Fatalf("not a JSON line: %q: %v", line, err)
	}
	return m
}
