package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"qdhcp/devicemanager"
	"qdhcp/dhcpagent/config"
	"qdhcp/dnsmasq"
	"qdhcp/model"
	"qdhcp/source/memory"
)

// renderFlags are the options of `qdhcp-agent render`.
type renderFlags struct {
	configFiles multiFlag
	network     string
	out         string
	leases      string
	now         int64
	hostTags    string
	ipv6        string
	dnsmasq     string
}

func parseRenderFlags(args []string, stderr io.Writer) (*renderFlags, error) {
	f := &renderFlags{}
	fs := flag.NewFlagSet("render", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Var(&f.configFiles, "config-file", "neutron.conf / dhcp_agent.ini (repeatable; later files win)")
	fs.StringVar(&f.network, "network", "", "the network, as get_network_info returns it (JSON file)")
	fs.StringVar(&f.out, "out", "", "directory to write the files into")
	fs.StringVar(&f.leases, "leases", "", "the previous leases file (its duid and IPv6 leases are kept)")
	fs.Int64Var(&f.now, "now", -1, "clock for lease expiry, seconds since the epoch (default: now)")
	fs.StringVar(&f.hostTags, "host-tags", "auto", "dnsmasq supports tag: in dhcp-host lines: auto (ask dnsmasq), true or false")
	fs.StringVar(&f.ipv6, "ipv6", "auto", "IPv6 is enabled: auto (ask the kernel), true or false")
	fs.StringVar(&f.dnsmasq, "dnsmasq", "dnsmasq", "dnsmasq binary asked by --host-tags=auto")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	switch {
	case fs.NArg() > 0:
		return nil, fmt.Errorf("unexpected arguments: %q", fs.Args())
	case f.network == "" || f.out == "":
		return nil, errors.New("--network and --out are required")
	}
	for _, v := range []struct{ name, val string }{{"host-tags", f.hostTags}, {"ipv6", f.ipv6}} {
		switch v.val {
		case "auto", "true", "false":
		default:
			return nil, fmt.Errorf("--%s must be auto, true or false, got %q", v.name, v.val)
		}
	}
	return f, nil
}

// cmdRender is `qdhcp-agent render`: it writes host, addn_hosts, opts,
// leases, interface and cmdline (one argv element a line) into the output
// directory, plus haproxy.cfg and haproxy_cmdline when the metadata proxy
// would run; paths inside use the configured state_path. Exit codes: 0
// written (or nothing to write: no DHCP subnet), 1 other failures, 2 a bad
// command line, configuration or network file, with a one-line reason and
// nothing written.
func cmdRender(args []string, stdout, stderr io.Writer) int {
	fail := func(code int, format string, a ...any) int {
		fmt.Fprintln(stderr, oneLine("qdhcp-agent render: "+fmt.Sprintf(format, a...)))
		return code
	}
	f, err := parseRenderFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		return fail(2, "%v", err)
	}
	conf, err := config.Load(f.configFiles...)
	if err != nil {
		return fail(2, "%v", err)
	}
	data, err := os.ReadFile(f.network)
	if err != nil {
		return fail(1, "%v", err)
	}
	net, err := model.DecodeNetwork(data)
	if err != nil {
		return fail(2, "%s: %v", f.network, err)
	}
	if net.HasDHCPSubnet() {
		// the DHCP port as the agent's setup leaves it: existing (fixed IPs
		// reduced to DHCP subnets, missing subnets added), a reserved one
		// adopted, or a new one, allocated the way neutron-server does
		server := memory.New(conf.Host)
		server.Put(net)
		if _, err := devicemanager.SetupDHCPPort(context.Background(), server, conf, net); err != nil {
			return fail(1, "DHCP port setup: %v", err)
		}
	}
	in := &dnsmasq.Input{Network: net, Conf: conf, Env: dnsmasq.Env{Now: time.Now()}}
	if f.now >= 0 {
		in.Env.Now = time.Unix(f.now, 0)
	}
	in.Env.HostTagSupport = f.hostTags == "true" || f.hostTags == "auto" && dnsmasq.SupportsHostTags(f.dnsmasq)
	in.Env.IPv6Enabled = f.ipv6 == "true" || f.ipv6 == "auto" && dnsmasq.IPv6Enabled()
	if f.leases != "" {
		if in.PrevLeases, err = os.ReadFile(f.leases); err != nil {
			return fail(1, "%v", err)
		}
	}

	files, err := dnsmasq.Render(in)
	var bad *model.ValidationError
	switch {
	case errors.Is(err, dnsmasq.ErrNoDHCPSubnet):
		fmt.Fprintf(stderr, "qdhcp-agent render: network %s has no DHCP-enabled subnet: neutron runs no dnsmasq for it; nothing written\n", net.ID)
		return 0
	case errors.As(err, &bad):
		return fail(2, "%s: %v", f.network, err)
	case err != nil:
		return fail(1, "%v", err)
	}
	out := map[string][]byte{
		"host":       files.Host,
		"addn_hosts": files.AddnHosts,
		"opts":       files.Opts,
		"leases":     files.Leases,
		"interface":  []byte(files.Interface),
		"cmdline":    argvFile(files.Argv),
	}
	proxy, err := dnsmasq.MetadataProxy(net, conf, in.Env)
	if err != nil {
		return fail(1, "%v", err)
	}
	if proxy != nil {
		cfg, err := proxy.Render()
		if err != nil {
			return fail(1, "%v", err)
		}
		out["haproxy.cfg"] = cfg
		out["haproxy_cmdline"] = argvFile(proxy.Argv())
	}
	if err := writeFiles(f.out, out, []string{"haproxy.cfg", "haproxy_cmdline"}); err != nil {
		return fail(1, "%v", err)
	}
	fmt.Fprintf(stdout, "network %s: wrote %d files into %s\n", net.ID, len(out), f.out)
	return 0
}

// argvFile is one argv element a line (an empty element is an empty line).
func argvFile(argv []string) []byte {
	var b strings.Builder
	for _, a := range argv {
		b.WriteString(a)
		b.WriteByte('\n')
	}
	return []byte(b.String())
}

// writeFiles writes each file atomically (temporary file + rename) into
// dir, created if needed, and removes the stale ones not written this time.
func writeFiles(dir string, files map[string][]byte, stale []string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for name, data := range files {
		tmp, err := os.CreateTemp(dir, "."+name+".tmp*")
		if err != nil {
			return err
		}
		_, werr := tmp.Write(data)
		if cerr := tmp.Close(); werr == nil {
			werr = cerr
		}
		if werr == nil {
			werr = os.Chmod(tmp.Name(), 0o644)
		}
		if werr == nil {
			werr = os.Rename(tmp.Name(), filepath.Join(dir, name))
		}
		if werr != nil {
			os.Remove(tmp.Name())
			return fmt.Errorf("write %s: %w", filepath.Join(dir, name), werr)
		}
	}
	for _, name := range stale {
		if _, written := files[name]; !written {
			if err := os.Remove(filepath.Join(dir, name)); err != nil && !os.IsNotExist(err) {
				return err
			}
		}
	}
	return nil
}

// oneLine keeps an error message on one line whatever the input held.
func oneLine(s string) string {
	return strings.NewReplacer("\r", `\r`, "\n", `\n`).Replace(s)
}
