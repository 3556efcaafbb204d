package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"qdhcp/internal/testnet"
)

// benchLines parses the bench's output, one JSON object a line, by
// scenario.
func benchLines(t *testing.T, out []byte) map[string]map[string]any {
	t.Helper()
	res := map[string]map[string]any{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("not a JSON line: %q: %v", line, err)
		}
		name, _ := m["scenario"].(string)
		if name == "" || res[name] != nil {
			t.Fatalf("line without a scenario or repeated: %q", line)
		}
		if !strings.HasPrefix(line, `{"scenario":`) {
			t.Fatalf("scenario is not first: %q", line)
		}
		res[name] = m
	}
	return res
}

func num(t *testing.T, m map[string]any, key string) float64 {
	t.Helper()
	v, ok := m[key].(float64)
	if !ok {
		t.Fatalf("%s: no number %q in %v", m["scenario"], key, m)
	}
	return v
}

func TestBenchRenderLarge(t *testing.T) {
	var out, errOut bytes.Buffer
	rc := dispatch([]string{"bench", "--scenarios", "render_large",
		"--fixture", "../../testdata/fixtures/large_network_2000_ports.json",
		"--golden", "../../testdata/golden/large_network_2000_ports"}, &out, &errOut)
	if rc != 0 {
		t.Fatalf("exit %d: %s", rc, errOut.String())
	}
	r := benchLines(t, out.Bytes())["render_large"]
	if r == nil || r["golden"] != "match" || num(t, r, "ports") != 2002 || num(t, r, "ns_per_op") <= 0 {
		t.Fatalf("render_large: %v", r)
	}
	t.Logf("%s", out.String())
}

func TestBenchBadFlags(t *testing.T) {
	for _, args := range [][]string{{"--scenarios", "nope"}, {"--networks", "0"}, {"extra"}} {
		var out, errOut bytes.Buffer
		if rc := dispatch(append([]string{"bench"}, args...), &out, &errOut); rc != 2 || out.Len() != 0 {
			t.Errorf("%v: exit %d, output %q", args, rc, out.String())
		}
	}
}

// leftovers lists what bench runs leave on the host: namespaces of bench
// networks and floor runs, bench bridges, dnsmasq processes under dir.
func leftovers(t *testing.T, dir string) []string {
	t.Helper()
	var left []string
	entries, _ := os.ReadDir("/run/netns")
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "qdhcp-"+benchIDPrefix) || strings.HasPrefix(e.Name(), "qbench-floor-") {
			left = append(left, "namespace "+e.Name())
		}
	}
	if out, err := exec.Command("ovs-vsctl", "list-br").Output(); err == nil {
		for _, br := range strings.Fields(string(out)) {
			if strings.HasPrefix(br, "br-qb") {
				left = append(left, "bridge "+br)
			}
		}
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, _ := os.ReadFile(p)
		if bytes.HasPrefix(b, []byte("dnsmasq\x00")) && bytes.Contains(b, []byte(dir)) {
			left = append(left, "dnsmasq "+p)
		}
	}
	if sub, _ := os.ReadDir(dir); len(sub) > 0 {
		left = append(left, "state "+sub[0].Name())
	}
	return left
}

// benchRoot skips unless the whole bench can run here, and makes sure no
// other bench run's objects are around (the leftover checks count them).
func benchRoot(t *testing.T) (bin, dir string) {
	t.Helper()
	testnet.RequireRoot(t)
	dir = testnet.StateDir(t)
	if left := leftovers(t, dir); len(left) > 0 {
		t.Skipf("another bench run is active or left objects behind: %v", left)
	}
	return buildAgent(t), dir
}

func TestBenchSmallRunCleansUp(t *testing.T) {
	bin, dir := benchRoot(t)
	cmd := exec.Command(bin, "bench", "--scenarios", "floor,cold_sync,cold_sync_veth,restart_sync,event_latency,storm,rss",
		"--networks", "3", "--ports", "2", "--events", "3", "--storm", "40", "--state-dir", dir, "--settle", "0s")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("bench: %v\n%s", err, stderr.String())
	}
	t.Logf("%s", out)
	r := benchLines(t, out)
	for _, s := range []string{"floor", "cold_sync", "cold_sync_veth", "restart_sync", "event_latency", "storm", "rss"} {
		if r[s] == nil {
			t.Fatalf("no %s line in\n%s", s, out)
		}
	}
	if c := r["cold_sync"]; num(t, c, "networks") != 3 || num(t, c, "spawns") != 3 || num(t, c, "errors") != 0 ||
		num(t, c, "seconds") <= 0 {
		t.Errorf("cold_sync: %v", c)
	}
	if c := r["cold_sync_veth"]; num(t, c, "networks") != 3 || num(t, c, "spawns") != 3 || num(t, c, "errors") != 0 ||
		c["ovs_use_veth"] != true {
		t.Errorf("cold_sync_veth: %v", c)
	}
	if rs := r["restart_sync"]; num(t, rs, "networks") != 3 || num(t, rs, "adoptions") != 3 || num(t, rs, "spawns") != 0 ||
		num(t, rs, "same_dnsmasq") != 3 || num(t, rs, "errors") != 0 {
		t.Errorf("restart_sync: %v", rs)
	}
	if f := r["floor"]; num(t, f, "networks") != 3 || num(t, f, "cold_sync_ratio") <= 0 || num(t, f, "cold_sync_veth_ratio") <= 0 ||
		num(t, f, "device_move_median_ms") <= 0 || num(t, f, "floor_with_move_seconds") <= num(t, f, "seconds") ||
		num(t, f, "cold_sync_ratio_with_move") <= 0 {
		t.Errorf("floor: %v", f)
	}
	if e := r["event_latency"]; num(t, e, "injected_hup_p95_ms") <= 0 || num(t, e, "file_hup_p95_ms") <= 0 ||
		num(t, e, "dnsmasq_restarts") != 0 || num(t, e, "ports_on_network_at_end") != 16 {
		t.Errorf("event_latency: %v", e)
	}
	if s := r["storm"]; num(t, s, "ports") != 40 || num(t, s, "host_file_entries") < 50 || num(t, s, "hups") < 1 ||
		num(t, s, "dnsmasq_restarts") != 0 {
		t.Errorf("storm: %v", s)
	}
	if num(t, r["rss"], "vmrss_kb") <= 0 {
		t.Errorf("rss: %v", r["rss"])
	}
	if left := leftovers(t, dir); len(left) > 0 {
		t.Fatalf("left behind: %v", left)
	}
}

// waitNamespaces waits until a network namespace of the bench run with
// process id pid exists (its run id is in its state dir's name).
func waitNamespaces(t *testing.T, dir string, pid int, errOut *bytes.Buffer) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	prefix := ""
	for time.Now().Before(deadline) {
		if prefix == "" {
			runs, _ := filepath.Glob(filepath.Join(dir, fmt.Sprintf("%d-*", pid)))
			if len(runs) == 1 {
				_, run, _ := strings.Cut(filepath.Base(runs[0]), "-")
				prefix = "qdhcp-" + benchIDPrefix + run
			}
		}
		if prefix != "" {
			entries, _ := os.ReadDir("/run/netns")
			for _, e := range entries {
				if strings.HasPrefix(e.Name(), prefix) {
					return
				}
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("no namespace of the bench run within 30 s: %s", errOut.String())
}

func TestBenchInterruptCleansUp(t *testing.T) {
	bin, dir := benchRoot(t)
	cmd := exec.Command(bin, "bench", "--scenarios", "cold_sync", "--networks", "30", "--state-dir", dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitNamespaces(t, dir, cmd.Process.Pid, &stderr)
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("interrupted bench: %v (want exit 1)\n%s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "interrupted") {
		t.Errorf("stderr does not say interrupted: %s", stderr.String())
	}
	if left := leftovers(t, dir); len(left) > 0 {
		t.Fatalf("left behind after SIGINT: %v", left)
	}
}

func TestBenchSweepsKilledRun(t *testing.T) {
	bin, dir := benchRoot(t)
	cmd := exec.Command(bin, "bench", "--scenarios", "cold_sync", "--networks", "20", "--state-dir", dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitNamespaces(t, dir, cmd.Process.Pid, &stderr)
	time.Sleep(200 * time.Millisecond) // some dnsmasq running too
	cmd.Process.Kill()
	cmd.Wait()
	if left := leftovers(t, dir); len(left) == 0 {
		t.Fatal("a killed run left nothing to sweep (test did not test)")
	}
	out, err := exec.Command(bin, "bench", "--scenarios", "rss", "--state-dir", dir).CombinedOutput()
	if err != nil {
		t.Fatalf("bench after a killed run: %v\n%s", err, out)
	}
	if left := leftovers(t, dir); len(left) > 0 {
		t.Fatalf("the next run did not sweep: %v", left)
	}
}
