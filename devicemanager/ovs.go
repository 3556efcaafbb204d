package devicemanager

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ovn-org/libovsdb/cache"
	"github.com/ovn-org/libovsdb/client"
	"github.com/ovn-org/libovsdb/model"
	"github.com/ovn-org/libovsdb/ovsdb"

	vs "qdhcp/devicemanager/ovsdb"
)

// DefaultOVSDBSocket is where ovsdb-server listens on Debian.
const DefaultOVSDBSocket = "unix:/var/run/openvswitch/db.sock"

// ovsDB talks to ovsdb-server with libovsdb. It keeps one connection with a
// monitor on the four tables it needs (only the columns it reads, so the
// statistics updates of every interface do not flow in), and reconnects on
// the next call after the connection dropped (ovsdb-server restart).
type ovsDB struct {
	endpoints []string
	timeout   time.Duration
	log       *slog.Logger

	mu sync.Mutex
	c  client.Client

	// cfgWake is closed (and replaced) whenever the monitor delivers a
	// change of the Open_vSwitch row, waking waitCurCfg.
	cfgMu   sync.Mutex
	cfgWake chan struct{}

	// the group commit of transactAndWait (ovscommit.go)
	txMu     sync.Mutex
	txQueue  []*txRequest
	txBusy   bool
	namedSeq atomic.Uint64
}

func newOVSDB(endpoints []string, timeout time.Duration, log *slog.Logger) *ovsDB {
	return &ovsDB{endpoints: endpoints, timeout: timeout, log: log, cfgWake: make(chan struct{})}
}

// ovsRowChanged wakes the waiters of waitCurCfg.
func (o *ovsDB) ovsRowChanged() {
	o.cfgMu.Lock()
	close(o.cfgWake)
	o.cfgWake = make(chan struct{})
	o.cfgMu.Unlock()
}

// cfgWaiter returns a channel closed at the next change of the
// Open_vSwitch row.
func (o *ovsDB) cfgWaiter() <-chan struct{} {
	o.cfgMu.Lock()
	defer o.cfgMu.Unlock()
	return o.cfgWake
}

func (o *ovsDB) close() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.c != nil {
		o.c.Close()
		o.c = nil
	}
}

// client returns a connected client with its monitor established.
func (o *ovsDB) client(ctx context.Context) (client.Client, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.c != nil && o.c.Connected() {
		return o.c, nil
	}
	if o.c != nil {
		o.c.Close()
		o.c = nil
	}
	dbModel, err := model.NewClientDBModel("Open_vSwitch", map[string]model.Model{
		vs.OpenvSwitchTable: &vs.OpenvSwitch{},
		vs.BridgeTable:      &vs.Bridge{},
		vs.PortTable:        &vs.Port{},
		vs.InterfaceTable:   &vs.Interface{},
	})
	if err != nil {
		return nil, fmt.Errorf("ovsdb model: %w", err)
	}
	logger := newOVSDBLogger(o.log)
	opts := []client.Option{client.WithLogger(&logger)}
	for _, e := range o.endpoints {
		opts = append(opts, client.WithEndpoint(e))
	}
	c, err := client.NewOVSDBClient(dbModel, opts...)
	if err != nil {
		return nil, fmt.Errorf("ovsdb client: %w", err)
	}
	cctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	if err := c.Connect(cctx); err != nil {
		return nil, fmt.Errorf("connect to ovsdb %v: %w", o.endpoints, err)
	}
	onOVSRow := func(table string, _ model.Model) {
		if table == vs.OpenvSwitchTable {
			o.ovsRowChanged()
		}
	}
	c.Cache().AddEventHandler(&cache.EventHandlerFuncs{
		AddFunc:    onOVSRow,
		UpdateFunc: func(table string, _, new model.Model) { onOVSRow(table, new) },
	})
	ovsRow, br, port, iface := &vs.OpenvSwitch{}, &vs.Bridge{}, &vs.Port{}, &vs.Interface{}
	mon := c.NewMonitor(
		client.WithTable(ovsRow, &ovsRow.Bridges, &ovsRow.NextCfg, &ovsRow.CurCfg),
		client.WithTable(br, &br.Name, &br.Ports),
		client.WithTable(port, &port.Name, &port.Interfaces),
		client.WithTable(iface, &iface.Name, &iface.Type, &iface.ExternalIDs, &iface.MTURequest, &iface.Ofport, &iface.Error),
	)
	if _, err := c.Monitor(cctx, mon); err != nil {
		c.Close()
		return nil, fmt.Errorf("ovsdb monitor: %w", err)
	}
	o.log.Debug("connected to ovsdb", "endpoint", c.CurrentEndpoint())
	o.c = c
	return c, nil
}

// ovsPort is what the cache knows about a port named like a device.
type ovsPort struct {
	port    *vs.Port
	iface   *vs.Interface // the interface with the port's name, if any
	bridges []*vs.Bridge  // bridges listing the port
}

func (o *ovsDB) lookupPort(ctx context.Context, c client.Client, name string) (*ovsPort, error) {
	p := &vs.Port{Name: name}
	if err := c.Get(ctx, p); err != nil {
		if errors.Is(err, client.ErrNotFound) {
			return nil, nil
		}
		return nil, fmt.Errorf("ovsdb: look up port %s: %w", name, err)
	}
	res := &ovsPort{port: p}
	for _, u := range p.Interfaces {
		i := &vs.Interface{UUID: u}
		if err := c.Get(ctx, i); err == nil && i.Name == name {
			res.iface = i
		}
	}
	var brs []*vs.Bridge
	err := c.WhereCache(func(b *vs.Bridge) bool { return slices.Contains(b.Ports, p.UUID) }).List(ctx, &brs)
	if err != nil {
		return nil, fmt.Errorf("ovsdb: bridges of port %s: %w", name, err)
	}
	res.bridges = brs
	return res, nil
}

// portSpec describes the OVS port of a DHCP device.
type portSpec struct {
	Bridge      string
	Name        string
	Type        string // "internal", or "" for a system device (a veth's root end)
	ExternalIDs map[string]string
	MTU         int // mtu_request; 0 leaves it unset
	// NoWait commits without waiting for ovs-vswitchd to apply the change
	// (for a device that exists without it: a veth's root end). Commits
	// that arrive while ovs-vswitchd reconfigures are then applied by it
	// in one go.
	NoWait bool
}

// ensurePort makes the port exist on the bridge with the external
// ids, reusing a row that already exists (adding a second one would violate
// the name index, quirk 5). A port of that name on another bridge is moved.
// It returns whether it created the row, and waits until ovs-vswitchd has
// applied the change (unless want.NoWait).
func (o *ovsDB) ensurePort(ctx context.Context, want portSpec) (created bool, err error) {
	c, err := o.client(ctx)
	if err != nil {
		return false, err
	}
	br := &vs.Bridge{Name: want.Bridge}
	if err := c.Get(ctx, br); err != nil {
		return false, fmt.Errorf("ovsdb: bridge %s: %w", want.Bridge, err)
	}
	have, err := o.lookupPort(ctx, c, want.Name)
	if err != nil {
		return false, err
	}
	if have != nil && have.iface != nil && len(have.bridges) == 1 && have.bridges[0].UUID == br.UUID {
		return false, o.updateInterface(ctx, c, have.iface, want)
	}

	var ops []ovsdb.Operation
	if have != nil {
		// not (only) on our bridge, or without its interface: replace it
		for _, b := range have.bridges {
			op, err := c.Where(b).Mutate(b, model.Mutation{Field: &b.Ports, Mutator: ovsdb.MutateOperationDelete, Value: []string{have.port.UUID}})
			if err != nil {
				return false, fmt.Errorf("ovsdb: detach port %s: %w", want.Name, err)
			}
			ops = append(ops, op...)
		}
		o.log.Info("replacing OVS port", "port", want.Name, "bridges", len(have.bridges))
	}
	seq := o.namedSeq.Add(1) // named uuids must be unique in a grouped transaction
	iface := &vs.Interface{
		UUID:        fmt.Sprintf("qdhcp_iface_%d", seq),
		Name:        want.Name,
		Type:        want.Type,
		ExternalIDs: maps.Clone(want.ExternalIDs),
	}
	if want.MTU > 0 {
		mtu := want.MTU
		iface.MTURequest = &mtu
	}
	port := &vs.Port{UUID: fmt.Sprintf("qdhcp_port_%d", seq), Name: want.Name, Interfaces: []string{iface.UUID}}
	op, err := c.Create(iface, port)
	if err != nil {
		return false, fmt.Errorf("ovsdb: create port %s: %w", want.Name, err)
	}
	ops = append(ops, op...)
	op, err = c.Where(br).Mutate(br, model.Mutation{Field: &br.Ports, Mutator: ovsdb.MutateOperationInsert, Value: []string{port.UUID}})
	if err != nil {
		return false, fmt.Errorf("ovsdb: attach port %s: %w", want.Name, err)
	}
	ops = append(ops, op...)
	if have != nil {
		// the old row must be gone before a row with the same name is added
		if err := o.transactAndWait(ctx, c, ops[:len(have.bridges)]); err != nil {
			return false, err
		}
		ops = ops[len(have.bridges):]
	}
	if err := o.transactMaybeWait(ctx, c, ops, !want.NoWait); err != nil {
		return false, fmt.Errorf("add port %s to %s: %w", want.Name, want.Bridge, err)
	}
	return true, nil
}

// updateInterface brings an existing interface row to the wanted type,
// external ids and mtu_request, if anything differs.
func (o *ovsDB) updateInterface(ctx context.Context, c client.Client, cur *vs.Interface, want portSpec) error {
	upd := &vs.Interface{UUID: cur.UUID, Name: cur.Name, Type: want.Type, ExternalIDs: maps.Clone(cur.ExternalIDs), MTURequest: cur.MTURequest}
	if upd.ExternalIDs == nil {
		upd.ExternalIDs = map[string]string{}
	}
	maps.Copy(upd.ExternalIDs, want.ExternalIDs)
	if want.MTU > 0 {
		mtu := want.MTU
		upd.MTURequest = &mtu
	}
	if cur.Type == upd.Type && maps.Equal(cur.ExternalIDs, upd.ExternalIDs) && equalIntPtr(cur.MTURequest, upd.MTURequest) {
		return nil
	}
	ops, err := c.Where(upd).Update(upd, &upd.Type, &upd.ExternalIDs, &upd.MTURequest)
	if err != nil {
		return fmt.Errorf("ovsdb: update interface %s: %w", cur.Name, err)
	}
	if err := o.transactMaybeWait(ctx, c, ops, !want.NoWait); err != nil {
		return fmt.Errorf("update interface %s: %w", cur.Name, err)
	}
	return nil
}

func equalIntPtr(a, b *int) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// deletePort removes the port named name from every bridge (the Port and
// Interface rows are garbage-collected; ovs-vswitchd destroys the device,
// even inside another namespace, quirk 4). It reports whether a port existed.
func (o *ovsDB) deletePort(ctx context.Context, name string) (bool, error) {
	c, err := o.client(ctx)
	if err != nil {
		return false, err
	}
	have, err := o.lookupPort(ctx, c, name)
	if err != nil || have == nil {
		return false, err
	}
	var ops []ovsdb.Operation
	for _, b := range have.bridges {
		op, err := c.Where(b).Mutate(b, model.Mutation{Field: &b.Ports, Mutator: ovsdb.MutateOperationDelete, Value: []string{have.port.UUID}})
		if err != nil {
			return true, fmt.Errorf("ovsdb: detach port %s: %w", name, err)
		}
		ops = append(ops, op...)
	}
	if len(have.bridges) == 0 {
		// an orphan row (not referenced by any bridge) is garbage already
		return true, nil
	}
	if err := o.transactAndWait(ctx, c, ops); err != nil {
		return true, fmt.Errorf("delete port %s: %w", name, err)
	}
	return true, nil
}

// transactMaybeWait is transactAndWait, or with wait false one commit of
// its own that returns once ovsdb-server accepted it.
func (o *ovsDB) transactMaybeWait(ctx context.Context, c client.Client, ops []ovsdb.Operation, wait bool) error {
	if wait {
		return o.transactAndWait(ctx, c, ops)
	}
	_, err := o.commit(ctx, c, ops, false)
	return err
}

// commit commits ops together with next_cfg += 1 (what ovs-vsctl does
// without --no-wait) in one transaction and, with wait, waits until
// ovs-vswitchd reports cur_cfg at least that value, i.e. it has applied the
// change; without, it returns once ovsdb-server accepted the transaction
// (ovs-vswitchd reconfigures all the same). rejected reports that
// ovsdb-server refused the transaction (an operation failed), in which case
// none of it was applied.
func (o *ovsDB) commit(ctx context.Context, c client.Client, ops []ovsdb.Operation, wait bool) (rejected bool, err error) {
	var rows []*vs.OpenvSwitch
	if err := c.List(ctx, &rows); err != nil || len(rows) == 0 {
		return false, fmt.Errorf("ovsdb: no Open_vSwitch row (err %v)", err)
	}
	root := rows[0]
	bump, err := c.Where(root).Mutate(root, model.Mutation{Field: &root.NextCfg, Mutator: ovsdb.MutateOperationAdd, Value: 1})
	if err != nil {
		return false, fmt.Errorf("ovsdb: next_cfg: %w", err)
	}
	all := append(append(slices.Clone(ops), bump...), ovsdb.Operation{
		Op:      ovsdb.OperationSelect,
		Table:   vs.OpenvSwitchTable,
		Where:   []ovsdb.Condition{ovsdb.NewCondition("_uuid", ovsdb.ConditionEqual, ovsdb.UUID{GoUUID: root.UUID})},
		Columns: []string{"next_cfg"},
	})
	tctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	res, err := c.Transact(tctx, all...)
	if err != nil {
		return false, fmt.Errorf("ovsdb transact: %w", err)
	}
	if _, err := ovsdb.CheckOperationResults(res, all); err != nil {
		return true, fmt.Errorf("ovsdb transact: %w", err)
	}
	want, ok := nextCfgFrom(res[len(res)-1])
	if !ok || !wait {
		return false, nil
	}
	return false, o.waitCurCfg(tctx, c, want)
}

func nextCfgFrom(r ovsdb.OperationResult) (int, bool) {
	if len(r.Rows) == 0 {
		return 0, false
	}
	switch v := r.Rows[0]["next_cfg"].(type) {
	case float64:
		return int(v), true
	case int:
		return v, true
	}
	return 0, false
}

// waitCurCfg waits until the monitored cur_cfg reaches want: woken by
// the monitor's update of the Open_vSwitch row, and checking every 10 ms
// as well (the cache's event queue may drop events when full).
func (o *ovsDB) waitCurCfg(ctx context.Context, c client.Client, want int) error {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		wake := o.cfgWaiter()
		var rows []*vs.OpenvSwitch
		if err := c.List(ctx, &rows); err == nil && len(rows) > 0 && rows[0].CurCfg >= want {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("ovs-vswitchd did not apply configuration %d: %w", want, ctx.Err())
		case <-wake:
		case <-t.C:
		}
	}
}
