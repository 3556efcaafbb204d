package procmon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Action is [AGENT] check_child_processes_action.
type Action string

const (
	ActionRespawn Action = "respawn"
	ActionExit    Action = "exit"
)

// Config configures a Monitor.
type Config struct {
	// Interval is [AGENT] check_child_processes_interval: 0 turns the
	// monitor off (deaths are only logged, and only a death right after a
	// CheckNow is acted on). Deaths are noticed at once through pidfds; the
	// interval is how often every service is re-checked from its pid file
	// as well.
	Interval time.Duration
	// Action is [AGENT] check_child_processes_action (default respawn).
	Action Action
	// Exit is called (once) when a service dies and Action is exit; Run
	// then returns an *ExitError. Typically os.Exit.
	Exit func(code int)
	// Backoff limits crash-loop respawns (zero fields: DefaultBackoff).
	Backoff Backoff
	// StartGrace is how long a registered or respawned process may take to
	// write its pid file before it counts as dead (default 2 s).
	StartGrace time.Duration
	// ReloadWindow: a death this soon after CheckNow is logged and counted
	// as a death after reload (default 3 s).
	ReloadWindow time.Duration
	// PollInterval is the liveness poll period where pidfds are not
	// available (default 200 ms).
	PollInterval time.Duration
	// Logger (default slog.Default()).
	Logger *slog.Logger
	// OnEvent, if set, is called synchronously for every event; it must
	// not block.
	OnEvent func(Event)
}

// Service is a monitored daemon.
type Service struct {
	UUID    string // resource id; must appear in the daemon's command line
	Name    string // "dnsmasq", "haproxy"
	PidFile string
	// Respawn starts the daemon again (with the argv of whoever
	// registered it). Its ctx is cancelled when the service is
	// unregistered or the monitor stops: a Respawn that takes a lock
	// must check ctx after taking it and not start anything once
	// cancelled.
	Respawn func(ctx context.Context) error
}

// ErrChildExited is wrapped by the error Run returns for action exit.
var ErrChildExited = errors.New("monitored child process died")

// ExitError is Run's error when a service died with action exit.
type ExitError struct {
	Key Key
	PID int
}

func (e *ExitError) Error() string {
	return fmt.Sprintf("%s for %s (pid %d) died and check_child_processes_action is exit", e.Key.Name, e.Key.UUID, e.PID)
}

func (e *ExitError) Unwrap() error { return ErrChildExited }

// Monitor is neutron's ProcessMonitor: a registry of daemons by (uuid,
// service) that are respawned (or make the agent exit) when they die.
type Monitor struct {
	cfg Config
	log *slog.Logger

	mu      sync.Mutex
	entries map[Key]*entry
	runCtx  context.Context // non-nil while Run is active
	wg      sync.WaitGroup

	fatal    chan error
	exitOnce sync.Once
	total    counters
}

// entry is one registered service.
type entry struct {
	key        Key
	svc        Service // guarded by Monitor.mu
	cancel     context.CancelFunc
	poke       chan struct{}
	reloadedAt atomic.Int64 // unix ns of the last CheckNow
	stats      counters
	loop       loopState // watcher goroutine only
}

// New returns a Monitor; call Run to start watching.
func New(cfg Config) *Monitor {
	if cfg.Action == "" {
		cfg.Action = ActionRespawn
	}
	if cfg.StartGrace <= 0 {
		cfg.StartGrace = 2 * time.Second
	}
	if cfg.ReloadWindow <= 0 {
		cfg.ReloadWindow = 3 * time.Second
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = 200 * time.Millisecond
	}
	cfg.Backoff = cfg.Backoff.withDefaults()
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Monitor{
		cfg:     cfg,
		log:     log.With("component", "procmon"),
		entries: map[Key]*entry{},
		fatal:   make(chan error, 1),
	}
}

// Register adds (or updates) a service. Register it once it is running:
// a service not running StartGrace after Register counts as dead.
func (m *Monitor) Register(s Service) error {
	if s.UUID == "" || s.Name == "" || s.PidFile == "" || s.Respawn == nil {
		return fmt.Errorf("procmon: register %q/%q: uuid, name, pid file and respawn are required", s.UUID, s.Name)
	}
	k := Key{s.UUID, s.Name}
	m.mu.Lock()
	defer m.mu.Unlock()
	if e, ok := m.entries[k]; ok {
		e.svc = s
		e.kick()
		return nil
	}
	e := &entry{key: k, svc: s, poke: make(chan struct{}, 1)}
	m.entries[k] = e
	if m.runCtx != nil {
		m.start(e)
	}
	return nil
}

// Unregister removes a service; its watcher stops and an in-flight Respawn
// sees its ctx cancelled. Unregister before stopping a daemon on purpose.
func (m *Monitor) Unregister(uuid, name string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := Key{uuid, name}
	if e, ok := m.entries[k]; ok {
		delete(m.entries, k)
		if e.cancel != nil {
			e.cancel()
		}
	}
}

// Registered reports whether (uuid, name) is registered.
func (m *Monitor) Registered(uuid, name string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.entries[Key{uuid, name}]
	return ok
}

// CheckNow re-checks a service at once. The driver calls it right after
// SIGHUP: dnsmasq may die handling it (DNSMASQ_QUIRKS 1), and a death in the
// next ReloadWindow is then respawned immediately (even with the monitor
// off or action exit, as neutron's reload spawns a dnsmasq it finds dead)
// and logged as a death after reload. It returns whether the service is
// alive at this instant.
func (m *Monitor) CheckNow(uuid, name string) bool {
	m.mu.Lock()
	e, ok := m.entries[Key{uuid, name}]
	var svc Service
	if ok {
		svc = e.svc
		e.reloadedAt.Store(time.Now().UnixNano())
		e.kick()
	}
	m.mu.Unlock()
	if !ok {
		return false
	}
	_, alive := Active(svc.PidFile, svc.UUID)
	return alive
}

// Stats returns the counters summed over all services ever registered.
func (m *Monitor) Stats() Stats { return m.total.snapshot() }

// ServiceStats returns one registered service's counters.
func (m *Monitor) ServiceStats(uuid, name string) (Stats, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.entries[Key{uuid, name}]
	if !ok {
		return Stats{}, false
	}
	return e.stats.snapshot(), true
}

// Run watches the registered services until ctx ends (nil) or a service
// dies with action exit (*ExitError). Services registered while Run is
// active are watched at once.
func (m *Monitor) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	m.mu.Lock()
	if m.runCtx != nil {
		m.mu.Unlock()
		return errors.New("procmon: Run already active")
	}
	m.runCtx = ctx
	for _, e := range m.entries {
		m.start(e)
	}
	m.mu.Unlock()
	if m.cfg.Interval <= 0 {
		m.log.Info("child process monitor is off (check_child_processes_interval = 0)")
	}

	var err error
	select {
	case <-ctx.Done():
	case err = <-m.fatal:
	}
	cancel()
	m.mu.Lock()
	m.runCtx = nil
	for _, e := range m.entries {
		e.cancel = nil
	}
	m.mu.Unlock()
	m.wg.Wait()
	return err
}

// start launches e's watcher; m.mu held.
func (m *Monitor) start(e *entry) {
	ctx, cancel := context.WithCancel(m.runCtx)
	e.cancel = cancel
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		m.watch(ctx, e)
	}()
}

// service returns e's current Service, false once unregistered.
func (m *Monitor) service(e *entry) (Service, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.entries[e.key] != e {
		return Service{}, false
	}
	return e.svc, true
}

func (e *entry) kick() {
	select {
	case e.poke <- struct{}{}:
	default:
	}
}

func (e *entry) afterReload(now time.Time, window time.Duration) bool {
	t := e.reloadedAt.Load()
	return t != 0 && now.Sub(time.Unix(0, t)) <= window
}

func (m *Monitor) emit(ev Event) {
	if m.cfg.OnEvent != nil {
		m.cfg.OnEvent(ev)
	}
}

// fail ends Run with err and calls the Exit hook once.
func (m *Monitor) fail(err error) {
	select {
	case m.fatal <- err:
	default:
	}
	m.exitOnce.Do(func() {
		if m.cfg.Exit != nil {
			m.cfg.Exit(1)
		}
	})
}
