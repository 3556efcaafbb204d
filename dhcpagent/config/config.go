// Package config holds the neutron-dhcp-agent options qdhcp reads from the
// operator's neutron.conf and dhcp_agent.ini, with neutron's defaults.
package config

import (
	"os"
	"path/filepath"
	"strings"
)

// Config is every option the agent reads. Paths that neutron writes as
// "$state_path/..." are already expanded.
type Config struct {
	// [DEFAULT] core
	StatePath          string // state_path (/var/lib/neutron)
	Host               string // host (hostname)
	DHCPLeaseDuration  int    // dhcp_lease_duration (86400; -1 = infinite)
	DNSDomain          string // dns_domain (openstacklocal)
	Debug              bool   // debug
	TransportURL       string // transport_url (rabbit://, oslo.messaging's default)
	ControlExchange    string // control_exchange (neutron)
	RPCResponseTimeout int    // rpc_response_timeout (60)

	// [DEFAULT] DHCP agent
	ResyncInterval         int      // resync_interval (5)
	ResyncThrottle         int      // resync_throttle (1)
	DHCPDriver             string   // dhcp_driver
	EnableIsolatedMetadata bool     // enable_isolated_metadata
	ForceMetadata          bool     // force_metadata
	EnableMetadataNetwork  bool     // enable_metadata_network
	NumSyncThreads         int      // num_sync_threads (4)
	BulkReloadInterval     int      // bulk_reload_interval (0)
	DHCPConfs              string   // dhcp_confs ($state_path/dhcp)
	DnsmasqConfigFile      string   // dnsmasq_config_file ('')
	DnsmasqDNSServers      []string // dnsmasq_dns_servers ([])
	DnsmasqBaseLogDir      string   // dnsmasq_base_log_dir (unset)
	DnsmasqLocalResolv     bool     // dnsmasq_local_resolv (False)
	DnsmasqLeaseMax        int      // dnsmasq_lease_max (2**24)
	DHCPBroadcastReply     bool     // dhcp_broadcast_reply (False)
	DnsmasqEnableAddr6List bool     // dnsmasq_enable_addr6_list (False)
	DHCPRenewalTime        int      // dhcp_renewal_time (0)
	DHCPRebindingTime      int      // dhcp_rebinding_time (0)

	// interface / OVS
	InterfaceDriver      string // interface_driver (no default)
	OVSIntegrationBridge string // ovs_integration_bridge (deprecated dup of [OVS] integration_bridge)
	OVSUseVeth           bool   // ovs_use_veth (False)

	// process / metadata
	ExternalPids        string // external_pids ($state_path/external/pids)
	MetadataProxySocket string // metadata_proxy_socket ($state_path/metadata_proxy)
	MetadataProxyUser   string // metadata_proxy_user ('')
	MetadataProxyGroup  string // metadata_proxy_group ('')

	Agent  AgentConfig  // [AGENT]
	OVS    OVSConfig    // [OVS]
	Rabbit RabbitConfig // [oslo_messaging_rabbit]

	// set when the $state_path-relative default is in use
	dhcpConfsDerived, externalPidsDerived, metadataSocketDerived bool
	// set when [OVS] integration_bridge was given explicitly (it then wins
	// over the deprecated [DEFAULT] ovs_integration_bridge)
	ovsBridgeExplicit bool
	// transport_url was set by the operator (not oslo's rabbit:// default)
	transportURLExplicit bool
}

// AgentConfig is the [AGENT] group.
type AgentConfig struct {
	ReportInterval              float64 // report_interval (30.0; 0 disables)
	LogAgentHeartbeats          bool    // log_agent_heartbeats
	AvailabilityZone            string  // availability_zone (nova)
	RootHelper                  string  // root_helper (sudo)
	RootHelperDaemon            string  // root_helper_daemon (unset)
	UseHelperForNsRead          bool    // use_helper_for_ns_read (True)
	CheckChildProcessesAction   string  // check_child_processes_action (respawn|exit)
	CheckChildProcessesInterval int     // check_child_processes_interval (60; 0 = off)
	KillScriptsPath             string  // kill_scripts_path (/etc/neutron/kill_scripts/)
	CommentIptablesRules        bool    // comment_iptables_rules (True)
	DebugIptablesRules          bool    // debug_iptables_rules (False)
	UseRandomFully              bool    // use_random_fully (True)
}

// OVSConfig is the [OVS] group.
type OVSConfig struct {
	IntegrationBridge string // integration_bridge (br-int)
	OVSDBConnection   string // ovsdb_connection (tcp:127.0.0.1:6640)
	OVSDBTimeout      int    // ovsdb_timeout (10)
	DatapathType      string // datapath_type (system)
}

// RabbitConfig is the [oslo_messaging_rabbit] group (the options that matter
// to the AMQP transport).
type RabbitConfig struct {
	HeartbeatTimeoutThreshold int    // heartbeat_timeout_threshold (60)
	HeartbeatRate             int    // heartbeat_rate (2)
	SSL                       bool   // ssl (False)
	SSLCAFile                 string // ssl_ca_file
	SSLCertFile               string // ssl_cert_file
	SSLKeyFile                string // ssl_key_file
	AMQPDurableQueues         bool   // amqp_durable_queues (False)
	AMQPAutoDelete            bool   // amqp_auto_delete (False)
	RabbitQuorumQueue         bool   // rabbit_quorum_queue (False)
	RabbitHAQueues            bool   // rabbit_ha_queues (False)
	RabbitRetryInterval       int    // rabbit_retry_interval (1)
	RabbitRetryBackoff        int    // rabbit_retry_backoff (2)
	RabbitInterval            int    // rabbit_interval_max (30)
	KombuFailoverStrategy     string // kombu_failover_strategy (round-robin)
}

// Default DHCP driver class path (the only driver qdhcp implements).
const DefaultDHCPDriver = "neutron.agent.linux.dhcp.Dnsmasq"

// Defaults returns neutron's defaults. Host is the machine's hostname.
func Defaults() *Config {
	host, _ := os.Hostname()
	c := &Config{
		StatePath:          "/var/lib/neutron",
		Host:               host,
		DHCPLeaseDuration:  86400,
		DNSDomain:          "openstacklocal",
		TransportURL:       "rabbit://",
		ControlExchange:    "neutron",
		RPCResponseTimeout: 60,

		ResyncInterval:  5,
		ResyncThrottle:  1,
		DHCPDriver:      DefaultDHCPDriver,
		NumSyncThreads:  4,
		DnsmasqLeaseMax: 1 << 24,

		OVSIntegrationBridge: "br-int",

		Agent: AgentConfig{
			ReportInterval:              30,
			AvailabilityZone:            "nova",
			RootHelper:                  "sudo",
			UseHelperForNsRead:          true,
			CheckChildProcessesAction:   "respawn",
			CheckChildProcessesInterval: 60,
			KillScriptsPath:             "/etc/neutron/kill_scripts/",
			CommentIptablesRules:        true,
			UseRandomFully:              true,
		},
		OVS: OVSConfig{
			IntegrationBridge: "br-int",
			OVSDBConnection:   "tcp:127.0.0.1:6640",
			OVSDBTimeout:      10,
			DatapathType:      "system",
		},
		Rabbit: RabbitConfig{
			HeartbeatTimeoutThreshold: 60,
			HeartbeatRate:             2,
			RabbitRetryInterval:       1,
			RabbitRetryBackoff:        2,
			RabbitInterval:            30,
			KombuFailoverStrategy:     "round-robin",
		},
	}
	c.ExpandStatePath()
	return c
}

// ExpandStatePath (re)derives the options whose neutron default refers to
// $state_path, for those not set explicitly.
func (c *Config) ExpandStatePath() {
	if c.DHCPConfs == "" || c.dhcpConfsDerived {
		c.DHCPConfs = filepath.Join(c.StatePath, "dhcp")
		c.dhcpConfsDerived = true
	}
	if c.ExternalPids == "" || c.externalPidsDerived {
		c.ExternalPids = filepath.Join(c.StatePath, "external", "pids")
		c.externalPidsDerived = true
	}
	if c.MetadataProxySocket == "" || c.metadataSocketDerived {
		c.MetadataProxySocket = filepath.Join(c.StatePath, "metadata_proxy")
		c.metadataSocketDerived = true
	}
}

// ConfDir is the per-network state directory <dhcp_confs>/<network-id>.
func (c *Config) ConfDir(networkID string) string { return filepath.Join(c.DHCPConfs, networkID) }

// ShortHost is the host name up to the first dot (used for the DHCP device id).
func (c *Config) ShortHost() string {
	h, _, _ := strings.Cut(c.Host, ".")
	return h
}

// IntegrationBridge returns [OVS] integration_bridge, honouring the
// deprecated ovs_integration_bridge when only that one was changed.
func (c *Config) IntegrationBridge() string {
	if c.OVS.IntegrationBridge != "br-int" {
		return c.OVS.IntegrationBridge
	}
	if c.OVSIntegrationBridge != "" {
		return c.OVSIntegrationBridge
	}
	return "br-int"
}

// DeviceNamePrefix is "tap" for the OVS driver, "ns-" for linuxbridge or
// ovs_use_veth.
func (c *Config) DeviceNamePrefix() string {
	if c.OVSUseVeth || c.LinuxBridgeDriver() {
		return "ns-"
	}
	return "tap"
}

// LinuxBridgeDriver reports whether interface_driver names neutron's
// linuxbridge driver (linuxbridge, or ...BridgeInterfaceDriver).
func (c *Config) LinuxBridgeDriver() bool {
	d := strings.ToLower(c.InterfaceDriver)
	return strings.Contains(d, "linuxbridge") || strings.Contains(d, "bridgeinterfacedriver")
}

// HasTransportURL reports whether the operator configured transport_url:
// then the agent talks to neutron-server over RabbitMQ; without it qdhcp
// runs on its embedded file source.
func (c *Config) HasTransportURL() bool { return c.transportURLExplicit }
