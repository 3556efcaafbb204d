package procmon

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// pidFD is a pidfd: a handle on one process that stays valid (and keeps
// meaning that process) even after the pid is reused.
type pidFD struct {
	pid int
	f   *os.File // non-blocking, registered with the runtime poller
}

// openPidFD opens a pidfd for pid. ESRCH means the process is gone.
func openPidFD(pid int) (*pidFD, error) {
	fd, err := unix.PidfdOpen(pid, unix.PIDFD_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("pidfd_open %d: %w", pid, err)
	}
	return &pidFD{pid: pid, f: os.NewFile(uintptr(fd), fmt.Sprintf("pidfd:%d", pid))}, nil
}

// exited reports, without blocking, whether the process has terminated.
func (p *pidFD) exited() bool {
	rc, err := p.f.SyscallConn()
	if err != nil {
		return true
	}
	done := false
	_ = rc.Control(func(fd uintptr) {
		done = pollExited(int(fd))
	})
	return done
}

func pollExited(fd int) bool {
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	for {
		n, err := unix.Poll(fds, 0)
		if err == unix.EINTR {
			continue
		}
		return err != nil || n > 0
	}
}

// wait blocks until the process terminates (nil), or until the pidfd is
// closed or its deadline passes (an error). It parks the goroutine on the
// runtime poller: no OS thread is held.
func (p *pidFD) wait() error {
	rc, err := p.f.SyscallConn()
	if err != nil {
		return err
	}
	err = rc.Read(func(fd uintptr) bool { return pollExited(int(fd)) })
	if errors.Is(err, os.ErrNoDeadline) {
		// not pollable (should not happen on Linux >= 5.3): poll ourselves
		for !p.exited() {
			time.Sleep(20 * time.Millisecond)
		}
		return nil
	}
	return err
}

// waitTimeout waits up to d for the process to terminate.
func (p *pidFD) waitTimeout(d time.Duration) bool {
	if p.exited() {
		return true
	}
	if d <= 0 {
		return false
	}
	_ = p.f.SetReadDeadline(time.Now().Add(d))
	defer p.f.SetReadDeadline(time.Time{})
	return p.wait() == nil
}

// signal sends sig to exactly this process.
func (p *pidFD) signal(sig syscall.Signal) error {
	rc, err := p.f.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.PidfdSendSignal(int(fd), sig, nil, 0)
	}); err != nil {
		return err
	}
	return serr
}

// reap collects the exit status of this process if it is a terminated child
// of ours that nobody else waits for (the subreaper case: a daemon that forked
// away from its starter). It never waits for any other process.
func (p *pidFD) reap() {
	if waited.has(p.pid) {
		return // an os/exec Wait owns it
	}
	rc, err := p.f.SyscallConn()
	if err != nil {
		return
	}
	_ = rc.Control(func(fd uintptr) {
		var info unix.Siginfo
		// ECHILD: not our child (PID 1 will reap it); nothing to do
		_ = unix.Waitid(unix.P_PIDFD, int(fd), &info, unix.WEXITED|unix.WNOHANG, nil)
	})
}

func (p *pidFD) close() { _ = p.f.Close() }

// waitedSet holds the pids of children procmon started and waits for with
// os/exec, which nothing else may reap.
type waitedSet struct {
	mu   sync.RWMutex
	pids map[int]int
}

var waited = &waitedSet{pids: map[int]int{}}

func (w *waitedSet) add(pid int) {
	w.mu.Lock()
	w.pids[pid]++
	w.mu.Unlock()
}

func (w *waitedSet) remove(pid int) {
	w.mu.Lock()
	if w.pids[pid]--; w.pids[pid] <= 0 {
		delete(w.pids, pid)
	}
	w.mu.Unlock()
}

func (w *waitedSet) has(pid int) bool {
	w.mu.RLock()
	defer w.mu.RUnlock()
	return w.pids[pid] > 0
}
