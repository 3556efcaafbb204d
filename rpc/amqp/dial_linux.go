package amqp

import (
	"net"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// dialer connects with a timeout, bounds the TLS and AMQP handshakes by the
// same deadline, and sets TCP_USER_TIMEOUT to userTimeout (as oslo does with
// the heartbeat threshold) so that a write to a vanished broker fails
// instead of blocking for the kernel's default of many minutes.
func dialer(timeout, userTimeout time.Duration) func(network, addr string) (net.Conn, error) {
	return func(network, addr string) (net.Conn, error) {
		d := net.Dialer{Timeout: timeout}
		if userTimeout > 0 {
			ms := int(userTimeout.Milliseconds())
			d.Control = func(_, _ string, c syscall.RawConn) error {
				var serr error
				if err := c.Control(func(fd uintptr) {
					serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_USER_TIMEOUT, ms)
				}); err != nil {
					return err
				}
				return serr
			}
		}
		conn, err := d.Dial(network, addr)
		if err != nil {
			return nil, err
		}
		// cleared by amqp091 once the AMQP handshake completed
		if err := conn.SetDeadline(time.Now().Add(timeout)); err != nil {
			_ = conn.Close()
			return nil, err
		}
		return conn, nil
	}
}
