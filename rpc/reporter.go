package rpc

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"

	"qdhcp/rpc/amqp"
)

// Replies of report_state (neutron_lib.constants AGENT_NEW, AGENT_ALIVE,
// AGENT_REVIVED). On StatusRevived the agent schedules a full resync.
const (
	StatusNew     = "new"
	StatusAlive   = "alive"
	StatusRevived = "revived"
)

// ReporterConfig is what the DHCP agent puts in its state report.
type ReporterConfig struct {
	Host               string        // [DEFAULT] host
	AvailabilityZone   string        // [AGENT] availability_zone
	DHCPDriver         string        // dhcp_driver
	DHCPLeaseDuration  int           // dhcp_lease_duration
	LogAgentHeartbeats bool          // [AGENT] log_agent_heartbeats
	ReportInterval     time.Duration // [AGENT] report_interval: also the call timeout
	Exchange           string        // control exchange ("" = the transport's)
}

// Counts are the cache sizes reported in configurations: networks, subnets
// (non-local included) and ports.
type Counts struct {
	Networks, Subnets, Ports int
}

// Reporter is neutron's PluginReportStateAPI as the DHCP agent uses it:
// report_state (1.2) on q-reports-plugin, a call with timeout
// report_interval, start_flag until the first successful report.
type Reporter struct {
	tr     *amqp.Transport
	cfg    ReporterConfig
	counts func() Counts

	mu      sync.Mutex
	started bool // a report succeeded: start_flag no longer sent
}

// NewReporter returns a reporter; counts is read at every report.
func NewReporter(tr *amqp.Transport, cfg ReporterConfig, counts func() Counts) *Reporter {
	return &Reporter{tr: tr, cfg: cfg, counts: counts}
}

// state builds the agent_state dict.
func (r *Reporter) state(first bool) map[string]any {
	var c Counts
	if r.counts != nil {
		c = r.counts()
	}
	s := map[string]any{
		"binary":            "neutron-dhcp-agent",
		"host":              r.cfg.Host,
		"availability_zone": r.cfg.AvailabilityZone,
		"topic":             TopicAgent,
		"configurations": map[string]any{
			"dhcp_driver":          r.cfg.DHCPDriver,
			"dhcp_lease_duration":  r.cfg.DHCPLeaseDuration,
			"log_agent_heartbeats": r.cfg.LogAgentHeartbeats,
			"networks":             c.Networks,
			"subnets":              c.Subnets,
			"ports":                c.Ports,
		},
		"agent_type": "DHCP agent",
		"uuid":       uuid.NewString(),
	}
	if first {
		s["start_flag"] = true
	}
	return s
}

// Report sends one state report and returns the server's answer ("new",
// "alive" or "revived"; "" if it answered None).
func (r *Reporter) Report(ctx context.Context) (string, error) {
	r.mu.Lock()
	first := !r.started
	r.mu.Unlock()
	timeout := r.cfg.ReportInterval
	if timeout <= 0 {
		timeout = r.tr.Options().RPCResponseTimeout
	}
	args := map[string]any{
		"agent_state": map[string]any{"agent_state": r.state(first)},
		"time":        utcnowISO(time.Now()),
	}
	res, err := r.tr.Call(ctx, amqp.Target{Exchange: r.cfg.Exchange, Topic: TopicReports, Version: ReportStateVersion},
		amqp.Request{Method: "report_state", Args: args, Context: AdminContext()}, timeout)
	if err != nil {
		return "", fmt.Errorf("report_state: %w", err)
	}
	r.mu.Lock()
	r.started = true
	r.mu.Unlock()
	var status string
	if string(res) != "null" {
		if err := json.Unmarshal(res, &status); err != nil {
			return "", fmt.Errorf("report_state: reply %s: %w", res, err)
		}
	}
	return status, nil
}

// Run reports now and then every ReportInterval until ctx ends, passing
// each outcome to onResult (which must not block for long). A
// ReportInterval <= 0 disables reporting, as in neutron.
func (r *Reporter) Run(ctx context.Context, onResult func(status string, err error)) {
	if r.cfg.ReportInterval <= 0 {
		return
	}
	tick := time.NewTicker(r.cfg.ReportInterval)
	defer tick.Stop()
	for {
		status, err := r.Report(ctx)
		if ctx.Err() != nil {
			return
		}
		if onResult != nil {
			onResult(status, err)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
