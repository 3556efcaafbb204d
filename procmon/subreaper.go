package procmon

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// startMu is held (read) by spawners from fork until the new child is in
// the waited set, and (write) by the orphan sweep, so the sweep never sees
// a child of ours that os/exec has not yet claimed.
var startMu sync.RWMutex

// EnableSubreaper makes the agent a child subreaper (PR_SET_CHILD_SUBREAPER):
// a daemon that forks away from the process that started it (dnsmasq,
// haproxy -D) is reparented to the agent instead of PID 1, so its death is
// reaped at once by the agent rather than lingering as a zombie. Reaping is
// done by the Monitor and Stop for the processes they handle, and by
// ReapOrphans / RunOrphanReaper for the rest.
func EnableSubreaper() error {
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("prctl(PR_SET_CHILD_SUBREAPER): %w", err)
	}
	return nil
}

// ReapOrphans reaps zombie children of the agent that are daemons adopted
// as subreaper: a zombie whose parent is us, whose session differs from
// ours (daemons call setsid; os/exec children keep our session) and that
// procmon does not wait for itself. It returns the reaped pids. Processes
// started elsewhere in the agent with Setpgid/Setsid are the one case this
// rule cannot tell apart; the agent starts none.
func ReapOrphans() []int {
	startMu.Lock()
	defer startMu.Unlock()
	me := os.Getpid()
	mySid, err := unix.Getsid(0)
	if err != nil {
		return nil
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var reaped []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == me {
			continue
		}
		st, err := Stat(pid)
		if err != nil || st.PPid != me || !st.Zombie() || st.Session == mySid || waited.has(pid) {
			continue
		}
		// through a pidfd, so a pid reused since Stat cannot be hit
		fd, err := unix.PidfdOpen(pid, 0)
		if err != nil {
			continue
		}
		// re-check now that the pidfd pins the process
		if st, err := Stat(pid); err != nil || st.PPid != me || !st.Zombie() || st.Session == mySid {
			unix.Close(fd)
			continue
		}
		var info unix.Siginfo
		if unix.Waitid(unix.P_PIDFD, fd, &info, unix.WEXITED|unix.WNOHANG, nil) == nil && info.Signo != 0 {
			reaped = append(reaped, pid)
		}
		unix.Close(fd)
	}
	return reaped
}

// RunOrphanReaper calls ReapOrphans on every SIGCHLD (and every period as
// a safety net) until ctx ends. Use it together with EnableSubreaper.
func RunOrphanReaper(ctx context.Context, period time.Duration, log *slog.Logger) {
	if log == nil {
		log = slog.Default()
	}
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGCHLD)
	defer signal.Stop(ch)
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ch:
		case <-t.C:
		}
		for _, pid := range ReapOrphans() {
			log.Debug("reaped orphaned daemon", "pid", pid)
		}
	}
}
