package procmon

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// watched is the process a watcher currently follows.
type watched struct {
	pid     int
	upSince time.Time
	fd      *pidFD        // nil: no pidfd (poll instead)
	exited  chan struct{} // closed when fd reports the exit
}

func (w *watched) close() {
	if w != nil && w.fd != nil {
		w.fd.close()
	}
}

// follow starts watching pid. It returns nil if the process is already
// gone again (checked after the pidfd pins it, so the pidfd is the right
// process).
func follow(pid int, uuid string, upSince time.Time) *watched {
	w := &watched{pid: pid, upSince: upSince}
	fd, err := openPidFD(pid)
	if err != nil {
		if Alive(pid, uuid) {
			return w // no pidfd support: poll
		}
		return nil
	}
	if !Alive(pid, uuid) {
		fd.close()
		return nil
	}
	w.fd, w.exited = fd, make(chan struct{})
	go func() {
		if fd.wait() == nil {
			close(w.exited)
		}
	}()
	return w
}

// watch is one service's watcher loop.
func (m *Monitor) watch(ctx context.Context, e *entry) {
	var cur *watched
	defer func() { cur.close() }()
	lastPid := 0
	var upSince time.Time
	graceUntil := time.Now().Add(m.cfg.StartGrace)
	for ctx.Err() == nil {
		svc, ok := m.service(e)
		if !ok {
			return
		}
		pid, alive := Active(svc.PidFile, svc.UUID)
		if alive {
			graceUntil = time.Time{}
			if cur == nil || cur.pid != pid {
				cur.close()
				if pid != lastPid {
					lastPid, upSince = pid, time.Now()
				}
				if cur = follow(pid, svc.UUID, upSince); cur == nil {
					continue // died meanwhile
				}
			}
			m.waitChange(ctx, e, cur)
			continue
		}
		// not running
		if cur != nil {
			if cur.fd != nil {
				cur.fd.reap() // our zombie when we are its subreaper
			}
			cur.close()
			cur = nil
		}
		// Within the start grace a missing pid file, or one still naming
		// the process that died before, means "not written yet"; a new pid
		// that is already dead is a death.
		if time.Now().Before(graceUntil) && (pid == 0 || pid == lastPid) {
			m.sleep(ctx, e, 20*time.Millisecond, false)
			continue
		}
		if pid == 0 {
			pid = lastPid
		}
		if m.dead(ctx, e, svc, pid, upSince) {
			graceUntil = time.Now().Add(m.cfg.StartGrace)
		}
		// until a new process shows up, a further death or failure counts
		// as a quick one
		upSince = time.Time{}
	}
}

// waitChange blocks until the followed process exits, CheckNow pokes, the
// periodic re-check is due, or ctx ends.
func (m *Monitor) waitChange(ctx context.Context, e *entry, w *watched) {
	period := m.cfg.Interval
	if w.fd == nil {
		period = m.cfg.PollInterval
	} else if period <= 0 {
		period = time.Minute // monitor off: still notice pid file changes
	}
	t := time.NewTimer(period)
	defer t.Stop()
	select {
	case <-w.exited: // nil channel without a pidfd: never
	case <-e.poke:
	case <-t.C:
	case <-ctx.Done():
	}
}

// sleep waits d (or until ctx ends; a poke too when pokable).
func (m *Monitor) sleep(ctx context.Context, e *entry, d time.Duration, pokable bool) {
	t := time.NewTimer(d)
	defer t.Stop()
	var poke chan struct{}
	if pokable {
		poke = e.poke
	}
	select {
	case <-t.C:
	case <-poke:
	case <-ctx.Done():
	}
}

// dead handles a service found not running: log, count, then respawn
// (after a crash-loop delay), exit, or nothing when the monitor is off. It
// reports whether a respawn succeeded.
func (m *Monitor) dead(ctx context.Context, e *entry, svc Service, pid int, upSince time.Time) bool {
	if ctx.Err() != nil {
		return false // unregistered or stopping: a deliberate kill
	}
	now := time.Now()
	afterReload := e.afterReload(now, m.cfg.ReloadWindow)
	log := m.log.With("service", svc.Name, "uuid", svc.UUID, "pid", pid)
	e.stats.deaths.Add(1)
	m.total.deaths.Add(1)
	if afterReload {
		e.stats.deathsAfterReload.Add(1)
		m.total.deathsAfterReload.Add(1)
	}
	m.emit(Event{Kind: EventDied, Key: e.key, PID: pid, At: now, AfterReload: afterReload})

	foundAtReload := false
	if m.cfg.Interval <= 0 && !afterReload {
		log.Warn(fmt.Sprintf("%s for %s is not running; not respawning (check_child_processes_interval = 0)", svc.Name, svc.UUID))
		// wait for a reload (CheckNow) to find it dead
		for !afterReload {
			m.sleep(ctx, e, time.Hour, true)
			if ctx.Err() != nil {
				return false
			}
			if _, alive := Active(svc.PidFile, svc.UUID); alive {
				return false // started again by someone else
			}
			afterReload = e.afterReload(time.Now(), m.cfg.ReloadWindow)
		}
		foundAtReload = true
	}
	if m.cfg.Action == ActionExit && !afterReload {
		log.Error(fmt.Sprintf("%s for %s died; check_child_processes_action is exit, stopping the agent", svc.Name, svc.UUID))
		m.emit(Event{Kind: EventExit, Key: e.key, PID: pid, At: time.Now()})
		m.fail(&ExitError{Key: e.key, PID: pid})
		<-ctx.Done()
		return false
	}
	if delay := m.cfg.Backoff.next(&e.loop, now, upSince, afterReload); delay > 0 {
		e.stats.backoffs.Add(1)
		m.total.backoffs.Add(1)
		log.Warn(fmt.Sprintf("%s for %s died: crash loop, backing off %s", svc.Name, svc.UUID, delay), "deaths_in_a_row", e.loop.quick)
		m.emit(Event{Kind: EventBackoff, Key: e.key, PID: pid, At: time.Now(), Delay: delay})
		m.sleep(ctx, e, delay, false)
		if ctx.Err() != nil {
			return false
		}
	}
	switch {
	case foundAtReload:
		log.Warn(fmt.Sprintf("%s for %s found dead at reload, respawning", svc.Name, svc.UUID))
	case afterReload:
		log.Warn(fmt.Sprintf("%s for %s died after reload, respawning", svc.Name, svc.UUID))
	default:
		log.Warn(fmt.Sprintf("%s for %s died unexpectedly, respawning", svc.Name, svc.UUID))
	}
	e.reloadedAt.Store(0)
	err := svc.Respawn(ctx)
	if err == nil && ctx.Err() == nil {
		e.stats.respawns.Add(1)
		m.total.respawns.Add(1)
		m.emit(Event{Kind: EventRespawned, Key: e.key, PID: pid, At: time.Now()})
		return true
	}
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	e.stats.respawnFailures.Add(1)
	m.total.respawnFailures.Add(1)
	log.Error(fmt.Sprintf("%s for %s: respawn failed", svc.Name, svc.UUID), "error", err)
	m.emit(Event{Kind: EventRespawnFailed, Key: e.key, PID: pid, At: time.Now(), Err: err})
	return false
}
