package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"

	"qdhcp/devicemanager"
	"qdhcp/dhcpagent/config"
	"qdhcp/dnsmasq/driver"
	"qdhcp/model"
	"qdhcp/procmon"
)

// cmdCleanup is `qdhcp-agent cleanup`: stop and remove everything the agent
// set up for the networks under state_path (dnsmasq, metadata proxies, DHCP
// devices, namespaces, state dirs), without telling the server, like
// neutron-netns-cleanup. The agent must not be running.
func cmdCleanup(args []string) int {
	var files multiFlag
	fs := flag.NewFlagSet("cleanup", flag.ContinueOnError)
	fs.Var(&files, "config-file", "neutron.conf / dhcp_agent.ini (repeatable)")
	ovsdb := fs.String("ovsdb", "", "OVSDB endpoint, overriding [OVS] ovsdb_connection")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	conf, err := config.Load(files...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "qdhcp-agent cleanup:", err)
		return 2
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	var opts []devicemanager.Option
	if *ovsdb != "" {
		opts = append(opts, devicemanager.WithOVSDBEndpoints(*ovsdb))
	}
	devices, err := devicemanager.New(conf, log, opts...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "qdhcp-agent cleanup:", err)
		return 1
	}
	defer devices.Close()
	mon := procmon.New(procmon.Config{Logger: log}) // not run: nothing is respawned
	drv := driver.New(conf, nil, devices, mon, driver.Options{Logger: log})
	entries, err := os.ReadDir(conf.DHCPConfs)
	if err != nil && !os.IsNotExist(err) {
		fmt.Fprintln(os.Stderr, "qdhcp-agent cleanup:", err)
		return 1
	}
	rc := 0
	for _, e := range entries {
		if !e.IsDir() || !model.IsUUID(e.Name()) {
			continue
		}
		if err := drv.Disable(context.Background(), e.Name(), false); err != nil {
			log.Error("cleanup failed", "network", e.Name(), "err", err)
			rc = 1
			continue
		}
		log.Info("network cleaned up", "network", e.Name())
	}
	return rc
}
