// Command qdhcp-agent is a drop-in replacement for neutron-dhcp-agent with
// the dnsmasq driver. Subcommands:
//
//	qdhcp-agent run     --config-file F...   the agent
//	qdhcp-agent status  / inspect NET        what it serves
//	qdhcp-agent cleanup                      tear down what it left behind
//	qdhcp-agent render  --network NET.json --out DIR   neutron's files for a network
package main

import (
	"fmt"
	"io"
	"os"
	"strings"
)

func main() {
	os.Exit(dispatch(os.Args[1:], os.Stdout, os.Stderr))
}

// command is one subcommand; run returns the exit code.
type command struct {
	name, summary string
	run           func(args []string, stdout, stderr io.Writer) int
}

func commands() []command {
	return []command{
		{"run", "run the DHCP agent", func(a []string, _, _ io.Writer) int { return cmdRun(a) }},
		{"status", "list the networks served here", func(a []string, o, _ io.Writer) int { return cmdStatus(a, o) }},
		{"inspect", "show one network's files, leases and drift", func(a []string, o, _ io.Writer) int { return cmdInspect(a, o) }},
		{"cleanup", "remove what a stopped agent left behind", func(a []string, _, _ io.Writer) int { return cmdCleanup(a) }},
		{"render", "write neutron's dnsmasq (and haproxy) files for a network", cmdRender},
		{"bench", "benchmark render, cold sync, event latency, storm, RSS (root, OVS)", cmdBench},
	}
}

// dispatch runs the subcommand named by args[0].
func dispatch(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "qdhcp-agent: unknown command %q\n", args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	var b strings.Builder
	b.WriteString("usage: qdhcp-agent COMMAND [options]   (COMMAND -h for its options)\n\ncommands:\n")
	for _, c := range commands() {
		fmt.Fprintf(&b, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, b.String())
}
