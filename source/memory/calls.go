package memory

import "encoding/json"

// Call is one DHCP RPC the server received.
type Call struct {
	// Method is neutron's method name, e.g. "create_dhcp_port".
	Method string
	// Args are the kwargs as they travel on the wire, decoded from JSON
	// (strings, bools, float64, []any, map[string]any): host, network_id,
	// enable_dhcp_filter, port_id, port ({"port": {...}}), device_id,
	// port_ids, as NEUTRON_FACTS (b) lists them per method.
	Args map[string]any
}

// Action returns the call in the form of the goldens' actions.json
// entries: {"op": "rpc.<method>", <kwargs>...}.
func (c Call) Action() map[string]any {
	m := make(map[string]any, len(c.Args)+1)
	for k, v := range c.Args {
		m[k] = v
	}
	m["op"] = "rpc." + c.Method
	return m
}

// ChangesPorts reports the calls that create, update or delete a port (the
// ones the reference goldens record).
func (c Call) ChangesPorts() bool {
	switch c.Method {
	case "create_dhcp_port", "update_dhcp_port", "release_dhcp_port":
		return true
	}
	return false
}

// wire turns v into its JSON-decoded form.
func wire(v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		return nil
	}
	return out
}

// record appends a call; s.mu must be held.
func (s *Server) record(method string, args map[string]any) {
	s.calls = append(s.calls, Call{Method: method, Args: args})
}

// Calls returns every RPC received so far, in order.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.calls...)
}

// ClearCalls forgets the recorded calls (ready ports are kept).
func (s *Server) ClearCalls() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = nil
}

// ReadyPorts returns the port ids received by dhcp_ready_on_ports, in
// order, repeats included.
func (s *Server) ReadyPorts() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.ready...)
}
