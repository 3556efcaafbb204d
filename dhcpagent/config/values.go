package config

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Value syntax accepted by oslo.config's types (Python's int() and float()
// allow single underscores between digits and surrounding blanks).
var (
	intSyntax   = regexp.MustCompile(`^[+-]?[0-9](_?[0-9])*$`)
	floatSyntax = regexp.MustCompile(`^[+-]?(([0-9](_?[0-9])*)?\.?([0-9](_?[0-9])*)?([eE][+-]?[0-9](_?[0-9])*)?|(?i:inf|infinity|nan))$`)
)

func parseInt(s string) (int, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, errors.New("empty value, an integer is required")
	}
	if !intSyntax.MatchString(s) {
		return 0, fmt.Errorf("%q is not an integer", s)
	}
	n, err := strconv.ParseInt(strings.ReplaceAll(s, "_", ""), 10, strconv.IntSize)
	if err != nil {
		return 0, fmt.Errorf("%q is out of range", s)
	}
	return int(n), nil
}

func parseFloat(s string) (float64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, errors.New("empty value, a number is required")
	}
	if !floatSyntax.MatchString(s) || !strings.ContainsAny(s, "0123456789nN") {
		return 0, fmt.Errorf("%q is not a number", s)
	}
	f, err := strconv.ParseFloat(strings.ReplaceAll(s, "_", ""), 64)
	if err != nil {
		return 0, fmt.Errorf("%q is out of range", s)
	}
	return f, nil
}

func parseBool(s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "1", "on", "yes":
		return true, nil
	case "false", "0", "off", "no":
		return false, nil
	}
	return false, fmt.Errorf("%q is not a boolean (true/false, yes/no, on/off, 1/0)", s)
}

// parseList splits a comma separated list, blanks around items trimmed and
// one trailing comma ignored, as oslo.config's ListOpt does.
func parseList(s string) []string {
	s = strings.TrimRight(strings.TrimSpace(s), ",")
	if s == "" {
		return []string{}
	}
	parts := strings.Split(s, ",")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	return parts
}

// assign converts an already interpolated value and stores it in the
// option's field.
func (o *option) assign(c *Config, value string) error {
	switch p := o.field(c).(type) {
	case *string:
		if o.choices != nil && !slices.Contains(o.choices, value) {
			return fmt.Errorf("%q is not one of %s", value, strings.Join(o.choices, ", "))
		}
		*p = value
	case *int:
		n, err := parseInt(value)
		if err != nil {
			return err
		}
		if o.min != nil && n < *o.min {
			return fmt.Errorf("%d is less than the minimum %d", n, *o.min)
		}
		*p = n
	case *float64:
		f, err := parseFloat(value)
		if err != nil {
			return err
		}
		*p = f
	case *bool:
		b, err := parseBool(value)
		if err != nil {
			return err
		}
		*p = b
	case *[]string:
		*p = parseList(value)
	default:
		return fmt.Errorf("option %s has no field", o.name)
	}
	return nil
}
