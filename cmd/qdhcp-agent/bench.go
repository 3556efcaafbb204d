package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/pprof"
	"slices"
	"strings"
	"syscall"
	"time"
)

// benchScenarios are the scenarios of `qdhcp-agent bench`, in run order.
// floor runs before cold_sync (its line, with the ratios, is printed after
// cold_sync_veth).
var benchScenarios = []string{"render_large", "floor", "cold_sync", "cold_sync_veth", "restart_sync", "event_latency", "storm", "rss"}

// benchFlags are the options of `qdhcp-agent bench`.
type benchFlags struct {
	configFiles multiFlag
	scenarios   string
	networks    int
	ports       int
	events      int
	storm       int
	stateRoot   string
	ovsdb       string
	bridge      string
	fixture     string
	golden      string
	cpuprofile  string
	logFile     string
	settle      time.Duration
	timeout     time.Duration
}

func parseBenchFlags(args []string, stderr io.Writer) (*benchFlags, error) {
	f := &benchFlags{}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Var(&f.configFiles, "config-file", "neutron.conf / dhcp_agent.ini for the benchmarked agent (default: neutron's defaults)")
	fs.StringVar(&f.scenarios, "scenarios", strings.Join(benchScenarios, ","), "comma-separated scenarios to run")
	fs.IntVar(&f.networks, "networks", 100, "cold_sync and floor: number of networks")
	fs.IntVar(&f.ports, "ports", 10, "cold_sync: ports per network")
	fs.IntVar(&f.events, "events", 50, "event_latency: single-port events per path (injected, file)")
	fs.IntVar(&f.storm, "storm", 500, "storm: port creates in the burst")
	fs.StringVar(&f.stateRoot, "state-dir", "/var/tmp/qdhcp-bench", "where each run keeps its state (leftovers of a killed run are cleaned up at the next)")
	fs.StringVar(&f.ovsdb, "ovsdb", "", "OVSDB endpoint, overriding [OVS] ovsdb_connection")
	fs.StringVar(&f.bridge, "bridge", "", "integration bridge to plug into (default: a bridge of the run's own, isolated like unbound neutron ports, removed at the end)")
	fs.StringVar(&f.fixture, "fixture", "testdata/fixtures/large_network_2000_ports.json", "render_large: the network")
	fs.StringVar(&f.golden, "golden", "testdata/golden/large_network_2000_ports", "render_large: neutron's rendering to check against (\"\" skips)")
	fs.StringVar(&f.cpuprofile, "cpuprofile", "", "write a CPU profile of the run to this file")
	fs.StringVar(&f.logFile, "log-file", "", "write the agents' logs here (default: formatted and discarded)")
	fs.DurationVar(&f.settle, "settle", time.Second, "pause between scenarios (lets the kernel finish tearing namespaces down)")
	fs.DurationVar(&f.timeout, "timeout", 5*time.Minute, "give up on a scenario after this long")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	for _, s := range f.list() {
		if !slices.Contains(benchScenarios, s) {
			return nil, fmt.Errorf("unknown scenario %q (have %s)", s, strings.Join(benchScenarios, ", "))
		}
	}
	if f.networks < 1 || f.ports < 0 || f.events < 1 || f.storm < 1 {
		return nil, errors.New("--networks, --events and --storm must be positive, --ports not negative")
	}
	if f.networks > 16384 || f.storm > 4000 || f.ports > 250 || f.ports+f.events*2 > 4000 {
		return nil, errors.New("too large: at most 16384 networks, 250 ports per network, a 4000-port storm")
	}
	return f, nil
}

func (f *benchFlags) list() []string {
	var out []string
	for _, s := range strings.Split(f.scenarios, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func (f *benchFlags) want(s string) bool { return slices.Contains(f.list(), s) }

// benchResult is one JSON line of output.
type benchResult map[string]any

// cmdBench is `qdhcp-agent bench`: it prints one JSON line per scenario.
// Every scenario except render_large needs root and a running OVS
// (scripts/testenv.sh setup); each removes what it made (namespaces, OVS
// ports, dnsmasq, state) when it ends, fails or is interrupted.
func cmdBench(args []string, stdout, stderr io.Writer) int {
	f, err := parseBenchFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "qdhcp-agent bench:", err)
		return 2
	}
	if err := runBench(f, stdout, stderr); err != nil {
		fmt.Fprintln(stderr, "qdhcp-agent bench:", err)
		return 1
	}
	return 0
}

func runBench(f *benchFlags, stdout, stderr io.Writer) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	go func() {
		n := 0
		for range sigs {
			if n++; n == 1 {
				fmt.Fprintln(stderr, "qdhcp-agent bench: interrupted, cleaning up")
				cancel()
			} else {
				fmt.Fprintln(stderr, "qdhcp-agent bench: still cleaning up")
			}
		}
	}()

	logOut := io.Discard
	if f.logFile != "" {
		lf, err := os.Create(f.logFile)
		if err != nil {
			return err
		}
		defer lf.Close()
		logOut = lf
	}
	log := slog.New(slog.NewTextHandler(logOut, nil))

	if f.cpuprofile != "" {
		pf, err := os.Create(f.cpuprofile)
		if err != nil {
			return err
		}
		defer pf.Close()
		if err := pprof.StartCPUProfile(pf); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}

	emit := func(r benchResult) {
		// the scenario first, then the figures in key order
		name, _ := json.Marshal(r["scenario"])
		delete(r, "scenario")
		b, _ := json.Marshal(r)
		fmt.Fprintf(stdout, "{\"scenario\":%s,%s\n", name, b[1:])
	}
	var errs []error
	run := func(name string, fn func(context.Context) (benchResult, error)) benchResult {
		if ctx.Err() != nil {
			return nil
		}
		sctx, scancel := context.WithTimeout(ctx, f.timeout)
		defer scancel()
		load := loadAvg()
		var res benchResult
		var err error
		// CPU profile samples carry the scenario (go tool pprof -tagfocus=scenario=storm)
		pprof.Do(sctx, pprof.Labels("scenario", name), func(ctx context.Context) { res, err = fn(ctx) })
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
			return nil
		}
		if res != nil {
			res["scenario"] = name
			res["loadavg_1m_before"] = load
		}
		return res
	}

	var env *benchEnv
	needEnv := false
	for _, s := range f.list() {
		needEnv = needEnv || s != "render_large"
	}
	if needEnv {
		var err error
		if env, err = newBenchEnv(f, log); err != nil {
			return err
		}
		defer env.close()
	}
	pause := func() {
		select {
		case <-ctx.Done():
		case <-time.After(f.settle):
		}
	}

	if f.want("render_large") {
		if r := run("render_large", func(context.Context) (benchResult, error) { return benchRender(f) }); r != nil {
			emit(r)
		}
	}
	var floor, cold, coldVeth benchResult
	if f.want("floor") {
		floor = run("floor", env.floor)
		pause()
	}
	if f.want("cold_sync") {
		cold = run("cold_sync", env.coldSync)
		if cold != nil {
			emit(cold)
		}
		pause()
	}
	if f.want("cold_sync_veth") {
		coldVeth = run("cold_sync_veth", env.coldSyncVeth)
		if coldVeth != nil {
			emit(coldVeth)
		}
		pause()
	}
	if floor != nil {
		addFloorRatios(floor, cold, coldVeth)
		emit(floor)
	}
	if f.want("restart_sync") {
		if r := run("restart_sync", env.restartSync); r != nil {
			emit(r)
		}
		pause()
	}
	if f.want("event_latency") {
		if r := run("event_latency", env.eventLatency); r != nil {
			emit(r)
		}
		pause()
	}
	if f.want("storm") {
		if r := run("storm", env.storm); r != nil {
			emit(r)
		}
	}
	if f.want("rss") {
		if r := run("rss", func(context.Context) (benchResult, error) { return env.rss() }); r != nil {
			emit(r)
		}
	}
	if ctx.Err() != nil {
		errs = append(errs, errors.New("interrupted"))
	}
	return errors.Join(errs...)
}

// addFloorRatios adds to the floor's line how the cold syncs compare with
// it: cold_sync_ratio (the goal: at most 2, "ok"), the same for
// cold_sync_veth, and cold_sync against the floor plus one device move per
// network (what plugging an OVS internal port adds, measured in the floor
// run: the kernel serialises the moves).
func addFloorRatios(floor, cold, coldVeth benchResult) {
	base := floor["seconds"].(float64)
	if cold != nil {
		ratio := cold["seconds"].(float64) / base
		floor["cold_sync_ratio"] = round3(ratio)
		floor["ok"] = ratio <= 2
		if withMove, ok := floor["floor_with_move_seconds"].(float64); ok && withMove > 0 {
			floor["cold_sync_ratio_with_move"] = round3(cold["seconds"].(float64) / withMove)
		}
	}
	if coldVeth != nil {
		ratio := coldVeth["seconds"].(float64) / base
		floor["cold_sync_veth_ratio"] = round3(ratio)
		floor["ok_veth"] = ratio <= 2
	}
}

// round3 rounds to three decimals for readable JSON.
func round3(v float64) float64 {
	return float64(int64(v*1000+0.5)) / 1000
}

// ms converts a duration to milliseconds with three decimals.
func ms(d time.Duration) float64 { return round3(float64(d) / float64(time.Millisecond)) }
