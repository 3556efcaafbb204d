package config

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// invalidError is a Validate failure, naming the option at fault.
type invalidError struct {
	opt *option
	msg string
}

func (e *invalidError) Error() string {
	return fmt.Sprintf("[%s] %s: %s", e.opt.group, e.opt.name, e.msg)
}

// Validate checks what neutron checks across options or at start-up:
// resync_throttle must not exceed resync_interval (neutron refuses to start),
// the choice options hold one of their choices, bulk_reload_interval >= 0.
func (c *Config) Validate() error {
	if c.ResyncThrottle > c.ResyncInterval {
		return &invalidError{registered(GroupDefault, "resync_throttle"),
			fmt.Sprintf("%d must not be greater than resync_interval (%d)", c.ResyncThrottle, c.ResyncInterval)}
	}
	for _, o := range options {
		if o.choices != nil {
			if v := *o.field(c).(*string); !slices.Contains(o.choices, v) {
				return &invalidError{o, fmt.Sprintf("%q is not one of %s", v, strings.Join(o.choices, ", "))}
			}
		}
		if o.min != nil {
			if v := *o.field(c).(*int); v < *o.min {
				return &invalidError{o, fmt.Sprintf("%d is less than the minimum %d", v, *o.min)}
			}
		}
	}
	return nil
}

// locate prefixes a Validate error with the file, section and key that set
// the option at fault.
func locate(err error, raw map[*option]rawValue) error {
	var ie *invalidError
	if errors.As(err, &ie) {
		if rv, ok := raw[ie.opt]; ok {
			return fmt.Errorf("config %s: %s", rv.where(), ie.msg)
		}
	}
	return fmt.Errorf("config: %w", err)
}
