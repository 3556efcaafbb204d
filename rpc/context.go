// Package rpc is the neutron DHCP agent's RPC API on the oslo.messaging
// transport of rpc/amqp: the plugin client (topic q-plugin), the agent's
// notification server (topic dhcp_agent) and the state reporter (topic
// q-reports-plugin), with neutron's topics, versions, argument names and
// request context.
package rpc

import (
	"time"

	"github.com/google/uuid"
)

// Topics and versions of neutron's DHCP RPC (neutron Zed, neutron-lib 3.1).
const (
	TopicPlugin  = "q-plugin"         // DhcpRpcCallback, server target 1.10
	TopicReports = "q-reports-plugin" // AgentExtRpcCallback, 1.2
	TopicAgent   = "dhcp_agent"       // the agents' topic

	// AgentVersion is the version of the agent's endpoint (DhcpAgent).
	AgentVersion = "1.0"
	// ReportStateVersion is PluginReportStateAPI's target version.
	ReportStateVersion = "1.2"
)

// AdminContext is the request context neutron's agents send:
// neutron_lib.context.get_admin_context_without_session().to_dict() — the
// oslo.context keys plus neutron's, an elevated admin without user or
// project, a fresh request id and the creation time.
func AdminContext() map[string]any {
	return map[string]any{
		// oslo.context RequestContext.to_dict()
		"user":              nil,
		"project_id":        nil,
		"system_scope":      nil,
		"project":           nil,
		"domain":            nil,
		"user_domain":       nil,
		"project_domain":    nil,
		"is_admin":          true,
		"read_only":         false,
		"show_deleted":      false,
		"auth_token":        nil,
		"request_id":        "req-" + uuid.NewString(),
		"global_request_id": nil,
		"resource_uuid":     nil,
		"roles":             []string{"admin"},
		"user_identity":     "- - - - -",
		"is_admin_project":  true,
		// neutron_lib ContextBase.to_dict() additions
		"user_id":      nil,
		"tenant_id":    nil,
		"timestamp":    pythonDatetime(time.Now().UTC()),
		"tenant_name":  nil,
		"project_name": nil,
		"user_name":    nil,
	}
}

// pythonDatetime is str(datetime): "2006-01-02 15:04:05.000000", without
// the fraction when it is zero.
func pythonDatetime(t time.Time) string {
	t = t.Truncate(time.Microsecond)
	if t.Nanosecond() == 0 {
		return t.Format("2006-01-02 15:04:05")
	}
	return t.Format("2006-01-02 15:04:05.000000")
}

// utcnowISO is datetime.utcnow().strftime('%Y-%m-%dT%H:%M:%S.%f').
func utcnowISO(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000000")
}
