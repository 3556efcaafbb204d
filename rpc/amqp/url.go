package amqp

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// DefaultPort is the AMQP port oslo.messaging assumes when a host has none
// (also with ssl: operators write :5671 themselves).
const DefaultPort = 5672

// URL is a parsed oslo.messaging transport_url:
//
//	rabbit://user:pass@host1:5672,user:pass@host2:5672/vhost?option=value
type URL struct {
	Transport   string // "rabbit" (or its alias "kombu")
	Hosts       []Host
	VirtualHost string            // URL-decoded path; "" means the broker default "/"
	Query       map[string]string // [oslo_messaging_rabbit] overrides, values of a repeated key joined by ","
}

// Host is one broker of a transport_url.
type Host struct {
	Hostname string
	Port     int // 0 = DefaultPort
	Username string
	Password string
}

// Addr returns host:port (IPv6 literals bracketed).
func (h Host) Addr() string {
	port := h.Port
	if port == 0 {
		port = DefaultPort
	}
	return net.JoinHostPort(h.Hostname, strconv.Itoa(port))
}

// credentials returns the login, with kombu's guest/guest fallback for a
// host written without one.
func (h Host) credentials() (string, string) {
	user, pass := h.Username, h.Password
	if user == "" {
		user = "guest"
	}
	if pass == "" && h.Username == "" {
		pass = "guest"
	}
	return user, pass
}

// String is the URL with passwords hidden, for logs.
func (u *URL) String() string {
	var b strings.Builder
	b.WriteString(u.Transport)
	b.WriteString("://")
	for i, h := range u.Hosts {
		if i > 0 {
			b.WriteByte(',')
		}
		if h.Username != "" {
			b.WriteString(url.PathEscape(h.Username))
			b.WriteString(":***@")
		}
		b.WriteString(h.Addr())
	}
	b.WriteByte('/')
	b.WriteString(url.PathEscape(u.VirtualHost))
	return b.String()
}

// vhost is the AMQP virtual host to open ("/" when the URL has none, as
// kombu does).
func (u *URL) vhost() string {
	if u.VirtualHost == "" {
		return "/"
	}
	return u.VirtualHost
}

// ParseURL parses a transport_url the way oslo.messaging does: the netloc is
// split on ",", each host may carry URL-encoded user:password@, IPv6
// literals are bracketed, the path (URL-decoded, without its leading "/") is
// the virtual host. A URL without hosts means guest:guest@localhost:5672.
func ParseURL(raw string) (*URL, error) {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok || scheme == "" {
		return nil, fmt.Errorf("transport_url %q: no scheme", redact(raw))
	}
	scheme = strings.ToLower(scheme)
	switch scheme {
	case "rabbit", "kombu":
	default:
		return nil, fmt.Errorf("transport_url: unsupported transport %q (only rabbit)", scheme)
	}
	if i := strings.IndexByte(rest, '#'); i >= 0 {
		rest = rest[:i]
	}
	netloc := rest
	tail := ""
	if i := strings.IndexAny(rest, "/?"); i >= 0 {
		netloc, tail = rest[:i], rest[i:]
	}
	path, rawQuery, _ := strings.Cut(tail, "?")
	u := &URL{Transport: scheme, Query: map[string]string{}}
	if strings.HasPrefix(path, "/") {
		vh, err := url.PathUnescape(path[1:])
		if err != nil {
			return nil, fmt.Errorf("transport_url: virtual host: %w", err)
		}
		u.VirtualHost = vh
	}
	if rawQuery != "" {
		q, err := url.ParseQuery(rawQuery)
		if err != nil {
			return nil, fmt.Errorf("transport_url: query: %w", err)
		}
		for k, v := range q {
			u.Query[k] = strings.Join(v, ",")
		}
	}
	for _, part := range strings.Split(netloc, ",") {
		if part == "" {
			continue
		}
		h, err := parseHost(part)
		if err != nil {
			return nil, fmt.Errorf("transport_url host %q: %w", redact(part), err)
		}
		u.Hosts = append(u.Hosts, h)
	}
	if len(u.Hosts) == 0 {
		u.Hosts = []Host{{Hostname: "localhost", Username: "guest", Password: "guest"}}
	}
	return u, nil
}

func parseHost(s string) (Host, error) {
	var h Host
	hostport := s
	if i := strings.LastIndexByte(s, '@'); i >= 0 {
		userinfo := s[:i]
		hostport = s[i+1:]
		user, pass, hasPass := strings.Cut(userinfo, ":")
		var err error
		if h.Username, err = url.PathUnescape(user); err != nil {
			return h, fmt.Errorf("username: %w", err)
		}
		if hasPass {
			if h.Password, err = url.PathUnescape(pass); err != nil {
				return h, fmt.Errorf("password: %w", err)
			}
		}
	}
	portText := ""
	switch {
	case hostport == "":
		return h, errors.New("empty hostname")
	case strings.HasPrefix(hostport, "["):
		end := strings.IndexByte(hostport, ']')
		if end < 0 {
			return h, errors.New("invalid IPv6 literal")
		}
		h.Hostname = hostport[1:end]
		if after := hostport[end+1:]; strings.HasPrefix(after, ":") {
			portText = after[1:]
		}
	default:
		h.Hostname, portText, _ = strings.Cut(hostport, ":")
	}
	if portText != "" {
		p, err := strconv.Atoi(portText)
		if err != nil || p <= 0 || p > 65535 {
			return h, fmt.Errorf("invalid port %q", portText)
		}
		h.Port = p
	}
	return h, nil
}

// redact hides anything between "://" (or the start) and "@".
func redact(s string) string {
	if i := strings.LastIndexByte(s, '@'); i >= 0 {
		start := strings.Index(s, "://")
		if start >= 0 && start < i {
			return s[:start+3] + "***" + s[i:]
		}
		return "***" + s[i:]
	}
	return s
}
