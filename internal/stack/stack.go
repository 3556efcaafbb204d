// Package stack wires one whole DHCP agent the way `qdhcp-agent run` does:
// the device manager (OVSDB, netlink, iptables), the process monitor, the
// dnsmasq driver and the agent, on a plugin API (the RabbitMQ client or the
// embedded file source). The daemon and `qdhcp-agent bench` both build
// their agent here, so the benchmark measures what runs in production.
package stack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"qdhcp/devicemanager"
	"qdhcp/dhcpagent"
	"qdhcp/dhcpagent/config"
	"qdhcp/dnsmasq/driver"
	"qdhcp/model"
	"qdhcp/procmon"
	"qdhcp/source/filesource"
)

// Options tune a Stack; zero values are the daemon's defaults.
type Options struct {
	// OVSDB overrides [OVS] ovsdb_connection (e.g.
	// unix:/var/run/openvswitch/db.sock).
	OVSDB string
	// Logger (default slog.Default()); components get a "component" attr.
	Logger *slog.Logger
	// Exit is the monitor's action when a supervised process dies and
	// check_child_processes_action is exit (the daemon stops itself).
	Exit func(code int)
	// OnProcessEvent sees every process monitor event (metrics); it must
	// not block.
	OnProcessEvent func(procmon.Event)
	// DeviceCheckInterval is how often every served network's DHCP device
	// is checked and repaired after an ovs-vswitchd restart (default 2 s;
	// negative: never).
	DeviceCheckInterval time.Duration
}

// Stack is one agent with everything it drives.
type Stack struct {
	Conf    *config.Config
	Plugin  model.PluginAPI
	Devices *devicemanager.Manager
	Monitor *procmon.Monitor
	Driver  *driver.Driver
	Agent   *dhcpagent.Agent

	log      *slog.Logger
	opts     Options
	monErr   chan error
	monStart bool
}

// New builds the stack for conf on plugin. Nothing runs before
// StartMonitor and Run; Close releases the OVSDB connection.
func New(conf *config.Config, plugin model.PluginAPI, opts Options) (*Stack, error) {
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	var devOpts []devicemanager.Option
	if opts.OVSDB != "" {
		devOpts = append(devOpts, devicemanager.WithOVSDBEndpoints(opts.OVSDB))
	}
	devices, err := devicemanager.New(conf, log, devOpts...)
	if err != nil {
		return nil, fmt.Errorf("device manager: %w", err)
	}
	mon := procmon.New(procmon.Config{
		Interval: time.Duration(conf.Agent.CheckChildProcessesInterval) * time.Second,
		Action:   procmon.Action(conf.Agent.CheckChildProcessesAction),
		Logger:   log,
		Exit:     opts.Exit,
		OnEvent:  opts.OnProcessEvent,
	})
	var agent *dhcpagent.Agent
	drv := driver.New(conf, plugin, devices, mon, driver.Options{Logger: log.With("component", "dnsmasq"),
		OnAsyncError: func(networkID string, err error) { agent.ScheduleResync(err.Error(), networkID) }})
	agent = dhcpagent.New(conf, plugin, drv, log.With("component", "agent"))
	return &Stack{
		Conf: conf, Plugin: plugin, Devices: devices, Monitor: mon, Driver: drv, Agent: agent,
		log: log, opts: opts, monErr: make(chan error, 1),
	}, nil
}

// NewFileSource is the embedded file source for conf: network files in
// dir, the DHCP ports it allocates kept under state_path/qdhcp-source.
func NewFileSource(conf *config.Config, dir string, log *slog.Logger) *filesource.Source {
	if log == nil {
		log = slog.Default()
	}
	return filesource.New(dir, filepath.Join(conf.StatePath, "qdhcp-source"), conf.Host,
		log.With("component", "filesource"))
}

// Notify hands a server notification to the agent; a payload the agent
// cannot use is logged.
func (s *Stack) Notify(n model.Notification) {
	if err := s.Agent.HandleNotification(n); err != nil {
		s.log.Warn("notification rejected", "method", n.Method, "err", err)
	}
}

// StartMonitor starts the process monitor (until ctx ends). Run starts it
// if it was not started before.
func (s *Stack) StartMonitor(ctx context.Context) {
	if s.monStart {
		return
	}
	s.monStart = true
	go func() { s.monErr <- s.Monitor.Run(ctx) }()
}

// Run runs the agent (full sync, then events and resyncs), the device
// check and the process monitor until ctx ends, and returns when all three
// have stopped (no repair or respawn races a caller's teardown). dnsmasq
// keeps running afterwards. It returns the monitor's *procmon.ExitError
// when a supervised process died with check_child_processes_action=exit,
// else the agent's error.
func (s *Stack) Run(ctx context.Context) error {
	s.StartMonitor(ctx)
	var watch sync.WaitGroup
	if s.opts.DeviceCheckInterval >= 0 {
		every := s.opts.DeviceCheckInterval
		if every == 0 {
			every = 2 * time.Second
		}
		watch.Add(1)
		go func() { defer watch.Done(); s.watchDevices(ctx, every) }()
	}
	runErr := s.Agent.Run(ctx)
	// no repair may still be running once Run returns (a caller tearing
	// networks down would race it)
	watch.Wait()
	var monErr error
	if ctx.Err() != nil {
		monErr = <-s.monErr // the monitor stops with ctx
	} else {
		select {
		case monErr = <-s.monErr:
		default:
		}
	}
	var exit *procmon.ExitError
	if errors.As(monErr, &exit) {
		return monErr
	}
	return runErr
}

// Close drops the OVSDB connection.
func (s *Stack) Close() { s.Devices.Close() }

// watchDevices checks every served network's DHCP device and repairs it
// after an ovs-vswitchd restart orphaned it.
func (s *Stack) watchDevices(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, id := range s.Agent.Networks() {
			if ctx.Err() != nil {
				return
			}
			net := s.Agent.Network(id)
			if net == nil {
				continue
			}
			port := net.DHCPPortOf(s.Conf.Host)
			if port == nil {
				continue
			}
			repaired, err := s.Devices.Repair(ctx, net, port)
			if err != nil {
				s.log.Warn("device check failed", "network", id, "err", err)
			} else if repaired {
				s.log.Info("DHCP device repaired after an OVS restart", "network", id)
			}
		}
	}
}
