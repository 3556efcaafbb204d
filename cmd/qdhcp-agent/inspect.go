package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"qdhcp/dhcpagent/config"
	"qdhcp/dnsmasq"
	"qdhcp/model"
)

// inspectReport is what `inspect` shows of one network.
type inspectReport struct {
	Status networkStatus       `json:"status"`
	Files  map[string]string   `json:"files"`
	Leases []leaseView         `json:"leases"`
	Diff   map[string][]string `json:"diff,omitempty"` // file -> "-disk" / "+render" lines
	// DiffError says why no diff could be made (source unreachable...).
	DiffError string `json:"diff_error,omitempty"`
}

// cmdInspect is `qdhcp-agent inspect NET`: a network's live files, its
// leases, and how the files on disk differ from a render made now from the
// source's current view of the network.
func cmdInspect(args []string, stdout io.Writer) int {
	var files multiFlag
	fs := flag.NewFlagSet("inspect", flag.ContinueOnError)
	fs.Var(&files, "config-file", "neutron.conf / dhcp_agent.ini (repeatable)")
	asJSON := fs.Bool("json", false, "machine-readable output")
	src := fs.String("source", "", "where to read the network for the diff (as for run; \"none\" skips the diff)")
	// flags may follow the network id
	var netID string
	rest := args
	for len(rest) > 0 {
		if err := fs.Parse(rest); err != nil {
			return 2
		}
		rest = fs.Args()
		if len(rest) > 0 {
			if netID != "" {
				fmt.Fprintln(os.Stderr, "qdhcp-agent inspect: one network id")
				return 2
			}
			netID, rest = rest[0], rest[1:]
		}
	}
	if err := model.ValidateID("network", netID); err != nil {
		fmt.Fprintln(os.Stderr, "qdhcp-agent inspect: usage: inspect [--config-file F]... [--json] NETWORK-ID:", err)
		return 2
	}
	conf, err := config.Load(files...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "qdhcp-agent inspect:", err)
		return 2
	}
	p := dnsmasq.ConfPaths(conf, netID)
	if _, err := os.Stat(p.Dir); err != nil {
		fmt.Fprintf(os.Stderr, "qdhcp-agent inspect: network %s is not served here (%v)\n", netID, err)
		return 1
	}
	rep := inspectReport{Status: statusOf(conf, netID), Files: map[string]string{}}
	for name, path := range map[string]string{"host": p.Host, "addn_hosts": p.AddnHosts, "opts": p.Opts,
		"leases": p.Leases, "interface": p.Interface} {
		if b, err := os.ReadFile(path); err == nil {
			rep.Files[name] = string(b)
		}
	}
	if leases, err := dnsmasq.ParseLeases([]byte(rep.Files["leases"])); err == nil {
		rep.Leases = viewLeases(leases)
	}
	if *src != "none" {
		rep.Diff, err = diffAgainstRender(conf, *src, netID, rep.Files)
		if err != nil {
			rep.DiffError = err.Error()
		}
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(rep)
		return 0
	}
	printInspect(stdout, rep)
	return 0
}

// diffAgainstRender fetches the network from the source and renders the
// reloadable files, comparing them with those on disk.
func diffAgainstRender(conf *config.Config, spec, netID string, disk map[string]string) (map[string][]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	log := slog.New(slog.DiscardHandler)
	s, err := openSource(ctx, conf, &runFlags{source: spec}, log)
	if err != nil {
		return nil, err
	}
	defer s.close()
	if err := s.start(ctx, func(model.Notification) {}, nil); err != nil {
		return nil, err
	}
	net, err := s.plugin.GetNetworkInfo(ctx, netID)
	if err != nil {
		return nil, fmt.Errorf("get_network_info: %w", err)
	}
	if net == nil {
		return nil, fmt.Errorf("the source (%s) has no network %s: the agent will tear it down", s.name, netID)
	}
	files, err := dnsmasq.RenderReload(&dnsmasq.Input{Network: net, Conf: conf,
		Env:        dnsmasq.Env{HostTagSupport: dnsmasq.SupportsHostTags("dnsmasq"), IPv6Enabled: dnsmasq.IPv6Enabled(), Now: time.Now()},
		DeviceName: disk["interface"]})
	if err != nil {
		return nil, fmt.Errorf("render: %w", err)
	}
	diff := map[string][]string{}
	for name, want := range map[string][]byte{"host": files.Host, "addn_hosts": files.AddnHosts, "opts": files.Opts} {
		if d := lineDiff(disk[name], string(want)); len(d) > 0 {
			diff[name] = d
		}
	}
	return diff, nil
}

// lineDiff lists the lines only on disk ("-") and only in the render ("+"),
// in file order (a multiset comparison: the files are sets of directives).
func lineDiff(disk, render string) []string {
	count := map[string]int{}
	for _, l := range strings.Split(render, "\n") {
		count[l]++
	}
	var out []string
	for _, l := range strings.Split(disk, "\n") {
		if count[l] > 0 {
			count[l]--
			continue
		}
		out = append(out, "-"+l)
	}
	for _, l := range strings.Split(render, "\n") {
		if count[l] > 0 {
			count[l]--
			out = append(out, "+"+l)
		}
	}
	return out
}

func printInspect(w io.Writer, r inspectReport) {
	s := r.Status
	fmt.Fprintf(w, "network    %s\nnamespace  %s (exists: %v)\ninterface  %s\ndnsmasq    pid %d (alive: %v)\n",
		s.Network, s.Namespace, s.NamespaceUp, s.Interface, s.DnsmasqPID, s.DnsmasqAlive)
	for _, name := range []string{"host", "addn_hosts", "opts"} {
		fmt.Fprintf(w, "\n== %s\n%s", name, r.Files[name])
		if !strings.HasSuffix(r.Files[name], "\n") {
			fmt.Fprintln(w)
		}
	}
	fmt.Fprintf(w, "\n== leases (%d)\n", len(r.Leases))
	for _, l := range r.Leases {
		exp := "infinite"
		if !l.Infinite {
			exp = l.Expires.Format(time.RFC3339) + " (in " + time.Until(l.Expires).Round(time.Second).String() + ")"
		}
		who := l.MAC
		if who == "" {
			who = "iaid " + l.IAID
		}
		fmt.Fprintf(w, "%-40s %-20s %-24s %s\n", l.IP, who, l.Hostname, exp)
	}
	fmt.Fprintln(w, "\n== disk vs. a render now")
	switch {
	case r.DiffError != "":
		fmt.Fprintln(w, "no diff:", r.DiffError)
	case len(r.Diff) == 0:
		fmt.Fprintln(w, "no differences")
	default:
		for _, name := range []string{"host", "addn_hosts", "opts"} {
			if d := r.Diff[name]; len(d) > 0 {
				fmt.Fprintf(w, "--- %s (disk)\n+++ %s (render)\n%s\n", name, name, strings.Join(d, "\n"))
			}
		}
	}
}
