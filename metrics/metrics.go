// Package metrics exposes the agent's Prometheus metrics and health check
// on an optional listen address.
package metrics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are the agent's instruments. The zero value is not usable; use New.
type Metrics struct {
	Registry *prometheus.Registry

	NetworksServed prometheus.Gauge
	SyncDuration   prometheus.Histogram
	Events         *prometheus.CounterVec // by notification method
	Actions        *prometheus.CounterVec // by driver action (enable, reload, restart, disable)
	Renders        prometheus.Counter
	HUPs           prometheus.Counter
	Respawns       prometheus.Counter
	RPCErrors      *prometheus.CounterVec // by method
	LastReport     prometheus.Gauge       // unix time of the last successful state report

	mu     sync.Mutex
	checks map[string]func() error
}

// New registers the agent's metrics in a fresh registry (plus the Go and
// process collectors).
func New() *Metrics {
	r := prometheus.NewRegistry()
	m := &Metrics{
		Registry: r,
		NetworksServed: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "qdhcp_networks_served", Help: "Networks this agent serves DHCP for."}),
		SyncDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "qdhcp_sync_duration_seconds", Help: "Duration of full and partial syncs.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2, 14)}),
		Events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "qdhcp_events_total", Help: "Server notifications received, by method."}, []string{"method"}),
		Actions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "qdhcp_driver_actions_total", Help: "Driver actions on networks, by action and result."},
			[]string{"action", "result"}),
		Renders: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "qdhcp_renders_total", Help: "dnsmasq file sets rendered."}),
		HUPs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "qdhcp_dnsmasq_hups_total", Help: "SIGHUPs sent to dnsmasq."}),
		Respawns: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "qdhcp_respawns_total", Help: "Supervised processes respawned after dying."}),
		RPCErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "qdhcp_rpc_errors_total", Help: "Failed calls to the server, by method."}, []string{"method"}),
		LastReport: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "qdhcp_last_report_timestamp_seconds", Help: "Unix time of the last successful state report."}),
		checks: map[string]func() error{},
	}
	r.MustRegister(m.NetworksServed, m.SyncDuration, m.Events, m.Actions, m.Renders, m.HUPs,
		m.Respawns, m.RPCErrors, m.LastReport,
		prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	return m
}

// AddCounterFunc registers a counter whose value fn reads at each scrape
// (a count another component keeps).
func (m *Metrics) AddCounterFunc(name, help string, fn func() float64) {
	m.Registry.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, fn))
}

// AddCheck registers a named health check; /healthz fails while any fails.
func (m *Metrics) AddCheck(name string, check func() error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.checks[name] = check
}

// Health runs every check and joins their errors.
func (m *Metrics) Health() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	var errs []error
	for name, c := range m.checks {
		if err := c(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
		}
	}
	return errors.Join(errs...)
}

// Handler serves /metrics and /healthz.
func (m *Metrics) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		if err := m.Health(); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
	return mux
}

// Serve listens on addr until ctx ends. It returns once listening (or the
// listen error); serving errors are logged.
func (m *Metrics) Serve(ctx context.Context, addr string, log *slog.Logger) (net.Addr, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics listen %s: %w", addr, err)
	}
	srv := &http.Server{Handler: m.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server stopped", "err", err)
		}
	}()
	log.Info("metrics listening", "addr", ln.Addr().String())
	return ln.Addr(), nil
}
