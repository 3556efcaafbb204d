package devicemanager

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// netnsDir is where named network namespaces are bind-mounted, as iproute2
// does (`ip netns` lists it; /var/run is a link to /run).
const netnsDir = "/run/netns"

// nsPath is the bind-mount path of a named namespace.
func nsPath(name string) string { return filepath.Join(netnsDir, name) }

// namespaceExists reports whether name is a mounted network namespace.
func namespaceExists(name string) bool {
	var st unix.Statfs_t
	if err := unix.Statfs(nsPath(name), &st); err != nil {
		return false
	}
	return st.Type == unix.NSFS_MAGIC
}

// ensureNamespace creates the named network namespace unless it exists,
// and reports whether it created it. Like `ip netns add`, /run/netns is
// made a shared mount point first so the namespace mounts propagate to
// other mount namespaces.
func ensureNamespace(name string) (created bool, err error) {
	if namespaceExists(name) {
		return false, nil
	}
	if err := prepareNetnsDir(); err != nil {
		return false, fmt.Errorf("namespace %s: %w", name, err)
	}
	path := nsPath(name)
	// a file left behind without a mount (crash between create and mount)
	if _, err := os.Lstat(path); err == nil {
		_ = unix.Unmount(path, unix.MNT_DETACH)
		if err := os.Remove(path); err != nil {
			return false, fmt.Errorf("namespace %s: remove stale %s: %w", name, path, err)
		}
	}
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE|os.O_EXCL, 0o444)
	if err != nil {
		return false, fmt.Errorf("namespace %s: %w", name, err)
	}
	f.Close()

	// unshare on a throw-away thread: the goroutine keeps its OS thread
	// locked and exits, so the runtime destroys the thread instead of
	// reusing it in the new namespace.
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("unshare: %w", err)
			return
		}
		self := fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid())
		if err := unix.Mount(self, path, "none", unix.MS_BIND, ""); err != nil {
			errc <- fmt.Errorf("bind mount %s: %w", path, err)
			return
		}
		errc <- nil
	}()
	if err := <-errc; err != nil {
		os.Remove(path)
		return false, fmt.Errorf("namespace %s: %w", name, err)
	}
	return true, nil
}

var netnsDirMu sync.Mutex

// prepareNetnsDir creates /run/netns and makes it a shared mount point
// (bind-mounting it on itself first when it is not a mount point yet).
func prepareNetnsDir() error {
	netnsDirMu.Lock()
	defer netnsDirMu.Unlock()
	if err := os.MkdirAll(netnsDir, 0o755); err != nil {
		return err
	}
	err := unix.Mount("", netnsDir, "none", unix.MS_SHARED|unix.MS_REC, "")
	if err == nil {
		return nil
	}
	if !errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("make %s shared: %w", netnsDir, err)
	}
	if err := unix.Mount(netnsDir, netnsDir, "none", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("bind %s: %w", netnsDir, err)
	}
	if err := unix.Mount("", netnsDir, "none", unix.MS_SHARED|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("make %s shared: %w", netnsDir, err)
	}
	return nil
}

// deleteNamespace unmounts and removes a named namespace; the kernel frees it
// when the last process inside exits. A missing namespace is not an error.
func deleteNamespace(name string) error {
	path := nsPath(name)
	if _, err := os.Lstat(path); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err := unix.Unmount(path, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("delete namespace %s: unmount: %w", name, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("delete namespace %s: %w", name, err)
	}
	return nil
}

// inNamespace runs fn on an OS thread switched into the named namespace
// (for code that must run inside it: /proc/sys writes, iptables). The thread
// is discarded afterwards.
func inNamespace(name string, fn func() error) error {
	h, err := netns.GetFromPath(nsPath(name))
	if err != nil {
		return fmt.Errorf("open namespace %s: %w", name, err)
	}
	defer h.Close()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := netns.Set(h); err != nil {
			errc <- fmt.Errorf("enter namespace %s: %w", name, err)
			return
		}
		errc <- fn()
	}()
	return <-errc
}
