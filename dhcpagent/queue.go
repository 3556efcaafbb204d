package dhcpagent

import (
	"context"
	"sort"
	"sync"
)

// queue serialises work per network and coalesces it: events for a network
// that arrive while the network is being processed are held, then handed to
// the processor together as one batch (sorted by neutron's priority, then
// arrival). A storm of 500 port updates thus costs a handful of batches, not
// 500. At most `workers` networks are processed at once.
type queue struct {
	mu      sync.Mutex
	pending map[string][]*event
	busy    map[string]bool
	seq     uint64
	sem     chan struct{}
	process func(ctx context.Context, netID string, batch []*event)
	wg      sync.WaitGroup
	ctx     context.Context
	closed  bool
}

func newQueue(ctx context.Context, workers int, process func(context.Context, string, []*event)) *queue {
	if workers < 1 {
		workers = 1
	}
	return &queue{
		pending: map[string][]*event{},
		busy:    map[string]bool{},
		sem:     make(chan struct{}, workers),
		process: process,
		ctx:     ctx,
	}
}

// add enqueues ev for network netID. It returns false when the queue is
// closed (the event's done callback is then called with context.Canceled).
func (q *queue) add(netID string, ev *event) bool {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		ev.finish(context.Canceled)
		return false
	}
	q.seq++
	ev.seq = q.seq
	q.pending[netID] = append(q.pending[netID], ev)
	start := !q.busy[netID]
	if start {
		q.busy[netID] = true
		q.wg.Add(1)
	}
	q.mu.Unlock()
	if start {
		go q.run(netID)
	}
	return true
}

// run drains a network's pending events batch by batch.
func (q *queue) run(netID string) {
	defer q.wg.Done()
	for {
		select {
		case q.sem <- struct{}{}:
		case <-q.ctx.Done():
			q.drop(netID)
			return
		}
		q.mu.Lock()
		batch := q.pending[netID]
		delete(q.pending, netID)
		if len(batch) == 0 {
			q.busy[netID] = false
			delete(q.busy, netID)
			q.mu.Unlock()
			<-q.sem
			return
		}
		q.mu.Unlock()
		sort.SliceStable(batch, func(i, j int) bool {
			if batch[i].prio != batch[j].prio {
				return batch[i].prio < batch[j].prio
			}
			return batch[i].seq < batch[j].seq
		})
		q.process(q.ctx, netID, batch)
		<-q.sem
	}
}

// drop fails the pending events of a network when the agent stops.
func (q *queue) drop(netID string) {
	q.mu.Lock()
	batch := q.pending[netID]
	delete(q.pending, netID)
	delete(q.busy, netID)
	q.mu.Unlock()
	for _, ev := range batch {
		ev.finish(context.Canceled)
	}
}

// depth is the number of events waiting.
func (q *queue) depth() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := 0
	for _, b := range q.pending {
		n += len(b)
	}
	return n
}

// close refuses new events and waits for the running batches.
func (q *queue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	q.wg.Wait()
}
