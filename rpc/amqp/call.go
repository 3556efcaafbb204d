package amqp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"
)

// reply is one message received on the reply queue for a call.
type reply struct {
	result  json.RawMessage
	failure json.RawMessage
	ending  bool
}

// waiter is a call waiting for its reply.
type waiter struct {
	gen  uint64 // session the request went out on; 0 = not yet sent
	ch   chan reply
	errc chan error
}

// Call sends req to target and waits for the reply, as oslo's
// RPCClient.call: the message carries _msg_id, _reply_q (this transport's
// reply_<uuid> queue) and _timeout, expires after timeout in the broker, and
// the call returns the "result" of the reply marked "ending". A "failure"
// comes back as a *model.RemoteError; no reply within timeout gives
// ErrTimeout; a lost connection ErrConnectionLost. timeout <= 0 means
// rpc_response_timeout. The returned JSON is "null" for Python None.
func (t *Transport) Call(ctx context.Context, target Target, req Request, timeout time.Duration) (json.RawMessage, error) {
	if err := target.validate(); err != nil {
		return nil, err
	}
	if target.Fanout {
		return nil, errors.New("a call cannot be fanout")
	}
	if timeout <= 0 {
		timeout = t.opts.RPCResponseTimeout
	}
	msg, err := req.message(target)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeoutCause(ctx, timeout, ErrTimeout)
	defer cancel()
	fail := func(err error) (json.RawMessage, error) {
		if errors.Is(context.Cause(ctx), ErrTimeout) && !errors.Is(err, ErrTimeout) {
			err = fmt.Errorf("%w (%v)", ErrTimeout, err)
		}
		return nil, fmt.Errorf("call %s on %s: %w", req.Method, target.routingKey(), err)
	}

	replyQ, err := t.replyQueue(ctx)
	if err != nil {
		return fail(err)
	}
	msgID := newID()
	msg[keyMsgID] = msgID
	msg[keyReplyQ] = replyQ
	msg[keyTimeout] = nil // no call-monitor heartbeats
	msg[keyUniqueID] = newID()
	body, err := encodeEnvelope(msg)
	if err != nil {
		return fail(err)
	}

	w := &waiter{ch: make(chan reply, 8), errc: make(chan error, 1)}
	t.wmu.Lock()
	t.waiters[msgID] = w
	t.wmu.Unlock()
	defer func() {
		t.wmu.Lock()
		delete(t.waiters, msgID)
		t.wmu.Unlock()
	}()

	s, err := t.publish(ctx, &t.pub, t.topicExchange(target.Exchange), target.routingKey(), body, expirationMS(timeout))
	if err != nil {
		return fail(err)
	}
	t.wmu.Lock()
	w.gen = s.gen
	t.wmu.Unlock()
	if s.isLost() {
		return fail(ErrConnectionLost)
	}

	var result json.RawMessage
	for {
		select {
		case r := <-w.ch:
			if !isNull(r.failure) {
				return nil, decodeFailure(r.failure)
			}
			if !isNull(r.result) {
				result = r.result
			}
			if r.ending {
				if result == nil {
					result = json.RawMessage("null")
				}
				return result, nil
			}
		case err := <-w.errc:
			return fail(err)
		case <-ctx.Done():
			if errors.Is(context.Cause(ctx), ErrTimeout) {
				return fail(fmt.Errorf("%w after %s (msg id %s)", ErrTimeout, timeout, msgID))
			}
			return fail(context.Cause(ctx))
		}
	}
}

// expirationMS is kombu's per-message TTL: the call timeout in milliseconds.
func expirationMS(d time.Duration) string {
	return strconv.FormatInt(d.Milliseconds(), 10)
}

// replyQueue declares this transport's reply queue on first use:
// "reply_<uuid4 hex>" on the default exchange, not durable, not
// auto-delete, x-expires rabbit_transient_queues_ttl.
func (t *Transport) replyQueue(ctx context.Context) (string, error) {
	// wait for the broker outside the lock: each call within its own timeout
	if _, err := t.session(ctx); err != nil {
		return "", err
	}
	t.replyMu.Lock()
	defer t.replyMu.Unlock()
	if t.reply != nil {
		return t.replyQ, nil
	}
	name := "reply_" + newID()
	g := newConsumerGroup(t, []queueSpec{{
		name:         name,
		args:         t.opts.queueArgs(false, t.opts.RabbitTransientQueuesTTL),
		deleteOnStop: true,
	}}, t.handleReply)
	if err := t.addGroup(g); err != nil {
		return "", fmt.Errorf("reply queue: %w", err)
	}
	t.reply, t.replyQ = g, name
	return name, nil
}

// handleReply routes a reply to the call waiting for its _msg_id.
func (t *Transport) handleReply(d amqp091.Delivery) {
	_ = d.Ack(false)
	m, err := decodeBody(d.Body)
	if err != nil {
		t.log.Warn("dropping undecodable reply", "err", err)
		return
	}
	msgID := str(m, keyMsgID)
	var ending bool
	if raw, ok := m[keyEnding]; ok {
		_ = json.Unmarshal(raw, &ending)
	}
	r := reply{result: m[keyResult], failure: m[keyFailure], ending: ending}
	t.wmu.Lock()
	w := t.waiters[msgID]
	t.wmu.Unlock()
	if w == nil {
		t.log.Info("no call waiting for reply", "msg_id", msgID)
		return
	}
	select {
	case w.ch <- r:
	default:
		t.log.Warn("reply dropped: waiter full", "msg_id", msgID)
	}
}

// failWaiters fails the calls sent on session gen (every call for gen 0).
func (t *Transport) failWaiters(gen uint64, err error) {
	t.wmu.Lock()
	defer t.wmu.Unlock()
	for _, w := range t.waiters {
		if gen == 0 || w.gen == gen {
			select {
			case w.errc <- err:
			default:
			}
		}
	}
}

// Cast sends req to target without waiting for a reply: to the control
// exchange with routing key topic or "<topic>.<server>", or with
// target.Fanout to the "<topic>_fanout" exchange. It returns once the broker
// confirmed the message; without a deadline in ctx it waits at most
// rpc_response_timeout for a connection.
func (t *Transport) Cast(ctx context.Context, target Target, req Request) error {
	if err := target.validate(); err != nil {
		return err
	}
	msg, err := req.message(target)
	if err != nil {
		return err
	}
	msg[keyUniqueID] = newID()
	body, err := encodeEnvelope(msg)
	if err != nil {
		return err
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, t.opts.RPCResponseTimeout)
		defer cancel()
	}
	ex, key := t.topicExchange(target.Exchange), target.routingKey()
	if target.Fanout {
		ex, key = fanoutExchange(target.Topic), ""
	}
	if _, err := t.publish(ctx, &t.pub, ex, key, body, ""); err != nil {
		return fmt.Errorf("cast %s to %s: %w", req.Method, target.routingKey(), err)
	}
	return nil
}
