package filesource

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"qdhcp/model"
)

// stateSuffix names a network's persisted ports: <network-id>.port.json.
const stateSuffix = ".port.json"

// portState is the content of a state file: the ports of one network that
// the source created or changed through the DHCP RPC.
type portState struct {
	NetworkID string        `json:"network_id"`
	Ports     []*model.Port `json:"ports"`
}

func (s *Source) statePath(id string) string {
	return filepath.Join(s.stateDir, id+stateSuffix)
}

// loadState reads every state file; an unreadable one is reported and
// ignored (the agent then gets a new port). s.mu must be held.
func (s *Source) loadState() {
	entries, err := os.ReadDir(s.stateDir)
	if err != nil {
		s.log.Error("cannot list state dir", "path", s.stateDir, "err", err)
		return
	}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), stateSuffix) {
			continue
		}
		path := filepath.Join(s.stateDir, e.Name())
		st, err := readState(path)
		if err != nil {
			s.errs[path] = err
			s.log.Warn("DHCP port state rejected", "path", path, "err", err)
			continue
		}
		s.owned[st.NetworkID] = st.Ports
	}
}

func readState(path string) (*portState, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var st portState
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, fmt.Errorf("invalid JSON: %w", err)
	}
	if id := strings.TrimSuffix(filepath.Base(path), stateSuffix); st.NetworkID != id {
		return nil, fmt.Errorf("network_id %q does not match the file name", st.NetworkID)
	}
	// the network checks validate ids, MACs and addresses of the ports
	if err := (&model.Network{ID: st.NetworkID, Ports: st.Ports}).Validate(); err != nil {
		return nil, err
	}
	return &st, nil
}

// pruneState drops the state of networks that have no file any more (the
// network was deleted while the agent was down). A network whose file is
// only malformed keeps it. s.mu must be held.
func (s *Source) pruneState() {
	for id := range s.owned {
		if _, err := os.Stat(filepath.Join(s.dir, id+".json")); errors.Is(err, fs.ErrNotExist) {
			delete(s.owned, id)
			s.saveState(id)
			s.log.Info("dropped DHCP port state of a vanished network", "network", id)
		}
	}
}

// saveState writes the network's owned ports (tmp file + rename), or
// removes the state file when there are none. A failure is logged and
// reported by Errors. s.mu must be held.
func (s *Source) saveState(id string) {
	path := s.statePath(id)
	err := writeState(path, id, s.owned[id])
	if err != nil {
		s.errs[path] = err
		s.log.Error("cannot persist DHCP port state; the allocation will not survive a restart", "path", path, "err", err)
		return
	}
	delete(s.errs, path)
}

func writeState(path, id string, ports []*model.Port) error {
	if len(ports) == 0 {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	}
	data, err := json.MarshalIndent(portState{NetworkID: id, Ports: ports}, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
