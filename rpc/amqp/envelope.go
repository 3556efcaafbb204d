package amqp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"
)

// Wire keys of oslo.messaging's AMQP driver.
const (
	envelopeVersion = "2.0"
	keyVersion      = "oslo.version"
	keyMessage      = "oslo.message"

	keyMethod    = "method"
	keyArgs      = "args"
	keyNamespace = "namespace"
	keyRPCVer    = "version"
	keyMsgID     = "_msg_id"
	keyReplyQ    = "_reply_q"
	keyTimeout   = "_timeout"
	keyUniqueID  = "_unique_id"
	contextPfx   = "_context_"

	keyResult  = "result"
	keyFailure = "failure"
	keyEnding  = "ending"
)

// newID is uuid4().hex, the form of oslo's msg ids, unique ids and reply
// queue suffixes.
func newID() string {
	u := uuid.New()
	return strings.ReplaceAll(u.String(), "-", "")
}

// marshal is json.Marshal without HTML escaping (Python's json.dumps does
// not escape <, > and &).
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}

// encodeEnvelope wraps a message dict in the 2.0 envelope:
// {"oslo.version": "2.0", "oslo.message": "<the dict as a JSON string>"}.
func encodeEnvelope(msg map[string]any) ([]byte, error) {
	inner, err := marshal(msg)
	if err != nil {
		return nil, fmt.Errorf("encode message: %w", err)
	}
	return marshal(map[string]string{keyVersion: envelopeVersion, keyMessage: string(inner)})
}

// decodeBody returns the message dict of a body, accepting the 2.0 envelope
// and, like oslo, a bare dict (envelope 1.0). A newer major envelope version
// is refused.
func decodeBody(body []byte) (map[string]json.RawMessage, error) {
	var outer map[string]json.RawMessage
	if err := json.Unmarshal(body, &outer); err != nil {
		return nil, fmt.Errorf("decode message: %w", err)
	}
	rawVer, hasVer := outer[keyVersion]
	rawMsg, hasMsg := outer[keyMessage]
	if !hasVer || !hasMsg {
		return outer, nil
	}
	var ver, inner string
	if err := json.Unmarshal(rawVer, &ver); err != nil {
		return nil, fmt.Errorf("decode envelope version: %w", err)
	}
	if !versionCompatible(envelopeVersion, ver) {
		return nil, fmt.Errorf("unsupported RPC envelope version %q", ver)
	}
	if err := json.Unmarshal(rawMsg, &inner); err != nil {
		return nil, fmt.Errorf("decode envelope: %w", err)
	}
	var msg map[string]json.RawMessage
	if err := json.Unmarshal([]byte(inner), &msg); err != nil {
		return nil, fmt.Errorf("decode envelope message: %w", err)
	}
	return msg, nil
}

// packContext adds each context key as "_context_<key>".
func packContext(msg map[string]any, ctx map[string]any) {
	for k, v := range ctx {
		msg[contextPfx+k] = v
	}
}

// str decodes an optional JSON string ("" for absent or null).
func str(m map[string]json.RawMessage, key string) string {
	raw, ok := m[key]
	if !ok {
		return ""
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return ""
	}
	return s
}

// isNull reports whether raw is absent or JSON null.
func isNull(raw json.RawMessage) bool {
	return len(bytes.TrimSpace(raw)) == 0 || bytes.Equal(bytes.TrimSpace(raw), []byte("null"))
}

// versionCompatible is oslo's version_is_compatible: same major, requested
// minor (and revision) not above the implemented one.
func versionCompatible(implemented, requested string) bool {
	if implemented == "" {
		return true
	}
	if requested == "" {
		return false
	}
	imp, err1 := parseVersion(implemented)
	req, err2 := parseVersion(requested)
	if err1 != nil || err2 != nil {
		return false
	}
	if req[0] != imp[0] {
		return false
	}
	if req[1] != imp[1] {
		return req[1] < imp[1]
	}
	return req[2] <= imp[2]
}

func parseVersion(v string) ([3]int, error) {
	var out [3]int
	parts := strings.Split(v, ".")
	if len(parts) < 2 || len(parts) > 3 {
		return out, errors.New("bad version")
	}
	for i, p := range parts {
		n := 0
		if p == "" {
			return out, errors.New("bad version")
		}
		for _, c := range p {
			if c < '0' || c > '9' {
				return out, errors.New("bad version")
			}
			n = n*10 + int(c-'0')
		}
		out[i] = n
	}
	return out, nil
}
