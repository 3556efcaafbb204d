package amqp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"
)

// Incoming is one request received by a Server.
type Incoming struct {
	Method    string
	Args      map[string]json.RawMessage // keyword arguments
	Namespace string                     // "" = none
	Version   string                     // requested version ("1.0" when absent, as oslo)
	Context   map[string]any             // the _context_* keys, prefix removed
	MsgID     string                     // "" for a cast
	ReplyTo   string                     // reply queue of a call
	// Exchange and RoutingKey it was published with: e.g. "neutron" and
	// "dhcp_agent.host1", or "dhcp_agent_fanout" and "" for a fanout cast.
	Exchange   string
	RoutingKey string
}

// IsCall reports whether the sender waits for a reply.
func (in *Incoming) IsCall() bool { return in.MsgID != "" }

// Handler serves one request. For a call its result (marshalled to JSON) or
// error is sent back; return an error wrapping ErrNoSuchMethod for an
// unknown method, a *model.RemoteError to choose the exception class.
type Handler func(ctx context.Context, in *Incoming) (any, error)

// Server consumes a Target as an oslo.messaging RPC server does and hands
// each request to its Handler, one at a time in arrival order.
type Server struct {
	t       *Transport
	target  Target
	handler Handler
	group   *consumerGroup

	work    chan *Incoming
	ctx     context.Context
	cancel  context.CancelFunc
	done    chan struct{}
	stopped sync.Once

	seenMu sync.Mutex
	seen   []string // last _unique_ids, to drop redeliveries
}

// dedupSize is how many unique ids a server remembers (oslo: 16).
const dedupSize = 16

// Serve starts a server for target: it declares and consumes the queue
// <topic> and, with target.Server, <topic>.<server> (both bound to the
// control exchange), plus <topic>_fanout_<uuid> bound to the fanout exchange
// <topic>_fanout. Requests whose namespace differs from target.Namespace or
// whose version is not compatible with target.Version get oslo's
// UnsupportedVersion. When connected, the queues exist once Serve returns.
func (t *Transport) Serve(target Target, h Handler) (*Server, error) {
	if err := target.validate(); err != nil {
		return nil, err
	}
	if h == nil {
		return nil, errors.New("serve: nil handler")
	}
	ex := t.topicExchange(target.Exchange)
	topicQueue := func(name string) queueSpec {
		return queueSpec{
			name: name, exchange: ex, key: name,
			durable: t.opts.durable(), autoDelete: t.opts.AMQPAutoDelete,
			args: t.opts.queueArgs(true, 0),
		}
	}
	queues := []queueSpec{topicQueue(target.Topic)}
	if target.Server != "" {
		queues = append(queues, topicQueue(target.Topic+"."+target.Server))
	}
	queues = append(queues, queueSpec{
		name:         target.Topic + "_fanout_" + newID(),
		exchange:     fanoutExchange(target.Topic),
		key:          target.Topic,
		args:         t.opts.queueArgs(false, t.opts.RabbitTransientQueuesTTL),
		deleteOnStop: true,
	})
	ctx, cancel := context.WithCancel(context.Background())
	srv := &Server{
		t: t, target: target, handler: h,
		work: make(chan *Incoming, 64), ctx: ctx, cancel: cancel, done: make(chan struct{}),
	}
	srv.group = newConsumerGroup(t, queues, srv.receive)
	go srv.loop()
	if err := t.addGroup(srv.group); err != nil {
		srv.Stop()
		return nil, fmt.Errorf("serve %s: %w", target.routingKey(), err)
	}
	return srv, nil
}

// Queues returns the names of the queues the server consumes.
func (srv *Server) Queues() []string { return srv.group.names() }

// Stop stops consuming (deleting the fanout queue), lets the request being
// handled finish and returns. Requests still queued locally are dropped:
// they were acknowledged, as oslo acknowledges before dispatching.
func (srv *Server) Stop() {
	srv.stopped.Do(func() {
		srv.group.stop()
		srv.cancel()
		<-srv.done
	})
}

// receive acknowledges a delivery (before dispatch, as oslo's RPC listener
// does), decodes it and queues it for the handler.
func (srv *Server) receive(d amqp091.Delivery) {
	if err := d.Ack(false); err != nil {
		srv.t.log.Warn("discarding request: acknowledge failed", "err", err)
		return
	}
	in, uid, err := decodeIncoming(d.Body)
	if err != nil {
		srv.t.log.Warn("dropping undecodable request", "queue", d.RoutingKey, "err", err)
		return
	}
	if srv.duplicate(uid) {
		srv.t.log.Warn("ignoring duplicate message", "unique_id", uid, "method", in.Method)
		return
	}
	in.Exchange, in.RoutingKey = d.Exchange, d.RoutingKey
	select {
	case srv.work <- in:
	case <-srv.ctx.Done():
	}
}

func (srv *Server) duplicate(uid string) bool {
	if uid == "" {
		return false
	}
	srv.seenMu.Lock()
	defer srv.seenMu.Unlock()
	for _, s := range srv.seen {
		if s == uid {
			return true
		}
	}
	srv.seen = append(srv.seen, uid)
	if len(srv.seen) > dedupSize {
		srv.seen = srv.seen[1:]
	}
	return false
}

func (srv *Server) loop() {
	defer close(srv.done)
	for {
		select {
		case <-srv.ctx.Done():
			return
		case in := <-srv.work:
			srv.dispatch(in)
		}
	}
}

func (srv *Server) dispatch(in *Incoming) {
	var result any
	var err error
	if in.Namespace != srv.target.Namespace || !versionCompatible(srv.target.Version, in.Version) {
		err = &unsupportedVersionError{version: in.Version, method: in.Method}
	} else {
		result, err = srv.call(in)
	}
	if !in.IsCall() {
		if err != nil {
			srv.t.log.Warn("cast failed", "method", in.Method, "err", err)
		}
		return
	}
	go srv.t.sendReply(in, result, err)
}

// call runs the handler, turning a panic into an error.
func (srv *Server) call(in *Incoming) (result any, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic in handler for %s: %v", in.Method, p)
		}
	}()
	return srv.handler(srv.ctx, in)
}

// decodeIncoming splits an oslo request into method, args, version,
// namespace, context and call fields; it returns the _unique_id too.
func decodeIncoming(body []byte) (*Incoming, string, error) {
	m, err := decodeBody(body)
	if err != nil {
		return nil, "", err
	}
	in := &Incoming{
		Method:    str(m, keyMethod),
		Namespace: str(m, keyNamespace),
		Version:   str(m, keyRPCVer),
		MsgID:     str(m, keyMsgID),
		ReplyTo:   str(m, keyReplyQ),
		Context:   map[string]any{},
		Args:      map[string]json.RawMessage{},
	}
	if in.Method == "" {
		return nil, "", errors.New("message has no method")
	}
	if in.Version == "" {
		in.Version = "1.0"
	}
	if raw, ok := m[keyArgs]; ok && !isNull(raw) {
		if err := json.Unmarshal(raw, &in.Args); err != nil {
			return nil, "", fmt.Errorf("args of %s: %w", in.Method, err)
		}
	}
	for k, raw := range m {
		if ck, ok := strings.CutPrefix(k, contextPfx); ok {
			var v any
			if err := json.Unmarshal(raw, &v); err == nil {
				in.Context[ck] = v
			}
		}
	}
	return in, str(m, keyUniqueID), nil
}

// replyRetryPause is oslo's pause between two attempts to send a reply.
const replyRetryPause = 250 * time.Millisecond

// sendReply answers a call on the default exchange with routing key
// _reply_q, mandatory: while the reply queue is missing (broker failover) or
// the broker is unreachable it retries for kombu_missing_consumer_retry_timeout.
func (t *Transport) sendReply(in *Incoming, result any, herr error) {
	msg := map[string]any{
		keyResult: result, keyFailure: nil, keyEnding: true,
		keyMsgID: in.MsgID, keyUniqueID: newID(),
	}
	if herr != nil {
		f, err := encodeFailure(herr, in.Method)
		if err != nil {
			t.log.Error("cannot encode failure", "method", in.Method, "err", err)
			return
		}
		msg[keyResult], msg[keyFailure] = nil, f
	}
	body, err := encodeEnvelope(msg)
	if err != nil {
		f, _ := encodeFailure(fmt.Errorf("cannot encode result: %w", err), in.Method)
		msg[keyResult], msg[keyFailure] = nil, f
		if body, err = encodeEnvelope(msg); err != nil {
			t.log.Error("cannot encode reply", "method", in.Method, "err", err)
			return
		}
	}
	deadline := time.Now().Add(time.Duration(t.opts.KombuMissingConsumerRetryTimeout) * time.Second)
	for {
		ctx, cancel := context.WithDeadline(context.Background(), deadline)
		_, err := t.publish(ctx, &t.rpub, exchangeSpec{}, in.ReplyTo, body, "")
		cancel()
		switch {
		case err == nil:
			return
		case errors.Is(err, ErrClosed):
			return
		case time.Now().After(deadline):
			t.log.Error("abandoning reply", "msg_id", in.MsgID, "reply_q", in.ReplyTo, "method", in.Method, "err", err)
			return
		}
		select {
		case <-time.After(replyRetryPause):
		case <-t.done:
			return
		}
	}
}
