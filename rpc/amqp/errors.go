package amqp

import "errors"

// Errors of the transport. A Call may also fail with a *model.RemoteError
// (the server raised); errors.As finds it through the wrapping.
var (
	// ErrTimeout: no reply within the call's timeout (oslo MessagingTimeout).
	ErrTimeout = errors.New("timed out waiting for a reply")
	// ErrConnectionLost: the broker connection dropped while the call was
	// in flight; the reply, if any, is lost.
	ErrConnectionLost = errors.New("connection to the broker lost")
	// ErrNotConnected: no broker connection came up in time.
	ErrNotConnected = errors.New("not connected to the broker")
	// ErrClosed: the transport was closed.
	ErrClosed = errors.New("transport closed")
	// ErrUndeliverable: the broker returned a mandatory message (a reply
	// queue that no longer exists).
	ErrUndeliverable = errors.New("message undeliverable")
	// ErrNotConfirmed: the broker did not confirm a publish.
	ErrNotConfirmed = errors.New("publish not confirmed by the broker")
)

// IsTransient reports whether err is a broker-side condition worth retrying
// (timeout, connection loss, no connection, unconfirmed publish), as opposed
// to a remote exception or a closed transport.
func IsTransient(err error) bool {
	return errors.Is(err, ErrTimeout) || errors.Is(err, ErrConnectionLost) ||
		errors.Is(err, ErrNotConnected) || errors.Is(err, ErrNotConfirmed)
}
