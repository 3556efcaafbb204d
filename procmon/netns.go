package procmon

import (
	"fmt"
	"runtime"

	"github.com/vishvananda/netns"
)

// InNetns runs fn on an OS thread that has entered the named network
// namespace (/var/run/netns/<name>); a process forked by fn (os/exec's
// Start) is born in that namespace. An empty name runs fn unchanged.
//
// fn runs on a fresh goroutine locked to its thread; the thread is switched
// back afterwards, and if that fails it is left locked so the runtime
// discards it rather than reusing a thread in the wrong namespace.
func InNetns(name string, fn func() error) error {
	if name == "" {
		return fn()
	}
	target, err := netns.GetFromName(name)
	if err != nil {
		return fmt.Errorf("netns %s: %w", name, err)
	}
	defer target.Close()

	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("netns %s: current namespace: %w", name, err)
			return
		}
		defer orig.Close()
		if err := netns.Set(target); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("netns %s: enter: %w", name, err)
			return
		}
		ferr := fn()
		if err := netns.Set(orig); err != nil {
			// stay locked: the thread dies with this goroutine
			errc <- fmt.Errorf("netns %s: restore: %w (after %v)", name, err, ferr)
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}
