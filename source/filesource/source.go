// Package filesource is qdhcp's embedded source of networks when there is no
// OpenStack: a directory of network JSON files, one <network-id>.json each in
// the get_network_info format, served through model.PluginAPI.
//
// The DHCP port the agent asks for is allocated by an in-memory neutron
// server (package memory) and persisted under a state directory, never in
// the user's file; on every (re)load it is merged back into its network, so
// its id, MAC and addresses survive restarts and file rewrites. A watch on
// the directory turns file changes into the notifications neutron would
// cast (network, subnet and port create/update/delete), per file after a
// quiet period. A malformed file is logged and reported by Errors; its
// network keeps its last good state and the others are untouched.
package filesource

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"

	"qdhcp/model"
	"qdhcp/source/memory"
)

// DefaultDebounce is how long a file must stay unchanged before it is
// re-read.
const DefaultDebounce = 75 * time.Millisecond

// Source is the file-backed plugin API for one agent host. Its methods are
// safe for concurrent use.
type Source struct {
	dir, stateDir string
	log           *slog.Logger
	mem           *memory.Server

	// Debounce is the per-file quiet period before a changed file is
	// re-read (DefaultDebounce when zero). Set it before Start.
	Debounce time.Duration

	mu    sync.Mutex // serialises loads with port-changing RPCs
	owned map[string][]*model.Port
	errs  map[string]error

	notify   model.NotificationFunc
	watcher  *fsnotify.Watcher
	due      chan string
	done     chan struct{}
	cancel   context.CancelFunc
	tmu      sync.Mutex // guards timers, closed
	timers   map[string]*time.Timer
	closed   bool
	started  bool
	stopOnce sync.Once

	// onLoad, when set (tests), sees every load of a file by the watcher.
	onLoad func(path string, notes []model.Notification, err error)
}

var _ model.PluginAPI = (*Source)(nil)

// New returns a source serving the network files of dir for the agent on
// host, keeping the DHCP ports it allocates under stateDir (e.g.
// <state_path>/qdhcp-source). Nothing is read before Start. A nil log
// discards.
func New(dir, stateDir, host string, log *slog.Logger) *Source {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Source{
		dir:      filepath.Clean(dir),
		stateDir: filepath.Clean(stateDir),
		log:      log.With("source", "file", "dir", dir),
		mem:      memory.New(host),
		owned:    make(map[string][]*model.Port),
		errs:     make(map[string]error),
		due:      make(chan string, 64),
		timers:   make(map[string]*time.Timer),
	}
}

// Dir returns the directory of network files.
func (s *Source) Dir() string { return s.dir }

// StateDir returns the directory of persisted DHCP ports.
func (s *Source) StateDir() string { return s.stateDir }

// Server returns the in-memory server holding the current networks (for
// status output and tests; change networks through the files).
func (s *Source) Server() *memory.Server { return s.mem }

// Errors returns the files whose last load failed (network files, and
// state files that could not be read or written), path -> reason.
func (s *Source) Errors() map[string]error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.errs)
}

// Start loads the DHCP port state and every network file (without
// notifications: the agent's first sync reads them), then watches the
// directory, handing notify the notifications of later changes from one
// goroutine, in order. notify must not call Close. Watching ends with ctx
// or Close.
func (s *Source) Start(ctx context.Context, notify model.NotificationFunc) error {
	if s.started {
		return errors.New("file source: already started")
	}
	s.started = true
	if fi, err := os.Stat(s.dir); err != nil {
		return fmt.Errorf("file source: network dir: %w", err)
	} else if !fi.IsDir() {
		return fmt.Errorf("file source: network dir %s: not a directory", s.dir)
	}
	if err := os.MkdirAll(s.stateDir, 0o755); err != nil {
		return fmt.Errorf("file source: state dir: %w", err)
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("file source: watch: %w", err)
	}
	// watch before reading, so no change made during the scan is missed
	if err := w.Add(s.dir); err != nil {
		w.Close()
		return fmt.Errorf("file source: watch %s: %w", s.dir, err)
	}
	s.watcher, s.notify = w, notify
	s.mu.Lock()
	s.loadState()
	loaded, failed := s.scan()
	s.pruneState()
	s.mu.Unlock()
	s.log.Info("file source started", "networks", loaded, "rejected", failed, "state_dir", s.stateDir)

	ctx, s.cancel = context.WithCancel(ctx)
	s.done = make(chan struct{})
	go s.loop(ctx)
	return nil
}

// Close stops watching and waits for the watcher goroutine. Networks stay
// served from memory. It is safe to call more than once.
func (s *Source) Close() error {
	var err error
	s.stopOnce.Do(func() {
		if s.cancel != nil {
			s.cancel()
		}
		s.tmu.Lock()
		s.closed = true
		for p, t := range s.timers {
			t.Stop()
			delete(s.timers, p)
		}
		s.tmu.Unlock()
		if s.watcher != nil {
			err = s.watcher.Close()
		}
		if s.done != nil {
			<-s.done
		}
	})
	return err
}
