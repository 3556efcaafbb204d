package devicemanager

import (
	"context"

	"github.com/ovn-org/libovsdb/client"
	"github.com/ovn-org/libovsdb/ovsdb"
)

// txRequest is one caller's operations waiting for the group commit.
type txRequest struct {
	ops  []ovsdb.Operation
	done chan error
}

// transactAndWait commits ops together with next_cfg += 1 (what ovs-vsctl
// does without --no-wait) and waits until ovs-vswitchd reports cur_cfg at
// least that value, i.e. it has applied the change.
//
// Changes for different networks are group-committed: while one
// transaction is being applied by ovs-vswitchd, the operations that arrive
// are queued and then committed together in the next transaction, so
// ovs-vswitchd reconfigures its bridges once for all of them (each
// reconfiguration costs it time in proportion to the number of ports). A
// grouped transaction that ovsdb-server rejects (OVSDB transactions are
// atomic: nothing of it was applied) is retried one request at a time, so
// one request's bad operation never fails another's.
func (o *ovsDB) transactAndWait(ctx context.Context, c client.Client, ops []ovsdb.Operation) error {
	req := &txRequest{ops: ops, done: make(chan error, 1)}
	o.txMu.Lock()
	o.txQueue = append(o.txQueue, req)
	start := !o.txBusy
	o.txBusy = true
	o.txMu.Unlock()
	if start {
		go o.commitLoop(c)
	}
	select {
	case err := <-req.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// commitLoop commits the queued requests, all that are waiting at a time,
// until the queue is empty.
func (o *ovsDB) commitLoop(c client.Client) {
	for {
		o.txMu.Lock()
		batch := o.txQueue
		o.txQueue = nil
		if len(batch) == 0 {
			o.txBusy = false
			o.txMu.Unlock()
			return
		}
		o.txMu.Unlock()

		// the commit outlives any one caller: bounded by the OVSDB timeout
		ctx := context.Background()
		if cur, err := o.client(ctx); err == nil {
			c = cur
		}
		var ops []ovsdb.Operation
		for _, r := range batch {
			ops = append(ops, r.ops...)
		}
		rejected, err := o.commit(ctx, c, ops, true)
		if rejected && len(batch) > 1 {
			for _, r := range batch {
				_, err := o.commit(ctx, c, r.ops, true)
				r.done <- err
			}
			continue
		}
		for _, r := range batch {
			r.done <- err
		}
	}
}
