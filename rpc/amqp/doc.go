// Package amqp is an oslo.messaging-compatible RPC transport over RabbitMQ
// (github.com/rabbitmq/amqp091-go), wire-compatible with the "rabbit" driver
// of oslo.messaging 14 (OpenStack Zed):
//
//   - Topic messages go to the control exchange (topic, durable per
//     amqp_durable_queues or rabbit_quorum_queue, auto-delete per
//     amqp_auto_delete) with routing key <topic> or <topic>.<server>; fanout
//     casts to the exchange <topic>_fanout (fanout, transient, auto-delete).
//   - Bodies are the 2.0 envelope {"oslo.version": "2.0", "oslo.message":
//     "<JSON>"}, content type application/json, encoding utf-8, persistent
//     delivery mode; a call also sets the message TTL to its timeout.
//   - A request holds method, args (kwargs), version, namespace (omitted when
//     None), _unique_id and the context as _context_<key>; a call adds _msg_id,
//     _reply_q (reply_<uuid4 hex>, declared on the default exchange, not
//     durable, x-expires rabbit_transient_queues_ttl) and _timeout (null).
//   - A reply, published to the default exchange with routing key _reply_q,
//     mandatory, holds result, failure (oslo's serialised exception as a JSON
//     string: class, module, message, tb, args, kwargs), ending true,
//     _msg_id and _unique_id.
//   - A server consumes <topic> and <topic>.<server> (quorum when
//     rabbit_quorum_queue) and <topic>_fanout_<uuid4 hex> (x-expires), acks
//     before dispatching, drops repeated _unique_ids and checks namespace and
//     version as oslo's dispatcher does.
//
// A supervisor keeps one connection up, failing over round-robin (or
// shuffled) between the hosts of the transport_url with kombu's backoff; on
// reconnection it re-declares every queue, resumes consuming and runs the
// OnReconnect callbacks. Calls in flight fail with ErrConnectionLost, calls
// without a connection wait at most their timeout.
package amqp
