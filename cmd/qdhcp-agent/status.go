package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"text/tabwriter"
	"time"

	"qdhcp/devicemanager"
	"qdhcp/dhcpagent/config"
	"qdhcp/dnsmasq"
	"qdhcp/model"
	"qdhcp/procmon"
)

// networkStatus is one served network as seen from state_path.
type networkStatus struct {
	Network      string `json:"network"`
	Namespace    string `json:"namespace"`
	NamespaceUp  bool   `json:"namespace_exists"`
	Interface    string `json:"interface"`
	DnsmasqPID   int    `json:"dnsmasq_pid"`
	DnsmasqAlive bool   `json:"dnsmasq_alive"`
	Hosts        int    `json:"hosts"`
	Leases       int    `json:"leases"`
	Error        string `json:"error,omitempty"`
}

// collectStatus reads every network state dir under dhcp_confs.
func collectStatus(conf *config.Config) ([]networkStatus, error) {
	entries, err := os.ReadDir(conf.DHCPConfs)
	if err != nil {
		if os.IsNotExist(err) {
			return nil, nil
		}
		return nil, err
	}
	var out []networkStatus
	for _, e := range entries {
		if !e.IsDir() || !model.IsUUID(e.Name()) {
			continue
		}
		out = append(out, statusOf(conf, e.Name()))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Network < out[j].Network })
	return out, nil
}

func statusOf(conf *config.Config, id string) networkStatus {
	p := dnsmasq.ConfPaths(conf, id)
	s := networkStatus{Network: id, Namespace: devicemanager.NamespaceName(id)}
	if _, err := os.Stat("/var/run/netns/" + s.Namespace); err == nil {
		s.NamespaceUp = true
	}
	if b, err := os.ReadFile(p.Interface); err == nil {
		s.Interface = string(b)
	}
	if pid, err := procmon.ReadPidFile(p.Pid); err == nil {
		s.DnsmasqPID = pid
		_, s.DnsmasqAlive = procmon.Active(p.Pid, id)
	}
	if b, err := os.ReadFile(p.Host); err == nil {
		s.Hosts = bytes.Count(b, []byte("\n"))
	}
	if b, err := os.ReadFile(p.Leases); err == nil {
		leases, err := dnsmasq.ParseLeases(b)
		if err != nil {
			s.Error = "leases: " + err.Error()
		}
		s.Leases = len(leases)
	}
	return s
}

// cmdStatus is `qdhcp-agent status`: the networks served on this node,
// read from state_path (the daemon need not run).
func cmdStatus(args []string, stdout io.Writer) int {
	var files multiFlag
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	fs.Var(&files, "config-file", "neutron.conf / dhcp_agent.ini (repeatable)")
	asJSON := fs.Bool("json", false, "machine-readable output")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	conf, err := config.Load(files...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "qdhcp-agent status:", err)
		return 2
	}
	st, err := collectStatus(conf)
	if err != nil {
		fmt.Fprintln(os.Stderr, "qdhcp-agent status:", err)
		return 1
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if st == nil {
			st = []networkStatus{}
		}
		_ = enc.Encode(st)
		return 0
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NETWORK\tNAMESPACE\tINTERFACE\tDNSMASQ\tHOSTS\tLEASES")
	for _, s := range st {
		ns := "missing"
		if s.NamespaceUp {
			ns = "ok"
		}
		dm := "not running"
		if s.DnsmasqAlive {
			dm = fmt.Sprintf("pid %d", s.DnsmasqPID)
		} else if s.DnsmasqPID != 0 {
			dm = fmt.Sprintf("dead (pid %d)", s.DnsmasqPID)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\n", s.Network, ns, s.Interface, dm, s.Hosts, s.Leases)
	}
	tw.Flush()
	return 0
}

// leaseView is a parsed lease for inspect.
type leaseView struct {
	IP       string    `json:"ip"`
	MAC      string    `json:"mac,omitempty"`
	IAID     string    `json:"iaid,omitempty"`
	Hostname string    `json:"hostname,omitempty"`
	ClientID string    `json:"client_id,omitempty"`
	Expires  time.Time `json:"expires,omitzero"`
	Infinite bool      `json:"infinite,omitempty"`
}

func viewLeases(leases []dnsmasq.Lease) []leaseView {
	out := make([]leaseView, 0, len(leases))
	for _, l := range leases {
		v := leaseView{IP: l.IP, MAC: l.MAC, IAID: l.IAID, Hostname: l.Hostname, ClientID: l.ClientID}
		if l.Expiry == 0 {
			v.Infinite = true
		} else {
			v.Expires = time.Unix(l.Expiry, 0).UTC()
		}
		out = append(out, v)
	}
	return out
}
