package procmon

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Killer signals daemons the way neutron does: through
// <ScriptsPath>/<service>-kill <sig> <pid> when that script exists
// ([AGENT] kill_scripts_path, for daemons running in containers), else
// with a plain kill. The zero value always uses kill.
type Killer struct {
	ScriptsPath string
}

// sigArg is the signal as neutron passes it to kill scripts: HUP by name,
// the others by number ("9", "15").
func sigArg(sig syscall.Signal) string {
	if sig == syscall.SIGHUP {
		return "HUP"
	}
	return strconv.Itoa(int(sig))
}

// script returns the kill script for service, if any.
func (k Killer) script(service string) string {
	if k.ScriptsPath == "" || service == "" {
		return ""
	}
	p := filepath.Join(k.ScriptsPath, service+"-kill")
	if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
		return p
	}
	return ""
}

// Signal sends sig to pid (a process of the given service: "dnsmasq",
// "haproxy"). A process that is already gone is not an error.
func (k Killer) Signal(service string, pid int, sig syscall.Signal) error {
	if pid <= 0 {
		return fmt.Errorf("signal %s: bad pid %d", service, pid)
	}
	if s := k.script(service); s != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := Run(ctx, "", []string{s, sigArg(sig), strconv.Itoa(pid)}); err != nil {
			return fmt.Errorf("signal %s %d with %s: %w", service, pid, s, err)
		}
		return nil
	}
	return Signal(pid, sig)
}

// Signal sends sig to pid with kill(2); ESRCH (already gone) is not an
// error.
func Signal(pid int, sig syscall.Signal) error {
	if pid <= 0 {
		return fmt.Errorf("signal: bad pid %d", pid)
	}
	if err := unix.Kill(pid, sig); err != nil && !errors.Is(err, unix.ESRCH) {
		return fmt.Errorf("kill -%d %d: %w", sig, pid, err)
	}
	return nil
}

// ErrStillRunning is returned by Stop when the process survived SIGKILL.
var ErrStillRunning = errors.New("process still running")

// Stop ends pid: SIGTERM, then SIGKILL if it is still running after grace
// (grace <= 0: SIGKILL at once, like neutron's disable), and waits until the
// process has exited; a zombie counts as exited and is reaped when it is ours.
// The caller must have checked that pid is the right process (Active).
func (k Killer) Stop(service string, pid int, grace time.Duration) error {
	p, err := openPidFD(pid)
	if err != nil {
		if errors.Is(err, unix.ESRCH) {
			return nil // already gone
		}
		return k.stopWithoutPidFD(service, pid, grace)
	}
	defer p.close()
	if grace > 0 {
		if err := k.signalFD(service, p, syscall.SIGTERM); err != nil {
			return err
		}
		if p.waitTimeout(grace) {
			p.reap()
			return nil
		}
	}
	if err := k.signalFD(service, p, syscall.SIGKILL); err != nil {
		return err
	}
	if !p.waitTimeout(10 * time.Second) {
		return fmt.Errorf("stop %s %d: %w", service, pid, ErrStillRunning)
	}
	p.reap()
	return nil
}

// signalFD signals through the kill script if there is one, else through
// the pidfd (immune to pid reuse).
func (k Killer) signalFD(service string, p *pidFD, sig syscall.Signal) error {
	if k.script(service) != "" {
		return k.Signal(service, p.pid, sig)
	}
	if err := p.signal(sig); err != nil && !errors.Is(err, unix.ESRCH) {
		return fmt.Errorf("signal %s %d: %w", service, p.pid, err)
	}
	return nil
}

// stopWithoutPidFD is Stop for kernels without pidfd_open: poll /proc.
func (k Killer) stopWithoutPidFD(service string, pid int, grace time.Duration) error {
	gone := func(d time.Duration) bool {
		deadline := time.Now().Add(d)
		for {
			if st, err := Stat(pid); err != nil || st.Zombie() {
				return true
			}
			if time.Now().After(deadline) {
				return false
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	if grace > 0 {
		if err := k.Signal(service, pid, syscall.SIGTERM); err != nil {
			return err
		}
		if gone(grace) {
			return nil
		}
	}
	if err := k.Signal(service, pid, syscall.SIGKILL); err != nil {
		return err
	}
	if !gone(10 * time.Second) {
		return fmt.Errorf("stop %s %d: %w", service, pid, ErrStillRunning)
	}
	return nil
}
