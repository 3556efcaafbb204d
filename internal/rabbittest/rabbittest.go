// Package rabbittest gives qdhcp's RPC tests a real RabbitMQ (the broker of
// scripts/testenv.sh on 127.0.0.1:5672, guest/guest), a private virtual host
// per test, and the real oslo.messaging peer testdata/oslo/fake_neutron_server.py.
//
// Tests skip when the broker, rabbitmqctl, root or python3-oslo.messaging is
// missing, except in CI (CI set), where they fail instead.
package rabbittest

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Addr is the broker the tests use.
const Addr = "127.0.0.1:5672"

// Unavailable skips the test, or fails it in CI where every service exists.
func Unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("CI") != "" {
		t.Fatalf("required in CI: %s", msg)
	}
	t.Skip(msg)
}

// Require checks that the broker accepts connections and that the test may
// administer it (root, rabbitmqctl).
func Require(t testing.TB) {
	t.Helper()
	if os.Getenv("QDHCP_SKIP_ROOT") == "1" {
		t.Skip("QDHCP_SKIP_ROOT=1: RabbitMQ tests need root and the broker")
	}
	if os.Geteuid() != 0 {
		Unavailable(t, "RabbitMQ tests need root (rabbitmqctl)")
	}
	if _, err := exec.LookPath("rabbitmqctl"); err != nil {
		Unavailable(t, "rabbitmqctl not found (scripts/testenv.sh setup installs rabbitmq-server)")
	}
	c, err := net.DialTimeout("tcp", Addr, 2*time.Second)
	if err != nil {
		Unavailable(t, "RabbitMQ not reachable on %s: %v (run scripts/testenv.sh setup)", Addr, err)
	}
	_ = c.Close()
}

// Ctl runs rabbitmqctl with args.
func Ctl(t testing.TB, args ...string) string {
	t.Helper()
	out, err := exec.Command("rabbitmqctl", append([]string{"-q"}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("rabbitmqctl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// VHost creates a private virtual host (guest has all permissions), deleted
// with everything in it when the test ends.
func VHost(t testing.TB) string {
	t.Helper()
	Require(t)
	var b [4]byte
	_, _ = rand.Read(b[:])
	name := "qdhcp-test-" + sanitize(t.Name()) + "-" + hex.EncodeToString(b[:])
	Ctl(t, "add_vhost", name)
	t.Cleanup(func() {
		_ = exec.Command("rabbitmqctl", "-q", "delete_vhost", name).Run()
	})
	Ctl(t, "set_permissions", "-p", name, "guest", ".*", ".*", ".*")
	return name
}

func sanitize(s string) string {
	s = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' {
			return r
		}
		return '-'
	}, s)
	if len(s) > 40 {
		s = s[:40]
	}
	return s
}

// URL is the transport_url of vhost on the test broker.
func URL(vhost string) string {
	return "rabbit://guest:guest@" + Addr + "/" + url.PathEscape(vhost)
}

// CloseConnections makes the broker drop every connection of vhost (a
// connection loss without stopping the broker).
func CloseConnections(t testing.TB, vhost string) {
	t.Helper()
	Ctl(t, "close_all_connections", "--vhost", vhost, "qdhcp test: connection loss")
}

// Queues lists the queue names of vhost with their arguments as printed by
// rabbitmqctl ("name\tdurable\tauto_delete\targuments").
func Queues(t testing.TB, vhost string) map[string]string {
	t.Helper()
	out := Ctl(t, "list_queues", "-p", vhost, "--no-table-headers", "name", "durable", "auto_delete", "arguments")
	m := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		name, rest, ok := strings.Cut(line, "\t")
		if ok {
			m[name] = rest
		}
	}
	return m
}

// Python returns a python3 that imports oslo_messaging (Debian's
// /usr/bin/python3 first: a pyenv python3 on PATH lacks the Debian modules).
func Python(t testing.TB) string {
	t.Helper()
	var cands []string
	if _, err := os.Stat("/usr/bin/python3"); err == nil {
		cands = append(cands, "/usr/bin/python3")
	}
	if p, err := exec.LookPath("python3"); err == nil {
		cands = append(cands, p)
	}
	for _, p := range cands {
		if exec.Command(p, "-c", "import oslo_messaging").Run() == nil {
			return p
		}
	}
	Unavailable(t, "no python3 with oslo_messaging (apt install python3-oslo.messaging)")
	return ""
}

// Testdata returns testdata/<rel> of the module, found from the test's
// working directory.
func Testdata(t testing.TB, rel string) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "testdata", rel)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the test directory")
		}
		dir = parent
	}
}

// Peer is a running testdata/oslo/fake_neutron_server.py.
type Peer struct {
	t     testing.TB
	cmd   *exec.Cmd
	in    *os.File
	lines chan string
}

// StartPeer starts the oslo.messaging peer on transportURL with control
// exchange exchange and the given network files (testdata/oslo/<name>),
// and waits until its servers consume.
func StartPeer(t testing.TB, transportURL, exchange string, networks ...string) *Peer {
	t.Helper()
	py := Python(t)
	args := []string{Testdata(t, "oslo/fake_neutron_server.py"), "--url", transportURL, "--exchange", exchange}
	for _, n := range networks {
		args = append(args, "--network", Testdata(t, "oslo/"+n))
	}
	cmd := exec.Command(py, args...)
	inR, inW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdin = inR
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = &testWriter{t: t}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start oslo peer: %v", err)
	}
	_ = inR.Close()
	p := &Peer{t: t, cmd: cmd, in: inW, lines: make(chan string, 16)}
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 64<<20)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
		close(p.lines)
	}()
	t.Cleanup(p.stop)
	var ready struct{ Ready bool }
	p.read(60*time.Second, &ready)
	if !ready.Ready {
		t.Fatal("oslo peer did not report ready")
	}
	return p
}

func (p *Peer) stop() {
	_, _ = p.in.WriteString(`{"op": "quit"}` + "\n")
	_ = p.in.Close()
	done := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		_ = p.cmd.Process.Kill()
		<-done
	}
}

func (p *Peer) read(timeout time.Duration, v any) {
	p.t.Helper()
	select {
	case line, ok := <-p.lines:
		if !ok {
			p.t.Fatal("oslo peer exited")
		}
		if err := json.Unmarshal([]byte(line), v); err != nil {
			p.t.Fatalf("oslo peer answer %q: %v", line, err)
		}
	case <-time.After(timeout):
		p.t.Fatalf("oslo peer: no answer in %s", timeout)
	}
}

// Answer is the peer's reply to a command.
type Answer struct {
	OK     bool            `json:"ok"`
	Result json.RawMessage `json:"result"`
	Calls  []Call          `json:"calls"`
	Error  *PyError        `json:"error"`
}

// PyError is an exception raised on the Python side.
type PyError struct {
	Class   string `json:"class"`
	Module  string `json:"module"`
	Message string `json:"message"`
	ExcType string `json:"exc_type"` // oslo RemoteError.exc_type
	Value   string `json:"value"`    // oslo RemoteError.value
}

// Call is one request recorded by the peer's servers.
type Call struct {
	Topic            string                     `json:"topic"`
	Method           string                     `json:"method"`
	Args             map[string]json.RawMessage `json:"args"`
	Version          *string                    `json:"version"`
	Namespace        *string                    `json:"namespace"`
	NamespacePresent bool                       `json:"namespace_present"`
	Context          map[string]any             `json:"context"`
	ClientTimeout    any                        `json:"client_timeout"`
	IsCall           bool                       `json:"is_call"`
}

// Do sends one command and returns the answer.
func (p *Peer) Do(cmd map[string]any) Answer {
	p.t.Helper()
	b, err := json.Marshal(cmd)
	if err != nil {
		p.t.Fatal(err)
	}
	if _, err := p.in.Write(append(b, '\n')); err != nil {
		p.t.Fatalf("oslo peer: %v", err)
	}
	var a Answer
	p.read(60*time.Second, &a)
	return a
}

// Calls returns what the peer's servers received so far.
func (p *Peer) Calls() []Call {
	p.t.Helper()
	a := p.Do(map[string]any{"op": "calls"})
	if !a.OK {
		p.t.Fatalf("calls: %+v", a.Error)
	}
	return a.Calls
}

type testWriter struct{ t testing.TB }

func (w *testWriter) Write(b []byte) (int, error) {
	w.t.Logf("oslo peer: %s", strings.TrimRight(string(b), "\n"))
	return len(b), nil
}
