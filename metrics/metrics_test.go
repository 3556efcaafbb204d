package metrics

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
)

func TestServeMetricsAndHealth(t *testing.T) {
	m := New()
	m.NetworksServed.Set(3)
	m.Events.WithLabelValues("port_update_end").Add(2)
	m.HUPs.Inc()
	broken := false
	m.AddCheck("source", func() error {
		if broken {
			return errors.New("unreachable")
		}
		return nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr, err := m.Serve(ctx, "127.0.0.1:0", slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + addr.String() + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, body := get("/metrics")
	if code != 200 {
		t.Fatalf("/metrics: %d", code)
	}
	for _, want := range []string{
		"qdhcp_networks_served 3",
		`qdhcp_events_total{method="port_update_end"} 2`,
		"qdhcp_dnsmasq_hups_total 1",
		"go_goroutines",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if code, _ := get("/healthz"); code != 200 {
		t.Fatalf("/healthz healthy: %d", code)
	}
	broken = true
	code, body = get("/healthz")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "source: unreachable") {
		t.Fatalf("/healthz broken: %d %q", code, body)
	}
}
