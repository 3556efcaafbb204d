package amqp

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"
)

// Transport is an oslo.messaging-compatible RabbitMQ transport: one AMQP
// connection (kept up by a supervisor that fails over between the hosts of
// the transport_url), a confirm-mode publishing channel, a lazily declared
// reply queue for calls, and the consumers of the servers started on it.
type Transport struct {
	url  *URL
	opts Options
	log  *slog.Logger
	tls  *tls.Config

	mu          sync.Mutex
	sess        *session      // current connection, nil while down
	ready       chan struct{} // closed while sess is usable
	groups      map[*consumerGroup]struct{}
	onReconnect []func()
	closed      bool

	done    chan struct{} // closed by Close
	stopped chan struct{} // closed when the supervisor exits

	pub  publisher // casts and calls
	rpub publisher // replies (mandatory)

	replyMu sync.Mutex
	reply   *consumerGroup // the reply_<uuid> consumer, nil until the first Call
	replyQ  string

	wmu     sync.Mutex
	waiters map[string]*waiter // msg id -> call waiting for its reply
}

// New parses the transport_url, applies its query overrides to opts and
// starts connecting in the background. It does not wait for the broker: use
// WaitConnected, or just Call/Cast, which wait up to their timeout.
func New(transportURL string, opts Options) (*Transport, error) {
	u, err := ParseURL(transportURL)
	if err != nil {
		return nil, err
	}
	if err := opts.applyQuery(u.Query); err != nil {
		return nil, err
	}
	opts.fill()
	if err := opts.validate(); err != nil {
		return nil, err
	}
	tlsCfg, err := opts.tlsConfig()
	if err != nil {
		return nil, err
	}
	t := &Transport{
		url:     u,
		opts:    opts,
		log:     opts.Logger.With("component", "amqp"),
		tls:     tlsCfg,
		ready:   make(chan struct{}),
		groups:  map[*consumerGroup]struct{}{},
		done:    make(chan struct{}),
		stopped: make(chan struct{}),
		waiters: map[string]*waiter{},
	}
	t.rpub.mandatory = true
	if t.opts.ConnectionName == "" {
		t.opts.ConnectionName = defaultConnectionName()
	}
	go t.run()
	return t, nil
}

// Options returns the effective options (defaults and URL overrides applied).
func (t *Transport) Options() Options { return t.opts }

// ControlExchange is the exchange of topic messages when a Target names none.
func (t *Transport) ControlExchange() string { return t.opts.ControlExchange }

// OnReconnect registers f to run (in its own goroutine) after every
// reconnection, once queues are re-declared and consumers resumed. Messages
// may have been missed meanwhile: the agent schedules a full resync.
func (t *Transport) OnReconnect(f func()) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.onReconnect = append(t.onReconnect, f)
}

// Connected reports whether a broker connection is up.
func (t *Transport) Connected() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	select {
	case <-t.ready:
		return t.sess != nil
	default:
		return false
	}
}

// WaitConnected blocks until a broker connection is up, ctx ends or the
// transport is closed.
func (t *Transport) WaitConnected(ctx context.Context) error {
	_, err := t.session(ctx)
	return err
}

// session returns the current usable session, waiting for one.
func (t *Transport) session(ctx context.Context) (*session, error) {
	for {
		t.mu.Lock()
		s, ready, closed := t.sess, t.ready, t.closed
		t.mu.Unlock()
		if closed {
			return nil, ErrClosed
		}
		select {
		case <-ready:
			if s != nil && !s.isLost() {
				return s, nil
			}
			// lost but not yet uninstalled by the supervisor
			select {
			case <-time.After(10 * time.Millisecond):
			case <-ctx.Done():
				return nil, fmt.Errorf("%w: %v", ErrNotConnected, context.Cause(ctx))
			}
			continue
		default:
		}
		select {
		case <-ready:
		case <-ctx.Done():
			return nil, fmt.Errorf("%w: %v", ErrNotConnected, context.Cause(ctx))
		case <-t.done:
			return nil, ErrClosed
		case <-sessionLost(s):
		}
	}
}

// Close stops the servers and the reply consumer (deleting the fanout and
// reply queues), fails the calls in flight with ErrClosed and closes the
// connection. It is safe to call more than once.
func (t *Transport) Close() error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		<-t.stopped
		return nil
	}
	t.closed = true
	groups := slices.Collect(maps.Keys(t.groups))
	t.mu.Unlock()

	for _, g := range groups {
		g.stop()
	}
	t.failWaiters(0, ErrClosed)
	close(t.done)
	<-t.stopped
	return nil
}
