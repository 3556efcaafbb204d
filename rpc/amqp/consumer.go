package amqp

import (
	"errors"
	"fmt"
	"sync"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"
)

// queueSpec is a queue as oslo.messaging declares it, with its binding.
type queueSpec struct {
	name         string
	exchange     exchangeSpec // name "" = default exchange, no binding
	key          string       // binding key
	durable      bool
	autoDelete   bool
	args         amqp091.Table
	deleteOnStop bool // fanout and reply queues: removed when their owner stops
}

// consumerGroup is a set of queues consumed on one channel (a server's
// topic, direct and fanout queues, or the reply queue). It is re-declared on
// every new session and, if its channel dies while the connection lives
// (e.g. the queue was deleted and the broker cancelled the consumer), again
// on the same session with backoff.
type consumerGroup struct {
	t        *Transport
	queues   []queueSpec
	handle   func(d amqp091.Delivery) // acks; must not block for long
	prefetch int

	mu      sync.Mutex
	sess    *session
	ch      *amqp091.Channel
	tags    []string
	stopped bool
	stopCh  chan struct{}
}

func newConsumerGroup(t *Transport, queues []queueSpec, handle func(amqp091.Delivery)) *consumerGroup {
	return &consumerGroup{
		t:        t,
		queues:   queues,
		handle:   handle,
		prefetch: t.opts.RabbitQosPrefetchCount,
		stopCh:   make(chan struct{}),
	}
}

func (g *consumerGroup) names() []string {
	out := make([]string, len(g.queues))
	for i, q := range g.queues {
		out[i] = q.name
	}
	return out
}

// errAttached: the group already consumes on that session.
var errAttached = errors.New("already attached")

// start attaches the group to s and keeps it attached for the life of s.
// The error is the first attempt's; later attempts run in the background.
func (g *consumerGroup) start(s *session) error {
	closed, err := g.attach(s)
	if errors.Is(err, errAttached) {
		return nil
	}
	go g.maintain(s, closed, err)
	return err
}

// attach opens a channel on s, declares every exchange, queue and binding,
// and starts consuming. It returns the channel's close notification.
func (g *consumerGroup) attach(s *session) (<-chan *amqp091.Error, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.stopped {
		return nil, ErrClosed
	}
	if g.sess == s && g.ch != nil && !g.ch.IsClosed() {
		return nil, errAttached
	}
	ch, err := s.conn.Channel()
	if err != nil {
		return nil, fmt.Errorf("open channel: %w", err)
	}
	fail := func(err error) (<-chan *amqp091.Error, error) {
		_ = ch.Close()
		return nil, err
	}
	if g.prefetch > 0 {
		if err := ch.Qos(g.prefetch, 0, false); err != nil {
			return fail(fmt.Errorf("qos: %w", err))
		}
	}
	closed := ch.NotifyClose(make(chan *amqp091.Error, 1))
	tags := make([]string, 0, len(g.queues))
	for _, q := range g.queues {
		if err := q.exchange.declare(ch); err != nil {
			return fail(err)
		}
		if _, err := ch.QueueDeclare(q.name, q.durable, q.autoDelete, false, false, q.args); err != nil {
			return fail(fmt.Errorf("declare queue %s: %w", q.name, err))
		}
		if q.exchange.name != "" {
			if err := ch.QueueBind(q.name, q.key, q.exchange.name, false, nil); err != nil {
				return fail(fmt.Errorf("bind queue %s to %s: %w", q.name, q.exchange.name, err))
			}
		}
		tag := "qdhcp-" + newID()
		deliveries, err := ch.Consume(q.name, tag, false, false, false, false, nil)
		if err != nil {
			return fail(fmt.Errorf("consume %s: %w", q.name, err))
		}
		tags = append(tags, tag)
		go g.consume(ch, deliveries)
	}
	g.sess, g.ch, g.tags = s, ch, tags
	return closed, nil
}

// consume hands each delivery to the group; when the broker cancels the
// consumer (queue deleted) it closes the channel so maintain re-declares.
func (g *consumerGroup) consume(ch *amqp091.Channel, deliveries <-chan amqp091.Delivery) {
	for d := range deliveries {
		g.handle(d)
	}
	g.mu.Lock()
	mine := g.ch == ch && !g.stopped
	g.mu.Unlock()
	if mine && !ch.IsClosed() {
		g.t.log.Warn("consumer cancelled by the broker; re-declaring", "queues", g.names())
		_ = ch.Close()
	}
}

// maintain re-attaches the group on s whenever its channel closes, with
// backoff, until s is lost or the group stops.
func (g *consumerGroup) maintain(s *session, closed <-chan *amqp091.Error, err error) {
	delay := time.Duration(g.t.opts.RabbitRetryInterval) * time.Second
	maxDelay := time.Duration(g.t.opts.RabbitIntervalMax) * time.Second
	for {
		if err == nil {
			select {
			case cerr := <-closed:
				// a dying connection closes its channels first: give the
				// session a moment to report it before treating this as
				// a channel-level close
				select {
				case <-s.lost:
					return
				case <-time.After(100 * time.Millisecond):
				}
				if g.isStopped() {
					return
				}
				g.t.log.Warn("consumer channel closed", "queues", g.names(), "err", cerr)
			case <-s.lost:
				return
			case <-g.stopCh:
				return
			}
		}
		select {
		case <-time.After(delay):
		case <-s.lost:
			return
		case <-g.stopCh:
			return
		}
		closed, err = g.attach(s)
		switch {
		case errors.Is(err, errAttached), errors.Is(err, ErrClosed):
			return
		case err != nil:
			g.t.log.Error("re-declaring consumer failed", "queues", g.names(), "err", err, "retry_in", delay)
			delay = min(delay*2, maxDelay)
		default:
			g.t.log.Info("consumer re-declared", "queues", g.names())
			delay = time.Duration(g.t.opts.RabbitRetryInterval) * time.Second
		}
	}
}

func (g *consumerGroup) isStopped() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.stopped
}

// stop cancels the consumers, deletes the queues marked deleteOnStop (when
// still connected) and closes the channel.
func (g *consumerGroup) stop() {
	g.mu.Lock()
	if g.stopped {
		g.mu.Unlock()
		return
	}
	g.stopped = true
	close(g.stopCh)
	ch, s, tags := g.ch, g.sess, g.tags
	g.mu.Unlock()

	g.t.mu.Lock()
	delete(g.t.groups, g)
	g.t.mu.Unlock()

	if ch == nil || ch.IsClosed() || s.isLost() {
		return
	}
	for _, tag := range tags {
		_ = ch.Cancel(tag, false)
	}
	for _, q := range g.queues {
		if q.deleteOnStop {
			if _, err := ch.QueueDelete(q.name, false, false, false); err != nil {
				g.t.log.Debug("delete queue", "queue", q.name, "err", err)
				break // the channel is gone after an error
			}
		}
	}
	_ = ch.Close()
}

// addGroup registers g and, when connected, attaches it at once. A
// declaration refused by the broker (e.g. PRECONDITION_FAILED because the
// queue exists with other arguments) unregisters g and is returned.
func (t *Transport) addGroup(g *consumerGroup) error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return ErrClosed
	}
	t.groups[g] = struct{}{}
	s := t.sess
	t.mu.Unlock()
	if s == nil || s.isLost() {
		return nil // attached when the connection comes up
	}
	if err := g.start(s); err != nil {
		if s.isLost() {
			return nil // connection died meanwhile: attached on reconnect
		}
		g.stop()
		return err
	}
	return nil
}
