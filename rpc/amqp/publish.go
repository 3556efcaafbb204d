package amqp

import (
	"bytes"
	"context"
	"fmt"
	"sync"

	amqp091 "github.com/rabbitmq/amqp091-go"
)

// exchangeSpec is an exchange as oslo.messaging declares it before
// publishing. The default exchange ("") is never declared.
type exchangeSpec struct {
	name       string
	kind       string // topic | fanout | direct
	durable    bool
	autoDelete bool
}

// topicExchange is the control exchange: topic, durable per
// amqp_durable_queues (or quorum), auto-delete per amqp_auto_delete.
func (t *Transport) topicExchange(name string) exchangeSpec {
	if name == "" {
		name = t.opts.ControlExchange
	}
	return exchangeSpec{name: name, kind: "topic", durable: t.opts.durable(), autoDelete: t.opts.AMQPAutoDelete}
}

// fanoutExchange is "<topic>_fanout": fanout, transient, auto-delete.
func fanoutExchange(topic string) exchangeSpec {
	return exchangeSpec{name: topic + "_fanout", kind: "fanout", autoDelete: true}
}

func (e exchangeSpec) declare(ch *amqp091.Channel) error {
	if e.name == "" {
		return nil
	}
	if err := ch.ExchangeDeclare(e.name, e.kind, e.durable, e.autoDelete, false, false, nil); err != nil {
		return fmt.Errorf("declare exchange %s: %w", e.name, err)
	}
	return nil
}

// publisher owns one confirm-mode channel of the current session. A
// mandatory publisher (replies) publishes one message at a time so that a
// basic.return can be matched to it: the broker sends the return before the
// confirm, and amqp091 hands it over before completing the confirmation.
type publisher struct {
	mandatory bool

	mu       sync.Mutex
	sess     *session
	ch       *amqp091.Channel
	returns  chan amqp091.Return
	declared map[string]bool
}

// channel returns the publishing channel of s, opening it if needed. Called
// with p.mu held.
func (p *publisher) channel(s *session) (*amqp091.Channel, error) {
	if p.sess == s && p.ch != nil && !p.ch.IsClosed() {
		return p.ch, nil
	}
	p.ch, p.sess, p.declared = nil, nil, nil
	ch, err := s.conn.Channel()
	if err != nil {
		return nil, fmt.Errorf("open channel: %w", err)
	}
	if err := ch.Confirm(false); err != nil {
		_ = ch.Close()
		return nil, fmt.Errorf("confirm mode: %w", err)
	}
	if p.mandatory {
		p.returns = ch.NotifyReturn(make(chan amqp091.Return, 16))
	}
	p.ch, p.sess, p.declared = ch, s, map[string]bool{}
	return ch, nil
}

// publish sends one oslo message to exchange ex with routing key key and
// waits for the broker to confirm it. expiration is the per-message TTL in
// milliseconds ("" = none); kombu sets it to the call timeout.
func (t *Transport) publish(ctx context.Context, p *publisher, ex exchangeSpec, key string, body []byte, expiration string) (*session, error) {
	s, err := t.session(ctx)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	locked := true
	defer func() {
		if locked {
			p.mu.Unlock()
		}
	}()
	ch, err := p.channel(s)
	if err != nil {
		return s, err
	}
	if ex.name != "" && !p.declared[ex.name] {
		if err := ex.declare(ch); err != nil {
			return s, err
		}
		p.declared[ex.name] = true
	}
	msg := amqp091.Publishing{
		Headers:         amqp091.Table{},
		ContentType:     "application/json",
		ContentEncoding: "utf-8",
		DeliveryMode:    amqp091.Persistent,
		Expiration:      expiration,
		Body:            body,
	}
	dc, err := ch.PublishWithDeferredConfirmWithContext(ctx, ex.name, key, p.mandatory, false, msg)
	if err != nil {
		return s, fmt.Errorf("publish to %q key %q: %w", ex.name, key, err)
	}
	if !p.mandatory {
		p.mu.Unlock()
		locked = false
	}
	ok, err := dc.WaitContext(ctx)
	if err != nil {
		return s, fmt.Errorf("%w: %v", ErrNotConfirmed, err)
	}
	if !ok {
		return s, fmt.Errorf("publish to %q key %q: %w", ex.name, key, ErrNotConfirmed)
	}
	if p.mandatory && p.returned(body) {
		return s, fmt.Errorf("publish to %q key %q: %w", ex.name, key, ErrUndeliverable)
	}
	return s, nil
}

// returned drains the returns seen so far and reports whether body is one
// of them. Called with p.mu held.
func (p *publisher) returned(body []byte) bool {
	found := false
	for {
		select {
		case r, ok := <-p.returns:
			if !ok {
				return found
			}
			if bytes.Equal(r.Body, body) {
				found = true
			}
		default:
			return found
		}
	}
}
