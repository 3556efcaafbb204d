package procmon

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// daemonService registers a helper daemon in namespace ns; respawns counts
// the Respawn calls.
type daemonService struct {
	Service
	respawns atomic.Int32
}

func newDaemonService(t *testing.T, ns, mode string) *daemonService {
	t.Helper()
	uuid := newUUID()
	pidFile := tempPidFile(t, uuid)
	killOnCleanup(t, pidFile, uuid)
	d := &daemonService{}
	argv := helperArgv(t, mode, uuid, pidFile)
	d.Service = Service{UUID: uuid, Name: "dnsmasq", PidFile: pidFile, Respawn: func(ctx context.Context) error {
		d.respawns.Add(1)
		return Daemon(ctx, ns, argv)
	}}
	if err := Daemon(t.Context(), ns, argv); err != nil {
		t.Fatal(err)
	}
	waitActive(t, pidFile, uuid, 0, 5*time.Second)
	return d
}

// SIGKILL of a watched daemon is noticed at once (the check interval is
// neutron's default 60 s, so only the pidfd can explain a fast detection)
// and it is respawned, in its namespace.
func TestMonitorRespawnsKilledDaemon(t *testing.T) {
	needRoot(t)
	ns := newNetns(t)
	ev := newEvents()
	var logs logBuffer
	m := New(Config{Interval: 60 * time.Second, OnEvent: ev.on, Logger: logs.logger()})
	d := newDaemonService(t, ns, "daemon")
	if err := m.Register(d.Service); err != nil {
		t.Fatal(err)
	}
	runMonitor(t, m)
	time.Sleep(50 * time.Millisecond) // let the watcher pin the process
	old, _ := Active(d.PidFile, d.UUID)

	killed := time.Now()
	if err := syscall.Kill(old, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	died := ev.next(t, EventDied, 5*time.Second)
	ev.next(t, EventRespawned, 5*time.Second)
	pid := waitActive(t, d.PidFile, d.UUID, old, 5*time.Second)
	up := time.Now()
	t.Logf("SIGKILL -> death noticed %s, -> new daemon active %s", died.At.Sub(killed), up.Sub(killed))
	if died.PID != old || died.AfterReload {
		t.Errorf("died event %+v, want pid %d not after reload", died, old)
	}
	if lat := died.At.Sub(killed); lat > time.Second {
		t.Errorf("death noticed after %s, want < 1s", lat)
	}
	if pid == old || d.respawns.Load() != 1 {
		t.Errorf("new pid %d (old %d), respawn calls %d", pid, old, d.respawns.Load())
	}
	if s := m.Stats(); s.Deaths != 1 || s.Respawns != 1 || s.Backoffs != 0 {
		t.Errorf("stats %+v", s)
	}
	if s, ok := m.ServiceStats(d.UUID, d.Name); !ok || s.Respawns != 1 {
		t.Errorf("service stats %+v %v", s, ok)
	}
	if !strings.Contains(logs.String(), "died unexpectedly, respawning") {
		t.Errorf("log lacks the respawn line:\n%s", logs.String())
	}
}

// With the agent as child subreaper the daemon is our child, and its death
// is reaped at once instead of lingering as a zombie (DNSMASQ_QUIRKS 8).
func TestMonitorSubreaperReaps(t *testing.T) {
	needRoot(t)
	if err := EnableSubreaper(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0) })
	ns := newNetns(t)
	ev := newEvents()
	m := New(Config{Interval: time.Minute, OnEvent: ev.on})
	d := newDaemonService(t, ns, "daemon")
	old, _ := Active(d.PidFile, d.UUID)
	if st, err := Stat(old); err != nil || st.PPid != os.Getpid() {
		t.Fatalf("daemon parent %d (%v), want us (%d)", st.PPid, err, os.Getpid())
	}
	if err := m.Register(d.Service); err != nil {
		t.Fatal(err)
	}
	runMonitor(t, m)
	time.Sleep(50 * time.Millisecond)
	if err := syscall.Kill(old, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	ev.next(t, EventDied, 5*time.Second)
	deadline := time.Now().Add(time.Second)
	for {
		if _, err := Stat(old); err != nil {
			break // reaped: gone from /proc
		}
		if time.Now().After(deadline) {
			t.Fatalf("killed daemon %d still in /proc a second after its death was noticed", old)
		}
		time.Sleep(5 * time.Millisecond)
	}
	ev.next(t, EventRespawned, 5*time.Second)
	waitActive(t, d.PidFile, d.UUID, old, 5*time.Second)
}

// A crash-looping process is respawned at once Burst times, then with
// doubling delays, capped, and the log says so.
func TestMonitorCrashLoopBackoff(t *testing.T) {
	uuid := newUUID()
	pidFile := tempPidFile(t, uuid)
	argv := helperArgv(t, "crash", uuid, pidFile)
	ev := newEvents()
	var logs logBuffer
	m := New(Config{
		Interval:   time.Minute,
		OnEvent:    ev.on,
		Logger:     logs.logger(),
		StartGrace: time.Second,
		Backoff:    Backoff{Burst: 2, Window: 10 * time.Second, Initial: 100 * time.Millisecond, Max: 400 * time.Millisecond},
	})
	respawn := func(ctx context.Context) error {
		_, err := Start(ctx, "", argv)
		return err
	}
	if err := respawn(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := m.Register(Service{UUID: uuid, Name: "crasher", PidFile: pidFile, Respawn: respawn}); err != nil {
		t.Fatal(err)
	}
	runMonitor(t, m)
	var delays []time.Duration
	respawns := 0
	timeout := time.After(20 * time.Second)
	for len(delays) < 4 {
		select {
		case e := <-ev.ch:
			switch e.Kind {
			case EventBackoff:
				delays = append(delays, e.Delay)
			case EventRespawned:
				respawns++
			}
		case <-timeout:
			t.Fatalf("only %d backoffs: %v", len(delays), delays)
		}
	}
	m.Unregister(uuid, "crasher")
	want := []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond, 400 * time.Millisecond}
	for i := range want {
		if delays[i] != want[i] {
			t.Fatalf("backoff delays %v, want %v", delays, want)
		}
	}
	if respawns < 5 { // 2 immediate + one after each of the first 3 delays
		t.Errorf("%d respawns before the 4th backoff, want >= 5", respawns)
	}
	if !strings.Contains(logs.String(), "crash loop, backing off 400ms") {
		t.Errorf("log lacks the backoff line:\n%s", logs.String())
	}
	if s := m.Stats(); s.Backoffs < 4 || s.Deaths < 6 {
		t.Errorf("stats %+v", s)
	}
}

// check_child_processes_action = exit: the exit hook runs with code 1, Run
// returns an ExitError, nothing is respawned.
func TestMonitorActionExit(t *testing.T) {
	needRoot(t)
	ns := newNetns(t)
	exitCode := make(chan int, 1)
	m := New(Config{Interval: time.Minute, Action: ActionExit, Exit: func(c int) { exitCode <- c }})
	d := newDaemonService(t, ns, "daemon")
	if err := m.Register(d.Service); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	time.Sleep(50 * time.Millisecond)
	old, _ := Active(d.PidFile, d.UUID)
	if err := syscall.Kill(old, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		var ee *ExitError
		if !errors.As(err, &ee) || !errors.Is(err, ErrChildExited) || ee.PID != old || ee.Key.UUID != d.UUID {
			t.Errorf("Run = %v, want an ExitError for pid %d", err, old)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after the child died")
	}
	select {
	case c := <-exitCode:
		if c != 1 {
			t.Errorf("exit code %d, want 1", c)
		}
	default:
		t.Error("exit hook not called")
	}
	if n := d.respawns.Load(); n != 0 {
		t.Errorf("%d respawns with action exit", n)
	}
}

// A death right after CheckNow (the driver's SIGHUP) is a death after
// reload: respawned at once even with action exit, and logged as such.
func TestMonitorDeathAfterReload(t *testing.T) {
	needRoot(t)
	ns := newNetns(t)
	ev := newEvents()
	var logs logBuffer
	exited := make(chan int, 1)
	m := New(Config{Interval: time.Minute, Action: ActionExit, Exit: func(c int) { exited <- c }, OnEvent: ev.on, Logger: logs.logger()})
	d := newDaemonService(t, ns, "daemon")
	if err := m.Register(d.Service); err != nil {
		t.Fatal(err)
	}
	runMonitor(t, m)
	old := waitActive(t, d.PidFile, d.UUID, 0, time.Second)
	if !m.CheckNow(d.UUID, d.Name) {
		t.Fatal("CheckNow: not alive")
	}
	if err := syscall.Kill(old, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if died := ev.next(t, EventDied, 5*time.Second); !died.AfterReload {
		t.Errorf("death not marked after reload: %+v", died)
	}
	ev.next(t, EventRespawned, 5*time.Second)
	waitActive(t, d.PidFile, d.UUID, old, 5*time.Second)
	if !strings.Contains(logs.String(), "dnsmasq for "+d.UUID+" died after reload, respawning") {
		t.Errorf("log lacks the after-reload line:\n%s", logs.String())
	}
	if s := m.Stats(); s.DeathsAfterReload != 1 {
		t.Errorf("stats %+v", s)
	}
	select {
	case <-exited:
		t.Error("agent asked to exit for a death after reload")
	default:
	}
}

// check_child_processes_interval = 0: a death is only logged; the next
// reload (CheckNow) finds the daemon dead and respawns it.
func TestMonitorOff(t *testing.T) {
	needRoot(t)
	ns := newNetns(t)
	ev := newEvents()
	m := New(Config{Interval: 0, OnEvent: ev.on})
	d := newDaemonService(t, ns, "daemon")
	if err := m.Register(d.Service); err != nil {
		t.Fatal(err)
	}
	runMonitor(t, m)
	old := waitActive(t, d.PidFile, d.UUID, 0, time.Second)
	time.Sleep(50 * time.Millisecond)
	if err := syscall.Kill(old, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	ev.next(t, EventDied, 5*time.Second)
	ev.none(t, EventRespawned, 500*time.Millisecond)
	if d.respawns.Load() != 0 {
		t.Fatal("respawned with the monitor off")
	}
	if m.CheckNow(d.UUID, d.Name) {
		t.Error("CheckNow says a killed daemon is alive")
	}
	ev.next(t, EventRespawned, 5*time.Second)
	waitActive(t, d.PidFile, d.UUID, old, 5*time.Second)
}

// Unregistered services are left alone; a service registered while not
// running is started after StartGrace.
func TestMonitorRegistry(t *testing.T) {
	needRoot(t)
	ns := newNetns(t)
	ev := newEvents()
	m := New(Config{Interval: time.Minute, OnEvent: ev.on, StartGrace: 200 * time.Millisecond})
	d := newDaemonService(t, ns, "daemon")
	runMonitor(t, m) // stopped before the daemon is killed at cleanup
	if err := m.Register(d.Service); err != nil {
		t.Fatal(err)
	}
	if !m.Registered(d.UUID, d.Name) {
		t.Fatal("not registered")
	}
	time.Sleep(50 * time.Millisecond)
	m.Unregister(d.UUID, d.Name)
	if m.Registered(d.UUID, d.Name) {
		t.Fatal("still registered")
	}
	old, _ := Active(d.PidFile, d.UUID)
	if err := (Killer{}).Stop("dnsmasq", old, 0); err != nil {
		t.Fatal(err)
	}
	ev.none(t, EventDied, 300*time.Millisecond)
	if d.respawns.Load() != 0 {
		t.Fatal("an unregistered service was respawned")
	}

	// registering it again while it is not running starts it at once: the
	// pid file names a dead process
	if err := m.Register(d.Service); err != nil {
		t.Fatal(err)
	}
	if died := ev.next(t, EventDied, 5*time.Second); died.PID != old {
		t.Errorf("died event %+v, want the stale pid %d", died, old)
	}
	ev.next(t, EventRespawned, 5*time.Second)
	now := waitActive(t, d.PidFile, d.UUID, old, 5*time.Second)

	// without a pid file it waits StartGrace for one to appear
	m.Unregister(d.UUID, d.Name)
	if err := (Killer{}).Stop("dnsmasq", now, 0); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(d.PidFile); err != nil {
		t.Fatal(err)
	}
	registered := time.Now()
	if err := m.Register(d.Service); err != nil {
		t.Fatal(err)
	}
	if died := ev.next(t, EventDied, 5*time.Second); died.PID != 0 || died.At.Sub(registered) < 200*time.Millisecond {
		t.Errorf("died event %+v %s after Register, want pid 0 after the 200ms grace", died, died.At.Sub(registered))
	}
	ev.next(t, EventRespawned, 5*time.Second)
	waitActive(t, d.PidFile, d.UUID, 0, 5*time.Second)

	if err := m.Register(Service{UUID: "x"}); err == nil {
		t.Error("Register without pid file and respawn accepted")
	}
}

// A Respawn that keeps failing is retried Burst times at once, then with
// backoff, and each failure is counted and reported.
func TestMonitorRespawnFailureBacksOff(t *testing.T) {
	uuid := newUUID()
	pidFile := tempPidFile(t, uuid) // never written: nothing runs
	ev := newEvents()
	var calls atomic.Int32
	m := New(Config{
		Interval:   time.Minute,
		OnEvent:    ev.on,
		StartGrace: 50 * time.Millisecond,
		Backoff:    Backoff{Burst: 3, Initial: 100 * time.Millisecond, Max: time.Second},
	})
	boom := errors.New("boom")
	if err := m.Register(Service{UUID: uuid, Name: "dnsmasq", PidFile: pidFile, Respawn: func(context.Context) error {
		calls.Add(1)
		return boom
	}}); err != nil {
		t.Fatal(err)
	}
	runMonitor(t, m)
	for range 3 {
		if f := ev.next(t, EventRespawnFailed, 5*time.Second); !errors.Is(f.Err, boom) {
			t.Fatalf("failure event %+v", f)
		}
	}
	if b := ev.next(t, EventBackoff, 5*time.Second); b.Delay != 100*time.Millisecond {
		t.Errorf("first backoff %s, want 100ms", b.Delay)
	}
	ev.next(t, EventRespawnFailed, 5*time.Second)
	if b := ev.next(t, EventBackoff, 5*time.Second); b.Delay != 200*time.Millisecond {
		t.Errorf("second backoff %s, want 200ms", b.Delay)
	}
	m.Unregister(uuid, "dnsmasq")
	if s := m.Stats(); s.RespawnFailures < 4 || s.Respawns != 0 {
		t.Errorf("stats %+v", s)
	}
}
