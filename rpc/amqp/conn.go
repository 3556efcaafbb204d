package amqp

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"
)

// session is one live AMQP connection.
type session struct {
	conn *amqp091.Connection
	gen  uint64 // 1 for the first connection, +1 per reconnection
	host Host
	lost chan struct{} // closed once the connection is gone
}

func (s *session) isLost() bool {
	select {
	case <-s.lost:
		return true
	default:
		return false
	}
}

// sessionLost is s.lost, or a nil channel (blocks forever) for no session.
func sessionLost(s *session) <-chan struct{} {
	if s == nil {
		return nil
	}
	return s.lost
}

// dialTimeout bounds the TCP connect plus the TLS and AMQP handshakes.
const dialTimeout = 10 * time.Second

func defaultConnectionName() string {
	return fmt.Sprintf("%s:%d:%s", filepath.Base(os.Args[0]), os.Getpid(), newID())
}

// dial opens a connection to one host.
func (t *Transport) dial(h Host, gen uint64) (*session, error) {
	user, pass := h.credentials()
	cfg := amqp091.Config{
		SASL: []amqp091.Authentication{
			&amqp091.AMQPlainAuth{Username: user, Password: pass},
			&amqp091.PlainAuth{Username: user, Password: pass},
		},
		Vhost:     t.url.vhost(),
		Heartbeat: time.Duration(t.opts.HeartbeatTimeoutThreshold) * time.Second,
		Locale:    "en_US",
		Dial:      dialer(dialTimeout, time.Duration(t.opts.HeartbeatTimeoutThreshold)*time.Second),
		Properties: amqp091.Table{
			"product":         "qdhcp",
			"connection_name": t.opts.ConnectionName,
			"capabilities": amqp091.Table{
				"authentication_failure_close": true,
				"connection.blocked":           true,
				"consumer_cancel_notify":       true,
				"publisher_confirms":           true,
				"basic.nack":                   true,
				"exchange_exchange_bindings":   true,
				"per_consumer_qos":             true,
			},
		},
	}
	scheme := "amqp"
	if t.tls != nil {
		scheme = "amqps"
		c := t.tls.Clone()
		if c.ServerName == "" {
			c.ServerName = h.Hostname
		}
		cfg.TLSClientConfig = c
	}
	conn, err := amqp091.DialConfig(scheme+"://"+h.Addr()+"/", cfg)
	if err != nil {
		return nil, fmt.Errorf("connect %s: %w", h.Addr(), err)
	}
	s := &session{conn: conn, gen: gen, host: h, lost: make(chan struct{})}
	closes := conn.NotifyClose(make(chan *amqp091.Error, 1))
	blocked := conn.NotifyBlocked(make(chan amqp091.Blocking, 4))
	go func() {
		for {
			select {
			case err, ok := <-closes:
				if ok && err != nil {
					t.log.Warn("AMQP connection closed", "host", h.Addr(), "err", err)
				}
				close(s.lost)
				return
			case b := <-blocked:
				if b.Active {
					t.log.Error("the broker has blocked the connection", "host", h.Addr(), "reason", b.Reason)
				} else {
					t.log.Info("the broker has unblocked the connection", "host", h.Addr())
				}
			}
		}
	}()
	return s, nil
}

// run is the supervisor: connect, install the session (re-declaring every
// consumer), wait for its loss, then reconnect to the next host.
func (t *Transport) run() {
	defer close(t.stopped)
	idx := 0
	if t.opts.KombuFailoverStrategy == "shuffle" {
		idx = rand.IntN(len(t.url.Hosts))
	}
	var gen uint64
	for {
		gen++
		s := t.connect(&idx, gen)
		if s == nil {
			return
		}
		t.install(s)
		select {
		case <-s.lost:
			t.uninstall(s)
			idx = t.nextHost(idx)
		case <-t.done:
			t.uninstall(s)
			_ = s.conn.Close()
			return
		}
	}
}

func (t *Transport) nextHost(idx int) int {
	n := len(t.url.Hosts)
	if n <= 1 {
		return 0
	}
	if t.opts.KombuFailoverStrategy == "shuffle" {
		next := rand.IntN(n - 1)
		if next >= idx {
			next++
		}
		return next
	}
	return (idx + 1) % n
}

// connect tries the hosts in turn from *idx; after a full round without
// success it sleeps rabbit_retry_interval, growing by rabbit_retry_backoff
// up to rabbit_interval_max (kombu's schedule). nil means closed.
func (t *Transport) connect(idx *int, gen uint64) *session {
	delay := time.Duration(t.opts.RabbitRetryInterval) * time.Second
	step := time.Duration(t.opts.RabbitRetryBackoff) * time.Second
	maxDelay := time.Duration(t.opts.RabbitIntervalMax) * time.Second
	for {
		for range t.url.Hosts {
			select {
			case <-t.done:
				return nil
			default:
			}
			h := t.url.Hosts[*idx]
			s, err := t.dial(h, gen)
			if err == nil {
				t.log.Info("connected to AMQP server", "host", h.Addr(), "vhost", t.url.vhost(), "generation", gen)
				return s
			}
			t.log.Error("AMQP server unreachable", "host", h.Addr(), "err", err)
			*idx = t.nextHost(*idx)
		}
		t.log.Info("retrying AMQP connection", "in", delay)
		select {
		case <-t.done:
			return nil
		case <-time.After(delay):
		}
		delay = min(delay+step, maxDelay)
	}
}

// install makes s current: re-declares and resumes every consumer group,
// then marks the transport ready and, for a reconnection, runs the
// OnReconnect callbacks.
func (t *Transport) install(s *session) {
	t.mu.Lock()
	t.sess = s
	groups := slices.Collect(maps.Keys(t.groups))
	t.mu.Unlock()

	for _, g := range groups {
		if err := g.start(s); err != nil {
			t.log.Error("re-declaring consumer failed; retrying in background", "queues", g.names(), "err", err)
		}
	}

	t.mu.Lock()
	close(t.ready)
	callbacks := append([]func(){}, t.onReconnect...)
	t.mu.Unlock()
	if s.gen > 1 {
		t.log.Info("reconnected to AMQP server", "host", s.host.Addr(), "generation", s.gen)
		for _, f := range callbacks {
			go f()
		}
	}
}

// uninstall forgets s and fails the calls that were waiting on it.
func (t *Transport) uninstall(s *session) {
	t.mu.Lock()
	if t.sess == s {
		t.sess = nil
		t.ready = make(chan struct{})
	}
	t.mu.Unlock()
	t.failWaiters(s.gen, ErrConnectionLost)
}
