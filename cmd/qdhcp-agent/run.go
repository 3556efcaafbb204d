package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"qdhcp/dhcpagent"
	"qdhcp/dhcpagent/config"
	"qdhcp/dnsmasq/driver"
	"qdhcp/internal/stack"
	"qdhcp/metrics"
	"qdhcp/model"
	"qdhcp/procmon"
)

// DefaultSourceDir is where the embedded file source reads network files
// when neither transport_url nor --source says otherwise.
const DefaultSourceDir = "/etc/qdhcp/networks"

// multiFlag collects a repeated flag (--config-file F --config-file G).
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// runFlags are the daemon's command-line options.
type runFlags struct {
	configFiles multiFlag
	source      string
	metrics     string
	logFormat   string
	ovsdb       string
}

func parseRunFlags(args []string) (*runFlags, error) {
	f := &runFlags{}
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.Var(&f.configFiles, "config-file", "neutron.conf / dhcp_agent.ini (repeatable; later files win)")
	fs.StringVar(&f.source, "source", "", "where networks come from: rabbit (transport_url) or dir:PATH "+
		"(default: rabbit when transport_url is set, else dir:"+DefaultSourceDir+")")
	fs.StringVar(&f.metrics, "metrics-listen", "", "serve /metrics and /healthz on this address (e.g. 127.0.0.1:9779)")
	fs.StringVar(&f.logFormat, "log-format", "text", "text or json")
	fs.StringVar(&f.ovsdb, "ovsdb", "", "OVSDB endpoint, overriding [OVS] ovsdb_connection (e.g. unix:/var/run/openvswitch/db.sock)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	return f, nil
}

func newLogger(format string, debug bool, level *slog.LevelVar) *slog.Logger {
	if debug {
		level.Set(slog.LevelDebug)
	} else {
		level.Set(slog.LevelInfo)
	}
	opts := &slog.HandlerOptions{Level: level}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}

// cmdRun is `qdhcp-agent run`: the daemon. SIGTERM/SIGINT stop it and leave
// dnsmasq running (DHCP goes on during an upgrade); SIGHUP re-reads the
// configuration files.
func cmdRun(args []string) int {
	f, err := parseRunFlags(args)
	if err != nil {
		fmt.Fprintln(os.Stderr, "qdhcp-agent run:", err)
		return 2
	}
	conf, err := config.Load(f.configFiles...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "qdhcp-agent run:", err)
		return 2
	}
	level := new(slog.LevelVar)
	log := newLogger(f.logFormat, conf.Debug, level)
	slog.SetDefault(log)
	if err := runDaemon(conf, f, log, level); err != nil {
		log.Error("agent failed", "err", err)
		return 1
	}
	return 0
}

func runDaemon(conf *config.Config, f *runFlags, log *slog.Logger, level *slog.LevelVar) error {
	if conf.DHCPDriver != config.DefaultDHCPDriver && !strings.HasSuffix(conf.DHCPDriver, ".Dnsmasq") {
		return fmt.Errorf("dhcp_driver %q: only %s is implemented", conf.DHCPDriver, config.DefaultDHCPDriver)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	if err := os.MkdirAll(conf.DHCPConfs, 0o755); err != nil {
		return fmt.Errorf("state dir: %w", err)
	}
	if err := procmon.EnableSubreaper(); err != nil {
		log.Warn("cannot become child subreaper; daemon zombies are left to PID 1", "err", err)
	} else {
		go procmon.RunOrphanReaper(ctx, time.Second, log)
	}

	m := metrics.New()
	if f.metrics != "" {
		if _, err := m.Serve(ctx, f.metrics, log); err != nil {
			return err
		}
	}

	src, err := openSource(ctx, conf, f, log)
	if err != nil {
		return err
	}
	defer src.close()

	plugin := countingPlugin{PluginAPI: src.plugin, m: m}
	st, err := stack.New(conf, plugin, stack.Options{
		OVSDB:  f.ovsdb,
		Logger: log,
		Exit:   func(int) { stop() },
		OnProcessEvent: func(e procmon.Event) {
			if e.Kind == procmon.EventRespawned {
				m.Respawns.Inc()
			}
		},
	})
	if err != nil {
		return err
	}
	defer st.Close()
	st.StartMonitor(ctx)
	m.AddCheck("processes", func() error {
		if s := st.Monitor.Stats(); s.Backoffs > 0 && s.Respawns == 0 {
			return errors.New("a supervised process is crash-looping")
		}
		return nil
	})

	agent := st.Agent
	agent.Observer = func(r dhcpagent.BatchResult) {
		res := "ok"
		if r.Err != nil {
			res = "error"
		}
		m.Actions.WithLabelValues(r.Action, res).Inc()
		m.NetworksServed.Set(float64(len(agent.Networks())))
	}
	agent.OnSync = func(d time.Duration, _ int, _ error) { m.SyncDuration.Observe(d.Seconds()) }
	m.AddCounterFunc("qdhcp_ports_rejected_total", "Ports from the server left out as malformed.",
		func() float64 { return float64(agent.Stats().PortsRejected) })
	notify := func(n model.Notification) {
		m.Events.WithLabelValues(n.Method).Inc()
		st.Notify(n)
	}
	src.reported = func() { m.LastReport.SetToCurrentTime() }
	if err := src.start(ctx, notify, agent); err != nil {
		return err
	}
	m.AddCheck("source", src.health)

	go reloadOnHUP(ctx, f, conf, log, level)
	go exportDriverStats(ctx, st.Driver, m)

	log.Info("qdhcp agent starting", "host", conf.Host, "state_path", conf.StatePath, "source", src.name,
		"bridge", conf.IntegrationBridge())
	return st.Run(ctx)
}

// exportDriverStats mirrors the driver's counters into the metrics.
func exportDriverStats(ctx context.Context, drv *driver.Driver, m *metrics.Metrics) {
	var last driver.Stats
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s := drv.Stats()
		m.Renders.Add(float64(s.Renders - last.Renders))
		m.HUPs.Add(float64(s.HUPs - last.HUPs))
		last = s
	}
}

// reloadOnHUP re-reads the configuration files on SIGHUP. The log level
// (debug) applies at once; other changed options are reported as needing
// a restart.
func reloadOnHUP(ctx context.Context, f *runFlags, conf *config.Config, log *slog.Logger, level *slog.LevelVar) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGHUP)
	defer signal.Stop(ch)
	for {
		select {
		case <-ctx.Done():
			return
		case <-ch:
		}
		fresh, err := config.Load(f.configFiles...)
		if err != nil {
			log.Error("SIGHUP: configuration not reloaded", "err", err)
			continue
		}
		if fresh.Debug {
			level.Set(slog.LevelDebug)
		} else {
			level.Set(slog.LevelInfo)
		}
		d := *fresh
		d.Debug = conf.Debug
		if fmt.Sprintf("%+v", d) != fmt.Sprintf("%+v", *conf) {
			log.Warn("SIGHUP: configuration reloaded; options other than debug take effect at the next start")
		} else {
			log.Info("SIGHUP: configuration reloaded", "debug", fresh.Debug)
		}
	}
}

// source is the server side the agent talks to.
type source struct {
	name   string
	plugin model.PluginAPI
	start  func(ctx context.Context, notify model.NotificationFunc, agent *dhcpagent.Agent) error
	health func() error
	close  func()
	// reported, when set, is called after each successful state report.
	reported func()
}

func openSource(ctx context.Context, conf *config.Config, f *runFlags, log *slog.Logger) (*source, error) {
	spec := f.source
	if spec == "" {
		if conf.HasTransportURL() {
			spec = "rabbit"
		} else {
			spec = "dir:" + DefaultSourceDir
		}
	}
	switch {
	case strings.HasPrefix(spec, "dir:"):
		dir := strings.TrimPrefix(spec, "dir:")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("source %s: %w", spec, err)
		}
		fs := stack.NewFileSource(conf, dir, log)
		return &source{
			name:   spec,
			plugin: fs,
			start: func(ctx context.Context, notify model.NotificationFunc, _ *dhcpagent.Agent) error {
				return fs.Start(ctx, notify)
			},
			health: func() error {
				if _, err := os.Stat(dir); err != nil {
					return err
				}
				return nil
			},
			close: func() { fs.Close() },
		}, nil
	case spec == "rabbit":
		return openRabbit(ctx, conf, log)
	}
	return nil, fmt.Errorf("unknown --source %q (want rabbit or dir:PATH)", spec)
}
