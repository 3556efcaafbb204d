package procmon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"

	"golang.org/x/sys/unix"
)

// Option adjusts how a process is started.
type Option func(*exec.Cmd)

// WithEnv sets the environment (default: the agent's).
func WithEnv(env []string) Option { return func(c *exec.Cmd) { c.Env = env } }

// WithDir sets the working directory.
func WithDir(dir string) Option { return func(c *exec.Cmd) { c.Dir = dir } }

// WithOutput sends stdout and stderr to w (default: discarded). Prefer an
// *os.File for a process that daemonises: a daemon inheriting a pipe would
// keep it open.
func WithOutput(w io.Writer) Option {
	return func(c *exec.Cmd) { c.Stdout, c.Stderr = w, w }
}

// Child is a process started by Start. procmon waits for it in the
// background (so it never lingers as a zombie); use Wait or Done to learn
// when it has exited.
type Child struct {
	*os.Process
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// Wait blocks until the process has exited and returns its exit error
// (nil for status 0; *exec.ExitError otherwise).
func (c *Child) Wait() error { <-c.done; return c.err }

// Done is closed when the process has exited.
func (c *Child) Done() <-chan struct{} { return c.done }

// ProcessState is the exit state once Done is closed (nil before).
func (c *Child) ProcessState() *os.ProcessState {
	select {
	case <-c.done:
		return c.cmd.ProcessState
	default:
		return nil
	}
}

// Start starts argv inside network namespace nsName ("" = the agent's) and
// returns at once. ctx only bounds the start itself: the process is not
// killed when ctx ends (daemons outlive the request that spawned them).
func Start(ctx context.Context, nsName string, argv []string, opts ...Option) (*Child, error) {
	if len(argv) == 0 {
		return nil, errors.New("start: empty argv")
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("start %s: %w", argv[0], err)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	for _, o := range opts {
		o(cmd)
	}
	startMu.RLock()
	err := InNetns(nsName, cmd.Start)
	if err == nil {
		waited.add(cmd.Process.Pid)
	}
	startMu.RUnlock()
	if err != nil {
		return nil, fmt.Errorf("start %s in netns %q: %w", argv[0], nsName, err)
	}
	c := &Child{Process: cmd.Process, cmd: cmd, done: make(chan struct{})}
	go func() {
		c.err = cmd.Wait()
		waited.remove(cmd.Process.Pid)
		close(c.done)
	}()
	return c, nil
}

// Run runs argv inside network namespace nsName to completion and returns
// its combined stdout and stderr. ctx ending kills it. A non-zero exit is an
// error quoting the output.
func Run(ctx context.Context, nsName string, argv []string, opts ...Option) ([]byte, error) {
	out, err := memFile(argv)
	if err != nil {
		return nil, err
	}
	defer out.Close()
	c, err := Start(ctx, nsName, argv, append(opts, WithOutput(out))...)
	if err != nil {
		return nil, err
	}
	var werr error
	select {
	case <-c.Done():
		werr = c.Wait()
	case <-ctx.Done():
		_ = c.Kill()
		<-c.Done()
		werr = fmt.Errorf("%w (killed)", ctx.Err())
	}
	data := readAll(out)
	if werr != nil {
		return data, fmt.Errorf("run %s: %w: %s", strings.Join(argv, " "), werr, strings.TrimSpace(string(data)))
	}
	return data, nil
}

// Daemon starts a program that daemonises (forks, writes its pid file and
// lets the started parent exit) and waits for that parent. A non-zero exit
// of the parent, which is how dnsmasq reports a bad configuration, is an
// error quoting its output. The daemon itself keeps running.
func Daemon(ctx context.Context, nsName string, argv []string, opts ...Option) error {
	_, err := Run(ctx, nsName, argv, opts...)
	return err
}

// memFile is an anonymous in-memory file for a child's output: the child
// writes to it directly (no pipe a daemon could keep open).
func memFile(argv []string) (*os.File, error) {
	name := "procmon-out"
	if len(argv) > 0 {
		name = "out-" + argv[0][strings.LastIndex(argv[0], "/")+1:]
	}
	fd, err := unix.MemfdCreate(name, unix.MFD_CLOEXEC)
	if err == nil {
		return os.NewFile(uintptr(fd), name), nil
	}
	f, err := os.CreateTemp("", "procmon-out-")
	if err != nil {
		return nil, fmt.Errorf("output file: %w", err)
	}
	os.Remove(f.Name())
	return f, nil
}

func readAll(f *os.File) []byte {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil
	}
	data, _ := io.ReadAll(f)
	return data
}
