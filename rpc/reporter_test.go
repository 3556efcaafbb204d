package rpc

import (
	"context"
	"errors"
	"regexp"
	"sort"
	"testing"
	"time"

	"qdhcp/internal/rabbittest"
	"qdhcp/rpc/amqp"
)

var isoTime = regexp.MustCompile(`^"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}"$`)

func TestReportStateAgainstOslo(t *testing.T) {
	vh := rabbittest.VHost(t)
	tr := newTransport(t, vh)
	counts := Counts{Networks: 2, Subnets: 3, Ports: 7}
	r := NewReporter(tr, ReporterConfig{
		Host: "node-1", AvailabilityZone: "nova", DHCPDriver: "neutron.agent.linux.dhcp.Dnsmasq",
		DHCPLeaseDuration: 86400, ReportInterval: 2 * time.Second,
	}, func() Counts { return counts })
	ctx := context.Background()

	// no server yet: the report times out and start_flag stays for the next one
	if _, err := r.Report(ctx); !errors.Is(err, amqp.ErrTimeout) {
		t.Fatalf("report without server: %v", err)
	}
	peer := rabbittest.StartPeer(t, rabbittest.URL(vh), "neutron")

	status, err := r.Report(ctx)
	if err != nil || status != StatusNew {
		t.Fatalf("first report: %q, %v", status, err)
	}
	counts.Ports = 8
	if status, err = r.Report(ctx); err != nil || status != StatusAlive {
		t.Fatalf("second report: %q, %v", status, err)
	}
	peer.Do(map[string]any{"op": "report_replies", "replies": []string{StatusRevived}})
	if status, err = r.Report(ctx); err != nil || status != StatusRevived {
		t.Fatalf("third report: %q, %v", status, err)
	}

	calls := peer.Calls()
	// the timed-out report was published too: the broker dropped it (no
	// queue yet), so the server saw three
	if len(calls) != 3 {
		t.Fatalf("server got %d reports, want 3", len(calls))
	}
	uuids := map[string]bool{}
	for i, c := range calls {
		if c.Topic != TopicReports || c.Method != "report_state" || c.Version == nil || *c.Version != "1.2" || c.NamespacePresent || !c.IsCall {
			t.Errorf("report %d: %s %s v%v namespace %v", i, c.Topic, c.Method, c.Version, c.NamespacePresent)
		}
		names := argNames(c)
		if !(len(names) == 2 && names[0] == "agent_state" && names[1] == "time") {
			t.Errorf("report %d kwargs = %v", i, names)
		}
		if !isoTime.Match(c.Args["time"]) {
			t.Errorf("time = %s, want %%Y-%%m-%%dT%%H:%%M:%%S.%%f", c.Args["time"])
		}
		checkAdminContext(t, c.Context)
		ports := 7
		if i > 0 {
			ports = 8
		}
		startFlag := ""
		if i == 0 {
			startFlag = `"start_flag": true,`
		}
		var st struct {
			AgentState struct {
				UUID string `json:"uuid"`
			} `json:"agent_state"`
		}
		if err := jsonUnmarshal(c.Args["agent_state"], &st); err != nil {
			t.Fatal(err)
		}
		uuids[st.AgentState.UUID] = true
		jsonEqual(t, "agent_state", c.Args["agent_state"], `{"agent_state": {
			"binary": "neutron-dhcp-agent", "host": "node-1", "availability_zone": "nova",
			"topic": "dhcp_agent", `+startFlag+` "agent_type": "DHCP agent",
			"uuid": "`+st.AgentState.UUID+`",
			"configurations": {"dhcp_driver": "neutron.agent.linux.dhcp.Dnsmasq",
				"dhcp_lease_duration": 86400, "log_agent_heartbeats": false,
				"networks": 2, "subnets": 3, "ports": `+itoa(ports)+`}}}`)
		if !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(st.AgentState.UUID) {
			t.Errorf("uuid %q is not a uuid4", st.AgentState.UUID)
		}
	}
	if len(uuids) != 3 {
		t.Errorf("uuids not fresh per report: %v", uuids)
	}
	// each report carries a new context (request id)
	ids := []string{}
	for _, c := range calls {
		ids = append(ids, c.Context["request_id"].(string))
	}
	sort.Strings(ids)
	if ids[0] == ids[1] || ids[1] == ids[2] {
		t.Errorf("request ids reused: %v", ids)
	}
}

func TestReporterRun(t *testing.T) {
	vh := rabbittest.VHost(t)
	tr := newTransport(t, vh)
	rabbittest.StartPeer(t, rabbittest.URL(vh), "neutron")
	r := NewReporter(tr, ReporterConfig{Host: "node-1", ReportInterval: 300 * time.Millisecond}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	results := make(chan string, 16)
	done := make(chan struct{})
	go func() {
		r.Run(ctx, func(s string, err error) {
			if err != nil {
				s = err.Error()
			}
			results <- s
		})
		close(done)
	}()
	for i, want := range []string{StatusNew, StatusAlive, StatusAlive} {
		select {
		case s := <-results:
			if s != want {
				t.Errorf("report %d = %q, want %q", i, s, want)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("report %d missing", i)
		}
	}
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	// disabled when report_interval is 0
	r0 := NewReporter(tr, ReporterConfig{}, nil)
	r0.Run(context.Background(), func(string, error) { t.Error("report with interval 0") })
}
