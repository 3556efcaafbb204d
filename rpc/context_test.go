package rpc

import (
	"encoding/json"
	"sort"
	"strconv"
	"testing"
	"time"
)

func jsonUnmarshal(raw json.RawMessage, v any) error { return json.Unmarshal(raw, v) }

func itoa(n int) string { return strconv.Itoa(n) }

func TestAdminContext(t *testing.T) {
	a, b := AdminContext(), AdminContext()
	var keys []string
	for k := range a {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if len(keys) != len(adminContextKeys) {
		t.Errorf("keys = %v", keys)
	}
	if a["request_id"] == b["request_id"] {
		t.Error("request_id not fresh per context")
	}
	if _, err := time.Parse("2006-01-02 15:04:05.999999", a["timestamp"].(string)); err != nil {
		t.Errorf("timestamp %q: %v", a["timestamp"], err)
	}
}

func TestPythonTimeFormats(t *testing.T) {
	ts := time.Date(2024, 1, 15, 10, 0, 0, 123456789, time.UTC)
	if got := pythonDatetime(ts); got != "2024-01-15 10:00:00.123456" {
		t.Errorf("str(datetime) = %q", got)
	}
	if got := pythonDatetime(ts.Truncate(time.Second)); got != "2024-01-15 10:00:00" {
		t.Errorf("str(datetime) without microseconds = %q", got)
	}
	if got := utcnowISO(ts.In(time.FixedZone("x", 3600))); got != "2024-01-15T10:00:00.123456" {
		t.Errorf("utcnow strftime = %q", got)
	}
	if got := utcnowISO(ts.Truncate(time.Second)); got != "2024-01-15T10:00:00.000000" {
		t.Errorf("%%f always has 6 digits: %q", got)
	}
}
