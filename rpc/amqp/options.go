package amqp

import (
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"
)

// Options mirrors the [oslo_messaging_rabbit] options that shape the wire,
// plus [DEFAULT] control_exchange and rpc_response_timeout. Zero values are
// replaced by oslo.messaging's defaults (see Defaults), except the booleans.
type Options struct {
	ControlExchange    string        // control_exchange ("neutron")
	RPCResponseTimeout time.Duration // rpc_response_timeout (60s): Call timeout when none is given; bound of a Cast waiting for the broker

	HeartbeatTimeoutThreshold int // heartbeat_timeout_threshold (60 s): negotiated AMQP heartbeat
	HeartbeatRate             int // heartbeat_rate (2); amqp091 always beats at threshold/2

	SSL                            bool   // ssl
	SSLCAFile                      string // ssl_ca_file: verify the broker certificate chain
	SSLCertFile                    string // ssl_cert_file (client certificate)
	SSLKeyFile                     string // ssl_key_file
	SSLEnforceHostnameVerification bool   // ssl_enforce_hostname_verification

	AMQPDurableQueues           bool // amqp_durable_queues
	AMQPAutoDelete              bool // amqp_auto_delete
	RabbitQuorumQueue           bool // rabbit_quorum_queue (x-queue-type: quorum, durable)
	RabbitQuorumDeliveryLimit   int  // rabbit_quorum_delivery_limit
	RabbitQuorumMaxMemoryLength int  // rabbit_quroum_max_memory_length (sic)
	RabbitQuorumMaxMemoryBytes  int  // rabbit_quroum_max_memory_bytes (sic)
	RabbitHAQueues              bool // rabbit_ha_queues (x-ha-policy: all)
	RabbitTransientQueuesTTL    int  // rabbit_transient_queues_ttl (1800 s): x-expires of reply and fanout queues
	RabbitQosPrefetchCount      int  // rabbit_qos_prefetch_count (0 = unlimited)

	RabbitRetryInterval   int    // rabbit_retry_interval (1 s): first reconnect delay
	RabbitRetryBackoff    int    // rabbit_retry_backoff (2 s): added per failed round
	RabbitIntervalMax     int    // rabbit_interval_max (30 s)
	KombuFailoverStrategy string // kombu_failover_strategy: round-robin | shuffle

	KombuMissingConsumerRetryTimeout int // kombu_missing_consumer_retry_timeout (60 s): how long a reply waits for a missing reply queue

	// ConnectionName is the connection_name client property shown by
	// rabbitmqctl list_connections (default "qdhcp-agent:<pid>:<uuid>").
	ConnectionName string
	Logger         *slog.Logger
}

// Defaults returns oslo.messaging's defaults.
func Defaults() Options {
	var o Options
	o.fill()
	return o
}

func (o *Options) fill() {
	if o.ControlExchange == "" {
		o.ControlExchange = "neutron"
	}
	if o.RPCResponseTimeout <= 0 {
		o.RPCResponseTimeout = 60 * time.Second
	}
	if o.HeartbeatTimeoutThreshold < 0 {
		o.HeartbeatTimeoutThreshold = 0
	}
	if o.HeartbeatRate <= 0 {
		o.HeartbeatRate = 2
	}
	if o.RabbitTransientQueuesTTL <= 0 {
		o.RabbitTransientQueuesTTL = 1800
	}
	if o.RabbitRetryInterval <= 0 {
		o.RabbitRetryInterval = 1
	}
	if o.RabbitRetryBackoff < 0 {
		o.RabbitRetryBackoff = 0
	}
	if o.RabbitIntervalMax <= 0 {
		o.RabbitIntervalMax = 30
	}
	if o.KombuFailoverStrategy == "" {
		o.KombuFailoverStrategy = "round-robin"
	}
	if o.KombuMissingConsumerRetryTimeout <= 0 {
		o.KombuMissingConsumerRetryTimeout = 60
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

func (o *Options) validate() error {
	if o.RabbitQuorumQueue && o.RabbitHAQueues {
		return fmt.Errorf("rabbit_quorum_queue and rabbit_ha_queues are both enabled: queue type is quorum or HA (mirrored), not both")
	}
	switch o.KombuFailoverStrategy {
	case "round-robin", "shuffle":
	default:
		return fmt.Errorf("kombu_failover_strategy %q: want round-robin or shuffle", o.KombuFailoverStrategy)
	}
	return nil
}

// durable is oslo's Connection.durable: quorum queues are always durable.
func (o *Options) durable() bool { return o.AMQPDurableQueues || o.RabbitQuorumQueue }

// queueArgs builds the x-arguments oslo.messaging declares a queue with.
// quorum applies to topic queues only; ttl (seconds) to reply and fanout
// queues only.
func (o *Options) queueArgs(quorum bool, ttl int) amqp091.Table {
	args := amqp091.Table{}
	if o.RabbitHAQueues {
		args["x-ha-policy"] = "all"
	}
	if quorum && o.RabbitQuorumQueue {
		args["x-queue-type"] = "quorum"
		if o.RabbitQuorumDeliveryLimit > 0 {
			args["x-delivery-limit"] = int32(o.RabbitQuorumDeliveryLimit)
		}
		if o.RabbitQuorumMaxMemoryLength > 0 {
			args["x-max-in-memory-length"] = int32(o.RabbitQuorumMaxMemoryLength)
		}
		if o.RabbitQuorumMaxMemoryBytes > 0 {
			args["x-max-in-memory-bytes"] = int32(o.RabbitQuorumMaxMemoryBytes)
		}
	}
	if ttl > 0 {
		args["x-expires"] = int32(ttl * 1000)
	}
	if len(args) == 0 {
		return nil
	}
	return args
}

// applyQuery applies the [oslo_messaging_rabbit] overrides oslo.messaging
// accepts in the transport_url query (e.g. ?ssl=1).
func (o *Options) applyQuery(q map[string]string) error {
	bools := map[string]*bool{
		"ssl":                               &o.SSL,
		"ssl_enforce_hostname_verification": &o.SSLEnforceHostnameVerification,
		"amqp_durable_queues":               &o.AMQPDurableQueues,
		"amqp_auto_delete":                  &o.AMQPAutoDelete,
		"rabbit_quorum_queue":               &o.RabbitQuorumQueue,
		"rabbit_ha_queues":                  &o.RabbitHAQueues,
	}
	ints := map[string]*int{
		"heartbeat_timeout_threshold":          &o.HeartbeatTimeoutThreshold,
		"heartbeat_rate":                       &o.HeartbeatRate,
		"rabbit_transient_queues_ttl":          &o.RabbitTransientQueuesTTL,
		"rabbit_qos_prefetch_count":            &o.RabbitQosPrefetchCount,
		"rabbit_retry_interval":                &o.RabbitRetryInterval,
		"rabbit_retry_backoff":                 &o.RabbitRetryBackoff,
		"rabbit_interval_max":                  &o.RabbitIntervalMax,
		"kombu_missing_consumer_retry_timeout": &o.KombuMissingConsumerRetryTimeout,
	}
	strs := map[string]*string{
		"ssl_ca_file":             &o.SSLCAFile,
		"ssl_cert_file":           &o.SSLCertFile,
		"ssl_key_file":            &o.SSLKeyFile,
		"kombu_failover_strategy": &o.KombuFailoverStrategy,
	}
	for k, v := range q {
		switch {
		case bools[k] != nil:
			b, err := parseOsloBool(v)
			if err != nil {
				return fmt.Errorf("transport_url option %s: %w", k, err)
			}
			*bools[k] = b
		case ints[k] != nil:
			n, err := strconv.Atoi(v)
			if err != nil {
				return fmt.Errorf("transport_url option %s: %w", k, err)
			}
			*ints[k] = n
		case strs[k] != nil:
			*strs[k] = v
		}
	}
	return nil
}

// parseOsloBool accepts oslo.config's boolean spellings.
func parseOsloBool(s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "1", "on", "yes":
		return true, nil
	case "false", "0", "off", "no":
		return false, nil
	}
	return false, fmt.Errorf("invalid boolean %q", s)
}
