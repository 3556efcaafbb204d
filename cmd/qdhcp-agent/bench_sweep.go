package main

import (
	"bufio"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"qdhcp/dhcpagent/config"
	"qdhcp/internal/stack"
	"qdhcp/model"
	"qdhcp/procmon"
)

// sweepBenchLeftovers cleans up after bench runs that were killed before
// their own cleanup: for every <state-dir>/<pid>-<run> whose process is
// gone, the networks found in each scenario's dhcp dir are torn down
// (dnsmasq, OVS port, namespace), the floor's dnsmasq processes killed and
// its namespaces deleted, then the directory removed.
func sweepBenchLeftovers(f *benchFlags, log *slog.Logger) {
	entries, err := os.ReadDir(f.stateRoot)
	if err != nil {
		return
	}
	for _, e := range entries {
		pidStr, _, ok := strings.Cut(e.Name(), "-")
		pid, err := strconv.Atoi(pidStr)
		if !e.IsDir() || !ok || err != nil {
			continue
		}
		if pid != os.Getpid() && procmon.Alive(pid, "") {
			continue // another bench is running
		}
		dir := filepath.Join(f.stateRoot, e.Name())
		log.Info("cleaning up a killed bench run", "dir", dir)
		_, runHex, _ := strings.Cut(e.Name(), "-")
		bridge := f.bridge
		if run, err := strconv.ParseUint(runHex, 16, 16); err == nil && bridge == "" {
			bridge = benchBridgeName(uint16(run))
		}
		sweepFloor(filepath.Join(dir, "floor"), log)
		scen, _ := os.ReadDir(dir)
		for _, s := range scen {
			if s.IsDir() && s.Name() != "floor" {
				sweepScenario(f, filepath.Join(dir, s.Name()), bridge, log)
			}
		}
		// a run killed between creating a namespace and its state dir
		if ids := benchNamespaces(runHex); len(ids) > 0 {
			sweepIDs(f, dir, bridge, ids, log)
		}
		if f.bridge == "" && bridge != "" {
			if err := delBenchBridge(bridge); err != nil {
				log.Warn("sweep", "err", err)
			}
		}
		if err := os.RemoveAll(dir); err != nil {
			log.Warn("remove leftover bench state", "dir", dir, "err", err)
		}
	}
}

// sweepScenario tears down the networks under a scenario's state_path.
func sweepScenario(f *benchFlags, statePath, bridge string, log *slog.Logger) {
	nets, err := os.ReadDir(filepath.Join(statePath, "dhcp")) // dhcp_confs' default
	if err != nil {
		return
	}
	var ids []string
	for _, n := range nets {
		if n.IsDir() && model.IsUUID(n.Name()) {
			ids = append(ids, n.Name())
		}
	}
	sweepIDs(f, statePath, bridge, ids, log)
}

// benchNamespaces returns the network ids of the qdhcp- namespaces of bench
// run runHex (ids be4c<run>-...).
func benchNamespaces(runHex string) []string {
	entries, _ := os.ReadDir("/run/netns")
	var ids []string
	for _, e := range entries {
		id, ok := strings.CutPrefix(e.Name(), "qdhcp-")
		if ok && model.IsUUID(id) && strings.HasPrefix(id, benchIDPrefix+runHex+"-") {
			ids = append(ids, id)
		}
	}
	return ids
}

// sweepIDs tears the given networks down with a stack on statePath.
func sweepIDs(f *benchFlags, statePath, bridge string, ids []string, log *slog.Logger) {
	if len(ids) == 0 {
		return
	}
	conf := config.Defaults()
	conf.StatePath = statePath
	conf.ExpandStatePath()
	conf.InterfaceDriver = "openvswitch"
	if bridge != "" {
		conf.OVS.IntegrationBridge = bridge
	}
	st, err := stack.New(conf, nil, stack.Options{OVSDB: f.ovsdb, Logger: log})
	if err != nil {
		log.Warn("sweep", "err", err)
		return
	}
	defer st.Close()
	for _, err := range teardownNetworks(st, nil, ids) {
		log.Warn("sweep", "err", err)
	}
}

// sweepFloor kills the floor's dnsmasq processes (their pid files) and
// deletes the namespaces it recorded.
func sweepFloor(dir string, log *slog.Logger) {
	pids, _ := filepath.Glob(filepath.Join(dir, "*", "pid"))
	for _, p := range pids {
		if pid, ok := procmon.Active(p, filepath.Dir(p)); ok {
			_ = procmon.Signal(pid, syscall.SIGKILL)
		}
	}
	fh, err := os.Open(filepath.Join(dir, "namespaces"))
	if err != nil {
		return
	}
	defer fh.Close()
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		if name := strings.TrimSpace(sc.Text()); name != "" {
			if err := deleteBenchNamespace(name); err != nil {
				log.Warn("sweep floor namespace", "namespace", name, "err", err)
			}
		}
	}
}
