package amqp

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseURL(t *testing.T) {
	cases := []struct {
		in    string
		hosts []Host
		vhost string
		query map[string]string
	}{
		{
			in:    "rabbit://guest:guest@127.0.0.1:5672/",
			hosts: []Host{{Hostname: "127.0.0.1", Port: 5672, Username: "guest", Password: "guest"}},
		},
		{
			in: "rabbit://openstack:s3cr%40t%2Fx@rmq1:5672,openstack:other@rmq2:5673/neutron%2Fvh",
			hosts: []Host{
				{Hostname: "rmq1", Port: 5672, Username: "openstack", Password: "s3cr@t/x"},
				{Hostname: "rmq2", Port: 5673, Username: "openstack", Password: "other"},
			},
			vhost: "neutron/vh",
		},
		{
			in:    "rabbit://u:p@[fd00::1]:5671,[fd00::2]/?ssl=1&heartbeat_timeout_threshold=30",
			hosts: []Host{{Hostname: "fd00::1", Port: 5671, Username: "u", Password: "p"}, {Hostname: "fd00::2"}},
			query: map[string]string{"ssl": "1", "heartbeat_timeout_threshold": "30"},
		},
		{
			// a password may hold '@' and ':' when the last '@' separates the host
			in:    "kombu://user:pa:ss@word@host",
			hosts: []Host{{Hostname: "host", Username: "user", Password: "pa:ss@word"}},
		},
		{
			in:    "rabbit://",
			hosts: []Host{{Hostname: "localhost", Username: "guest", Password: "guest"}},
		},
		{
			in:    "rabbit:///vh",
			hosts: []Host{{Hostname: "localhost", Username: "guest", Password: "guest"}},
			vhost: "vh",
		},
	}
	for _, c := range cases {
		u, err := ParseURL(c.in)
		if err != nil {
			t.Errorf("ParseURL(%q): %v", c.in, err)
			continue
		}
		if !reflect.DeepEqual(u.Hosts, c.hosts) {
			t.Errorf("ParseURL(%q) hosts = %+v, want %+v", c.in, u.Hosts, c.hosts)
		}
		if u.VirtualHost != c.vhost {
			t.Errorf("ParseURL(%q) vhost = %q, want %q", c.in, u.VirtualHost, c.vhost)
		}
		if c.query == nil {
			c.query = map[string]string{}
		}
		if !reflect.DeepEqual(u.Query, c.query) {
			t.Errorf("ParseURL(%q) query = %v, want %v", c.in, u.Query, c.query)
		}
		if strings.Contains(u.String(), "s3cr") {
			t.Errorf("String() leaks the password: %s", u)
		}
	}
}

func TestParseURLErrors(t *testing.T) {
	for _, in := range []string{
		"guest:guest@host:5672/",  // no scheme
		"amqp://host/",            // oslo's AMQP 1.0 driver, not rabbit
		"rabbit://h:notaport/",    // bad port
		"rabbit://h:70000/",       // port out of range
		"rabbit://[fd00::1:5672/", // unterminated IPv6 literal
		"rabbit://u:p@/",          // credentials but no host
		"rabbit://h/%zz",          // bad escape in vhost
		"rabbit://u%zz:p@h:5672/", // bad escape in user
	} {
		if _, err := ParseURL(in); err == nil {
			t.Errorf("ParseURL(%q): want an error", in)
		}
	}
}

func TestHostAddrAndCredentials(t *testing.T) {
	if got := (Host{Hostname: "fd00::1"}).Addr(); got != "[fd00::1]:5672" {
		t.Errorf("Addr = %q", got)
	}
	if u, p := (Host{Hostname: "h"}).credentials(); u != "guest" || p != "guest" {
		t.Errorf("credentials without login = %q/%q, want guest/guest", u, p)
	}
	if u, p := (Host{Hostname: "h", Username: "a", Password: "b"}).credentials(); u != "a" || p != "b" {
		t.Errorf("credentials = %q/%q", u, p)
	}
}

func TestOptionsFromQuery(t *testing.T) {
	o := Options{}
	err := o.applyQuery(map[string]string{
		"ssl": "true", "rabbit_quorum_queue": "1", "heartbeat_timeout_threshold": "20",
		"ssl_ca_file": "/etc/ca.pem", "unrelated": "x",
	})
	if err != nil {
		t.Fatal(err)
	}
	if !o.SSL || !o.RabbitQuorumQueue || o.HeartbeatTimeoutThreshold != 20 || o.SSLCAFile != "/etc/ca.pem" {
		t.Errorf("query not applied: %+v", o)
	}
	if err := o.applyQuery(map[string]string{"ssl": "maybe"}); err == nil {
		t.Error("bad boolean accepted")
	}
	o = Options{RabbitQuorumQueue: true, RabbitHAQueues: true}
	o.fill()
	if err := o.validate(); err == nil {
		t.Error("quorum + HA queues accepted")
	}
}

func TestQueueArgs(t *testing.T) {
	o := Defaults()
	if a := o.queueArgs(true, 0); a != nil {
		t.Errorf("default topic queue args = %v, want none", a)
	}
	if a := o.queueArgs(false, o.RabbitTransientQueuesTTL); a["x-expires"] != int32(1800000) || len(a) != 1 {
		t.Errorf("transient queue args = %v, want x-expires 1800000", a)
	}
	o.RabbitQuorumQueue, o.RabbitQuorumDeliveryLimit = true, 5
	a := o.queueArgs(true, 0)
	if a["x-queue-type"] != "quorum" || a["x-delivery-limit"] != int32(5) {
		t.Errorf("quorum args = %v", a)
	}
	if a := o.queueArgs(false, 1800); a["x-queue-type"] != nil {
		t.Errorf("fanout/reply queues must not be quorum: %v", a)
	}
	if !o.durable() {
		t.Error("quorum queues must be durable")
	}
}
