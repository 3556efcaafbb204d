package config

import (
	"strconv"
	"strings"
)

// Group names as neutron registers them. oslo.config matches a file's
// section to a group case-insensitively, except DEFAULT, which must be
// written exactly "DEFAULT".
const (
	GroupDefault = "DEFAULT"
	GroupAgent   = "AGENT"
	GroupOVS     = "OVS"
	GroupRabbit  = "oslo_messaging_rabbit"
)

// kind is the oslo.config type of an option.
type kind int

const (
	kindStr kind = iota
	kindInt
	kindFloat
	kindBool
	kindList
)

// optKey names an option: its group as registered and its exact name
// (option names are case-sensitive in oslo.config).
type optKey struct{ group, name string }

// option describes one option qdhcp reads.
type option struct {
	optKey
	kind       kind
	choices    []string // allowed values of a string option
	min        *int     // lower bound of an integer option
	deprecated []optKey // older names oslo.config still accepts
	// template is neutron's default when it refers to other options
	// ("$state_path/dhcp"); such a default follows a later state_path.
	template string
	field    func(c *Config) any // pointer to the Config field
}

func intPtr(i int) *int { return &i }

// options is every option qdhcp reads, in the order they are applied.
var options = []*option{
	// [DEFAULT] core (neutron/conf/common.py, oslo.messaging)
	{optKey: optKey{GroupDefault, "state_path"}, field: func(c *Config) any { return &c.StatePath }},
	{optKey: optKey{GroupDefault, "host"}, field: func(c *Config) any { return &c.Host }},
	{optKey: optKey{GroupDefault, "dhcp_lease_duration"}, kind: kindInt, field: func(c *Config) any { return &c.DHCPLeaseDuration }},
	{optKey: optKey{GroupDefault, "dns_domain"}, field: func(c *Config) any { return &c.DNSDomain }},
	{optKey: optKey{GroupDefault, "debug"}, kind: kindBool, field: func(c *Config) any { return &c.Debug }},
	{optKey: optKey{GroupDefault, "transport_url"}, field: func(c *Config) any { return &c.TransportURL }},
	{optKey: optKey{GroupDefault, "control_exchange"}, field: func(c *Config) any { return &c.ControlExchange }},
	{optKey: optKey{GroupDefault, "rpc_response_timeout"}, kind: kindInt, field: func(c *Config) any { return &c.RPCResponseTimeout }},

	// [DEFAULT] DHCP agent (neutron/conf/agent/dhcp.py, common.py)
	{optKey: optKey{GroupDefault, "resync_interval"}, kind: kindInt, field: func(c *Config) any { return &c.ResyncInterval }},
	{optKey: optKey{GroupDefault, "resync_throttle"}, kind: kindInt, field: func(c *Config) any { return &c.ResyncThrottle }},
	{optKey: optKey{GroupDefault, "dhcp_driver"}, field: func(c *Config) any { return &c.DHCPDriver }},
	{optKey: optKey{GroupDefault, "enable_isolated_metadata"}, kind: kindBool, field: func(c *Config) any { return &c.EnableIsolatedMetadata }},
	{optKey: optKey{GroupDefault, "force_metadata"}, kind: kindBool, field: func(c *Config) any { return &c.ForceMetadata }},
	{optKey: optKey{GroupDefault, "enable_metadata_network"}, kind: kindBool, field: func(c *Config) any { return &c.EnableMetadataNetwork }},
	{optKey: optKey{GroupDefault, "num_sync_threads"}, kind: kindInt, field: func(c *Config) any { return &c.NumSyncThreads }},
	{optKey: optKey{GroupDefault, "bulk_reload_interval"}, kind: kindInt, min: intPtr(0), field: func(c *Config) any { return &c.BulkReloadInterval }},
	{optKey: optKey{GroupDefault, "dhcp_confs"}, template: "$state_path/dhcp", field: func(c *Config) any { return &c.DHCPConfs }},
	{optKey: optKey{GroupDefault, "dnsmasq_config_file"}, field: func(c *Config) any { return &c.DnsmasqConfigFile }},
	{optKey: optKey{GroupDefault, "dnsmasq_dns_servers"}, kind: kindList, field: func(c *Config) any { return &c.DnsmasqDNSServers }},
	{optKey: optKey{GroupDefault, "dnsmasq_base_log_dir"}, field: func(c *Config) any { return &c.DnsmasqBaseLogDir }},
	{optKey: optKey{GroupDefault, "dnsmasq_local_resolv"}, kind: kindBool, field: func(c *Config) any { return &c.DnsmasqLocalResolv }},
	{optKey: optKey{GroupDefault, "dnsmasq_lease_max"}, kind: kindInt, field: func(c *Config) any { return &c.DnsmasqLeaseMax }},
	{optKey: optKey{GroupDefault, "dhcp_broadcast_reply"}, kind: kindBool, field: func(c *Config) any { return &c.DHCPBroadcastReply }},
	{optKey: optKey{GroupDefault, "dnsmasq_enable_addr6_list"}, kind: kindBool, field: func(c *Config) any { return &c.DnsmasqEnableAddr6List }},
	{optKey: optKey{GroupDefault, "dhcp_renewal_time"}, kind: kindInt, field: func(c *Config) any { return &c.DHCPRenewalTime }},
	{optKey: optKey{GroupDefault, "dhcp_rebinding_time"}, kind: kindInt, field: func(c *Config) any { return &c.DHCPRebindingTime }},

	// interface driver
	{optKey: optKey{GroupDefault, "interface_driver"}, field: func(c *Config) any { return &c.InterfaceDriver }},
	{optKey: optKey{GroupDefault, "ovs_integration_bridge"}, field: func(c *Config) any { return &c.OVSIntegrationBridge }},
	{optKey: optKey{GroupDefault, "ovs_use_veth"}, kind: kindBool, field: func(c *Config) any { return &c.OVSUseVeth }},

	// process / metadata
	{optKey: optKey{GroupDefault, "external_pids"}, template: "$state_path/external/pids", field: func(c *Config) any { return &c.ExternalPids }},
	{optKey: optKey{GroupDefault, "metadata_proxy_socket"}, template: "$state_path/metadata_proxy", field: func(c *Config) any { return &c.MetadataProxySocket }},
	{optKey: optKey{GroupDefault, "metadata_proxy_user"}, field: func(c *Config) any { return &c.MetadataProxyUser }},
	{optKey: optKey{GroupDefault, "metadata_proxy_group"}, field: func(c *Config) any { return &c.MetadataProxyGroup }},

	// [AGENT]
	{optKey: optKey{GroupAgent, "report_interval"}, kind: kindFloat, field: func(c *Config) any { return &c.Agent.ReportInterval }},
	{optKey: optKey{GroupAgent, "log_agent_heartbeats"}, kind: kindBool, field: func(c *Config) any { return &c.Agent.LogAgentHeartbeats }},
	{optKey: optKey{GroupAgent, "availability_zone"}, field: func(c *Config) any { return &c.Agent.AvailabilityZone }},
	{optKey: optKey{GroupAgent, "root_helper"}, field: func(c *Config) any { return &c.Agent.RootHelper }},
	{optKey: optKey{GroupAgent, "root_helper_daemon"}, field: func(c *Config) any { return &c.Agent.RootHelperDaemon }},
	{optKey: optKey{GroupAgent, "use_helper_for_ns_read"}, kind: kindBool, field: func(c *Config) any { return &c.Agent.UseHelperForNsRead }},
	{optKey: optKey{GroupAgent, "check_child_processes_action"}, choices: []string{"respawn", "exit"}, field: func(c *Config) any { return &c.Agent.CheckChildProcessesAction }},
	{optKey: optKey{GroupAgent, "check_child_processes_interval"}, kind: kindInt, field: func(c *Config) any { return &c.Agent.CheckChildProcessesInterval }},
	{optKey: optKey{GroupAgent, "kill_scripts_path"}, field: func(c *Config) any { return &c.Agent.KillScriptsPath }},
	{optKey: optKey{GroupAgent, "comment_iptables_rules"}, kind: kindBool, field: func(c *Config) any { return &c.Agent.CommentIptablesRules }},
	{optKey: optKey{GroupAgent, "debug_iptables_rules"}, kind: kindBool, field: func(c *Config) any { return &c.Agent.DebugIptablesRules }},
	{optKey: optKey{GroupAgent, "use_random_fully"}, kind: kindBool, field: func(c *Config) any { return &c.Agent.UseRandomFully }},

	// [OVS]
	{optKey: optKey{GroupOVS, "integration_bridge"}, deprecated: []optKey{{GroupOVS, "ovs_integration_bridge"}}, field: func(c *Config) any { return &c.OVS.IntegrationBridge }},
	{optKey: optKey{GroupOVS, "ovsdb_connection"}, field: func(c *Config) any { return &c.OVS.OVSDBConnection }},
	{optKey: optKey{GroupOVS, "ovsdb_timeout"}, kind: kindInt, field: func(c *Config) any { return &c.OVS.OVSDBTimeout }},
	{optKey: optKey{GroupOVS, "datapath_type"}, choices: []string{"system", "netdev"}, field: func(c *Config) any { return &c.OVS.DatapathType }},

	// [oslo_messaging_rabbit] (oslo.messaging 14, Zed)
	{optKey: optKey{GroupRabbit, "heartbeat_timeout_threshold"}, kind: kindInt, field: func(c *Config) any { return &c.Rabbit.HeartbeatTimeoutThreshold }},
	{optKey: optKey{GroupRabbit, "heartbeat_rate"}, kind: kindInt, field: func(c *Config) any { return &c.Rabbit.HeartbeatRate }},
	{optKey: optKey{GroupRabbit, "ssl"}, kind: kindBool, deprecated: []optKey{{GroupRabbit, "rabbit_use_ssl"}}, field: func(c *Config) any { return &c.Rabbit.SSL }},
	{optKey: optKey{GroupRabbit, "ssl_ca_file"}, deprecated: []optKey{{GroupRabbit, "kombu_ssl_ca_certs"}}, field: func(c *Config) any { return &c.Rabbit.SSLCAFile }},
	{optKey: optKey{GroupRabbit, "ssl_cert_file"}, deprecated: []optKey{{GroupRabbit, "kombu_ssl_certfile"}}, field: func(c *Config) any { return &c.Rabbit.SSLCertFile }},
	{optKey: optKey{GroupRabbit, "ssl_key_file"}, deprecated: []optKey{{GroupRabbit, "kombu_ssl_keyfile"}}, field: func(c *Config) any { return &c.Rabbit.SSLKeyFile }},
	{optKey: optKey{GroupRabbit, "amqp_durable_queues"}, kind: kindBool, field: func(c *Config) any { return &c.Rabbit.AMQPDurableQueues }},
	{optKey: optKey{GroupRabbit, "amqp_auto_delete"}, kind: kindBool, deprecated: []optKey{{GroupDefault, "amqp_auto_delete"}}, field: func(c *Config) any { return &c.Rabbit.AMQPAutoDelete }},
	{optKey: optKey{GroupRabbit, "rabbit_quorum_queue"}, kind: kindBool, field: func(c *Config) any { return &c.Rabbit.RabbitQuorumQueue }},
	{optKey: optKey{GroupRabbit, "rabbit_ha_queues"}, kind: kindBool, deprecated: []optKey{{GroupDefault, "rabbit_ha_queues"}}, field: func(c *Config) any { return &c.Rabbit.RabbitHAQueues }},
	{optKey: optKey{GroupRabbit, "rabbit_retry_interval"}, kind: kindInt, field: func(c *Config) any { return &c.Rabbit.RabbitRetryInterval }},
	{optKey: optKey{GroupRabbit, "rabbit_retry_backoff"}, kind: kindInt, deprecated: []optKey{{GroupDefault, "rabbit_retry_backoff"}}, field: func(c *Config) any { return &c.Rabbit.RabbitRetryBackoff }},
	{optKey: optKey{GroupRabbit, "rabbit_interval_max"}, kind: kindInt, field: func(c *Config) any { return &c.Rabbit.RabbitInterval }},
	{optKey: optKey{GroupRabbit, "kombu_failover_strategy"}, choices: []string{"round-robin", "shuffle"}, field: func(c *Config) any { return &c.Rabbit.KombuFailoverStrategy }},
}

// indexEntry is what a (normalised section, key) pair names.
type indexEntry struct {
	opt        *option
	deprecated bool
}

// index maps (normalised group, key) to options and their deprecated
// aliases.
var index = func() map[optKey]indexEntry {
	idx := map[optKey]indexEntry{}
	for _, o := range options {
		idx[optKey{normGroup(o.group), o.name}] = indexEntry{o, false}
		for _, d := range o.deprecated {
			idx[optKey{normGroup(d.group), d.name}] = indexEntry{o, true}
		}
	}
	return idx
}()

// normGroup is oslo.config's group-name normalisation: DEFAULT is kept,
// every other section name is lower-cased.
func normGroup(section string) string {
	if section == GroupDefault {
		return section
	}
	return strings.ToLower(section)
}

// lookupOption resolves a file section and key to an option.
func lookupOption(section, key string) (opt *option, deprecated bool) {
	e, ok := index[optKey{normGroup(section), key}]
	if !ok {
		return nil, false
	}
	return e.opt, e.deprecated
}

// registered finds an option by the group name as registered (exact case)
// and name, as a $group.name reference spells it.
func registered(group, name string) *option {
	for _, o := range options {
		if o.group == group && o.name == name {
			return o
		}
	}
	return nil
}

// format renders an option's current value as oslo.config substitutes it
// into another value (Python's str()).
func (o *option) format(c *Config) string {
	switch p := o.field(c).(type) {
	case *string:
		return *p
	case *int:
		return strconv.Itoa(*p)
	case *float64:
		s := strconv.FormatFloat(*p, 'f', -1, 64)
		if !strings.ContainsAny(s, ".eEnN") {
			s += ".0"
		}
		return s
	case *bool:
		if *p {
			return "True"
		}
		return "False"
	case *[]string:
		q := make([]string, len(*p))
		for i, s := range *p {
			q[i] = "'" + s + "'"
		}
		return "[" + strings.Join(q, ", ") + "]"
	}
	return ""
}
