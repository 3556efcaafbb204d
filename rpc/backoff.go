package rpc

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"
)

// methodTimeouts is neutron-lib's BackingOffClient: every method starts at
// rpc_response_timeout; a timeout doubles that method's timeout (up to
// rpc_response_max_timeout) and the caller waits a random
// [0, min(method timeout, rpc_response_timeout)) before the error is
// returned, so that a loaded server is not hammered by immediate retries.
// The timeout never shrinks again (as in neutron, until the agent restarts).
type methodTimeouts struct {
	base, max time.Duration

	mu sync.Mutex
	m  map[string]time.Duration
}

func newMethodTimeouts(base, max time.Duration) *methodTimeouts {
	if max < base {
		max = base
	}
	return &methodTimeouts{base: base, max: max, m: map[string]time.Duration{}}
}

func (b *methodTimeouts) get(method string) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	if d, ok := b.m[method]; ok {
		return d
	}
	return b.base
}

// timedOut records a timeout of method after used and returns how long the
// caller should wait before reporting it.
func (b *methodTimeouts) timedOut(method string, used time.Duration) time.Duration {
	b.mu.Lock()
	cur, ok := b.m[method]
	if !ok {
		cur = b.base
	}
	if next := min(used*2, b.max); next > cur {
		b.m[method] = next
	}
	b.mu.Unlock()
	return time.Duration(rand.Int64N(int64(min(cur, b.base)) + 1))
}

// sleepCtx waits d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
