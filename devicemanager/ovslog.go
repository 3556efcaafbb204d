package devicemanager

import (
	"context"
	"log/slog"

	"github.com/go-logr/logr"
)

// slogSink hands libovsdb's logr output to slog, quietly: libovsdb's own
// default logger prints every message at verbosity 5 (quirk 5). Only V(0)
// messages pass, at debug level; errors become warnings.
type slogSink struct {
	log   *slog.Logger
	name  string
	attrs []any
}

func newOVSDBLogger(log *slog.Logger) logr.Logger {
	return logr.New(&slogSink{log: log.With("component", "libovsdb")})
}

func (s *slogSink) Init(logr.RuntimeInfo) {}
func (s *slogSink) Enabled(level int) bool {
	return level == 0 && s.log.Enabled(context.Background(), slog.LevelDebug)
}

func (s *slogSink) Info(level int, msg string, kv ...any) {
	if level > 0 {
		return
	}
	s.log.Debug(msg, s.args(kv)...)
}

func (s *slogSink) Error(err error, msg string, kv ...any) {
	s.log.Warn(msg, append(s.args(kv), "err", err)...)
}

func (s *slogSink) WithValues(kv ...any) logr.LogSink {
	c := *s
	c.attrs = append(append([]any(nil), s.attrs...), kv...)
	return &c
}

func (s *slogSink) WithName(name string) logr.LogSink {
	c := *s
	if c.name != "" {
		name = c.name + "." + name
	}
	c.name = name
	return &c
}

func (s *slogSink) args(kv []any) []any {
	out := append([]any(nil), s.attrs...)
	if s.name != "" {
		out = append(out, "logger", s.name)
	}
	return append(out, kv...)
}
