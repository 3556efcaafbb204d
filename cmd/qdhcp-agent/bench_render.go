package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"qdhcp/dhcpagent/config"
	"qdhcp/dnsmasq"
	"qdhcp/model"
)

// The reference renderings were made with this host and clock.
const (
	renderFixtureHost  = "network-node-1"
	renderFixtureEpoch = 1700000000
)

// renderGoalMs is the goal for one full render of the 2,000-port network.
const renderGoalMs = 5.0

// benchRender times full renders (host, addn_hosts, opts, leases, argv) of
// the reference 2,000-port network, after checking the render against
// neutron's files.
func benchRender(f *benchFlags) (benchResult, error) {
	raw, err := os.ReadFile(f.fixture)
	if err != nil {
		return nil, fmt.Errorf("fixture: %w (run from the repository root or pass --fixture)", err)
	}
	net, err := model.DecodeNetwork(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", f.fixture, err)
	}
	state, err := os.MkdirTemp("", "qdhcp-bench-render-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(state)
	conf := config.Defaults()
	for _, kv := range [][2]string{{"state_path", state}, {"host", renderFixtureHost},
		{"interface_driver", "openvswitch"}, {"metadata_proxy_user", "nobody"}, {"metadata_proxy_group", "nogroup"}} {
		if err := conf.Set("", kv[0], kv[1]); err != nil {
			return nil, fmt.Errorf("set %s: %w", kv[0], err)
		}
	}
	in := &dnsmasq.Input{Network: net, Conf: conf,
		Env: dnsmasq.Env{HostTagSupport: true, IPv6Enabled: true, Now: time.Unix(renderFixtureEpoch, 0)}}
	files, err := dnsmasq.Render(in)
	if err != nil {
		return nil, fmt.Errorf("render: %w", err)
	}
	golden := "skipped"
	if f.golden != "" {
		if err := sameAsGolden(f.golden, state, files); err != nil {
			return nil, err
		}
		golden = "match"
	}

	var renderErr error
	res := testing.Benchmark(func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if _, err := dnsmasq.Render(in); err != nil {
				renderErr = err
				b.FailNow()
			}
		}
	})
	if renderErr != nil {
		return nil, renderErr
	}
	if res.N == 0 {
		return nil, errors.New("benchmark did not run")
	}
	nsOp := res.NsPerOp()
	return benchResult{
		"ports":         len(net.Ports),
		"iterations":    res.N,
		"ns_per_op":     nsOp,
		"ms_per_op":     ms(time.Duration(nsOp)),
		"allocs_per_op": res.AllocsPerOp(),
		"bytes_per_op":  res.AllocedBytesPerOp(),
		"golden":        golden,
		"goal_ms":       renderGoalMs,
		"ok":            ms(time.Duration(nsOp)) < renderGoalMs,
	}, nil
}

// sameAsGolden compares the rendered files with neutron's ($STATE stands
// for state_path in the reference files).
func sameAsGolden(dir, state string, files *dnsmasq.Files) error {
	for name, got := range map[string][]byte{"host": files.Host, "addn_hosts": files.AddnHosts,
		"opts": files.Opts, "leases": files.Leases} {
		want, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return fmt.Errorf("golden: %w", err)
		}
		want = []byte(strings.ReplaceAll(string(want), "$STATE", state))
		if !bytes.Equal(got, want) {
			return fmt.Errorf("render differs from %s", filepath.Join(dir, name))
		}
	}
	return nil
}
