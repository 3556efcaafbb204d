package filesource

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
)

// loop handles directory events and due reloads until ctx ends or Close.
// Reloads run here one at a time, so notifications leave in order.
func (s *Source) loop(ctx context.Context) {
	defer close(s.done)
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-s.watcher.Events:
			if !ok {
				return
			}
			if s.relevant(ev) {
				s.schedule(filepath.Clean(ev.Name))
			}
		case err, ok := <-s.watcher.Errors:
			if !ok {
				return
			}
			s.log.Warn("watching network dir", "err", err)
			if errors.Is(err, fsnotify.ErrEventOverflow) {
				s.rescan()
			}
		case path := <-s.due:
			s.reload(path)
		}
	}
}

// relevant keeps the events that can change a network file's content or
// existence. A rename-over write shows as Create of the target.
func (s *Source) relevant(ev fsnotify.Event) bool {
	if !ev.Has(fsnotify.Create) && !ev.Has(fsnotify.Write) && !ev.Has(fsnotify.Remove) && !ev.Has(fsnotify.Rename) {
		return false
	}
	return filepath.Dir(filepath.Clean(ev.Name)) == s.dir && isNetworkFileName(filepath.Base(ev.Name))
}

// schedule (re)arms the file's debounce timer.
func (s *Source) schedule(path string) {
	d := s.Debounce
	if d <= 0 {
		d = DefaultDebounce
	}
	s.tmu.Lock()
	defer s.tmu.Unlock()
	if s.closed {
		return
	}
	if t, ok := s.timers[path]; ok {
		t.Reset(d)
		return
	}
	s.timers[path] = time.AfterFunc(d, func() {
		s.tmu.Lock()
		delete(s.timers, path)
		s.tmu.Unlock()
		select {
		case s.due <- path:
		case <-s.done: // the loop ended (Close or Start's ctx)
		}
	})
}

// rescan schedules every file and every known network after lost events.
func (s *Source) rescan() {
	paths := map[string]bool{}
	if entries, err := os.ReadDir(s.dir); err == nil {
		for _, e := range entries {
			if isNetworkFileName(e.Name()) {
				paths[filepath.Join(s.dir, e.Name())] = true
			}
		}
	}
	for _, id := range s.mem.NetworkIDs() {
		paths[filepath.Join(s.dir, id+".json")] = true
	}
	for p := range s.Errors() {
		if filepath.Dir(p) == s.dir {
			paths[p] = true
		}
	}
	for p := range paths {
		s.schedule(p)
	}
}

// reload loads one file and hands its notifications on.
func (s *Source) reload(path string) {
	s.mu.Lock()
	notes, err := s.load(path)
	s.mu.Unlock()
	if err == nil && len(notes) > 0 {
		s.log.Info("network file changed", "path", path, "notifications", len(notes))
	}
	if s.notify != nil {
		for _, n := range notes {
			s.notify(n)
		}
	}
	if s.onLoad != nil {
		s.onLoad(path, notes, err)
	}
}
