package driver

import (
	"context"
	"errors"
	"fmt"
	"time"

	"qdhcp/dnsmasq"
	"qdhcp/model"
	"qdhcp/procmon"
)

// releaseTries and releaseWait: neutron tries a release up to 3 times,
// 0.3 s apart, while the lease stays in the leases file.
const (
	releaseTries = 3
	releaseWait  = 300 * time.Millisecond
)

// releaseStaleLeases tells dnsmasq to drop the leases of addresses no port
// holds any more (dhcp_release / dhcp_release6 inside the namespace), so a
// reassigned address is not refused. It must run before host is rewritten:
// the old host file is one of its inputs.
func (d *Driver) releaseStaleLeases(ctx context.Context, net *model.Network, paths dnsmasq.Paths, dev string) error {
	prevHost, err := readFileIfExists(paths.Host)
	if err != nil {
		return fmt.Errorf("read host file: %w", err)
	}
	leases, err := d.readLeases(paths.Leases)
	if err != nil {
		return err
	}
	var errs []error
	for _, r := range dnsmasq.StaleLeases(prevHost, leases, net) {
		if err := d.release(ctx, net.ID, paths, dev, r); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (d *Driver) readLeases(path string) ([]dnsmasq.Lease, error) {
	data, err := readFileIfExists(path)
	if err != nil {
		return nil, fmt.Errorf("read leases: %w", err)
	}
	leases, err := dnsmasq.ParseLeases(data)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	return leases, nil
}

// release runs one release until the lease has left the leases file.
func (d *Driver) release(ctx context.Context, netID string, paths dnsmasq.Paths, dev string, r dnsmasq.Release) error {
	argv := r.Argv(dev)
	if argv == nil {
		d.log.Warn("stale lease cannot be released: no client DUID in the leases file", "network", netID, "ip", r.IP)
		return nil
	}
	var last error
	for try := 0; try < releaseTries; try++ {
		if try > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(releaseWait):
			}
		}
		if _, err := procmon.Run(ctx, namespace(netID), argv); err != nil {
			last = err
			continue
		}
		d.releases.Add(1)
		if !d.leaseStillThere(paths.Leases, r) {
			d.log.Info("stale lease released", "network", netID, "ip", r.IP, "mac", r.MAC)
			return nil
		}
	}
	if last != nil {
		return fmt.Errorf("release %s: %w", r.IP, last)
	}
	d.log.Warn("lease still present after release", "network", netID, "ip", r.IP, "argv", argv)
	return nil
}

func (d *Driver) leaseStillThere(path string, r dnsmasq.Release) bool {
	leases, err := d.readLeases(path)
	if err != nil {
		return false
	}
	for _, l := range leases {
		if l.IP == r.IP && l.Version == r.Version {
			return true
		}
	}
	return false
}
