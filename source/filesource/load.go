package filesource

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"qdhcp/model"
	"qdhcp/source/memory"
)

// isNetworkFileName reports the names the source considers: visible
// *.json files (editor temporaries and backups are skipped).
func isNetworkFileName(base string) bool {
	return strings.HasSuffix(base, ".json") && !strings.HasPrefix(base, ".")
}

// networkIDFromPath returns the network id a file must hold: its name
// without .json, which must be a UUID.
func networkIDFromPath(path string) (string, error) {
	id := strings.TrimSuffix(filepath.Base(path), ".json")
	if !model.IsUUID(id) {
		return "", fmt.Errorf("file name %q is not <network-uuid>.json", filepath.Base(path))
	}
	return id, nil
}

// decodeNetworkFile parses and validates one file's network.
func decodeNetworkFile(data []byte, id string) (*model.Network, error) {
	n, err := model.DecodeNetwork(data)
	if err != nil {
		return nil, err
	}
	if n.ID != id {
		return nil, &model.ValidationError{Path: "id", Reason: fmt.Sprintf("%q does not match the file name %s.json", n.ID, id)}
	}
	seen := make(map[string]bool, len(n.Ports))
	for i, p := range n.Ports {
		if seen[p.ID] {
			return nil, &model.ValidationError{Path: fmt.Sprintf("ports[%d].id", i), Reason: "duplicate port " + p.ID}
		}
		seen[p.ID] = true
	}
	return n, nil
}

// load (re)reads one network file and returns the notifications for the
// change; a vanished file deletes its network. On error the network keeps
// its last good state. s.mu must be held.
func (s *Source) load(path string) ([]model.Notification, error) {
	id, nameErr := networkIDFromPath(path)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		delete(s.errs, path)
		if nameErr != nil {
			return nil, nil
		}
		return s.remove(id, path), nil
	}
	if nameErr != nil {
		err = nameErr
	}
	var n *model.Network
	if err == nil {
		n, err = decodeNetworkFile(data, id)
	}
	if err != nil {
		s.errs[path] = err
		s.log.Warn("network file rejected, its network keeps its last good state", "path", path, "err", err)
		return nil, err
	}
	delete(s.errs, path)
	if s.merge(n) {
		s.saveState(n.ID)
	}
	old := s.mem.Network(id)
	s.mem.Put(n)
	return memory.Diff(old, n), nil
}

// remove forgets a network whose file is gone, with its DHCP port state.
func (s *Source) remove(id, path string) []model.Notification {
	old := s.mem.Network(id)
	if old == nil {
		return nil
	}
	s.mem.Delete(id)
	delete(s.owned, id)
	s.saveState(id)
	s.log.Info("network file removed", "path", path, "network", id)
	return memory.Diff(old, nil)
}

// scan loads every network file of the directory, without notifications.
// s.mu must be held.
func (s *Source) scan() (loaded, failed int) {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		s.log.Error("cannot list network dir", "err", err)
		return 0, 0
	}
	for _, e := range entries {
		if !isNetworkFileName(e.Name()) {
			continue
		}
		path := filepath.Join(s.dir, e.Name())
		if _, err := s.load(path); err != nil {
			failed++
			continue
		}
		loaded++
		s.log.Debug("network file loaded", "path", path)
	}
	return loaded, failed
}
