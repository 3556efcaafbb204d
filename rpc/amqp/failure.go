package amqp

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"qdhcp/model"
)

// failure is oslo's serialised remote exception, sent in a reply's
// "failure" field as a JSON string.
type failure struct {
	Class   string         `json:"class"`
	Module  string         `json:"module"`
	Message string         `json:"message"`
	TB      []string       `json:"tb"`
	Args    []any          `json:"args"`
	Kwargs  map[string]any `json:"kwargs"`
}

// remoteSuffix marks a re-raised remote exception class in oslo.
const remoteSuffix = "_Remote"

// decodeFailure turns a reply's "failure" value into a *model.RemoteError
// whose Class is "<module>.<class>" (e.g. "neutron_lib.exceptions.PortNotFound").
func decodeFailure(raw json.RawMessage) *model.RemoteError {
	var text string
	if err := json.Unmarshal(raw, &text); err != nil {
		// not a string: keep it whole
		return &model.RemoteError{Class: "unknown", Message: string(raw)}
	}
	var f failure
	if err := json.Unmarshal([]byte(text), &f); err != nil {
		return &model.RemoteError{Class: "unknown", Message: text}
	}
	cls := f.Class
	if f.Module != "" {
		cls = f.Module + "." + f.Class
	}
	return &model.RemoteError{Class: cls, Message: f.Message}
}

// Python exception classes a Go handler can report.
const (
	classRuntimeError = "builtins.RuntimeError"
	dispatcherModule  = "oslo_messaging.rpc.dispatcher"
)

// ErrNoSuchMethod is returned (wrapped) by a Handler for a method it does
// not implement; the caller gets oslo's NoSuchMethod.
var ErrNoSuchMethod = errors.New("no such method")

// encodeFailure serialises a handler error as oslo does: a *model.RemoteError
// keeps its class ("module.Class"), ErrNoSuchMethod becomes
// oslo_messaging.rpc.dispatcher.NoSuchMethod, anything else builtins.RuntimeError.
func encodeFailure(err error, method string) (string, error) {
	cls, msg := classRuntimeError, err.Error()
	var args []any
	var re *model.RemoteError
	var uv *unsupportedVersionError
	switch {
	case errors.As(err, &re):
		cls, msg = re.Class, re.Message
	case errors.Is(err, ErrNoSuchMethod):
		cls, msg = dispatcherModule+".NoSuchMethod", fmt.Sprintf("Endpoint does not support RPC method %s", method)
		args = []any{method}
	case errors.As(err, &uv):
		cls, msg = dispatcherModule+".UnsupportedVersion", uv.Error()
		args = []any{uv.version}
	}
	if args == nil {
		args = []any{msg}
	}
	module, class := "builtins", cls
	if i := strings.LastIndexByte(cls, '.'); i >= 0 {
		module, class = cls[:i], cls[i+1:]
	}
	f := failure{
		Class:   class,
		Module:  module,
		Message: msg,
		TB:      []string{fmt.Sprintf("qdhcp (Go) handler for %s: %s\n", method, msg)},
		Args:    args,
		Kwargs:  map[string]any{},
	}
	b, mErr := marshal(f)
	if mErr != nil {
		return "", fmt.Errorf("encode failure: %w", mErr)
	}
	return string(b), nil
}

// unsupportedVersionError is oslo's UnsupportedVersion: no endpoint of the
// server implements the requested namespace and version.
type unsupportedVersionError struct{ version, method string }

func (e *unsupportedVersionError) Error() string {
	return fmt.Sprintf("Endpoint does not support RPC version %s. Attempted method: %s", e.version, e.method)
}
