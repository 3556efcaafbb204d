package config

import (
	"fmt"
	"os"

	"gopkg.in/ini.v1"
)

// iniOptions make gopkg.in/ini.v1 read files the way oslo.config's parser
// does: "#" or ";" start a comment only at the beginning of a line, no
// backslash continuation, indented lines continue the previous value, keys
// and sections keep their case, "=" or ":" separate key and value. Quotes
// are kept and removed by osloValue (oslo strips one matching pair even
// when the value holds more quotes).
var iniOptions = ini.LoadOptions{
	IgnoreInlineComment:        true,
	IgnoreContinuation:         true,
	AllowPythonMultilineValues: true,
	PreserveSurroundedQuote:    true,
	KeyValueDelimiters:         "=:",
}

// rawValue is an option's value as written, with where it was written.
type rawValue struct {
	value      string
	file       string
	fileIndex  int
	section    string // as written
	key        string // as written
	deprecated bool   // written under a deprecated name
}

func (r rawValue) where() string {
	return fmt.Sprintf("%s: [%s] %s", r.file, r.section, r.key)
}

// Load reads the operator's configuration files (neutron.conf,
// dhcp_agent.ini, ...) on top of neutron's defaults, like oslo.config with
// several --config-file flags: a later file wins over an earlier one, the
// last occurrence in a file wins, options qdhcp does not know are ignored,
// $option references are substituted after all files are read. A missing or
// unreadable file, a syntax error or a malformed value is an error naming
// the file (and section and key).
func Load(files ...string) (*Config, error) {
	raw := map[*option]rawValue{}
	for i, f := range files {
		if err := readFile(raw, i, f); err != nil {
			return nil, err
		}
	}
	c := Defaults()
	if err := c.apply(raw); err != nil {
		return nil, err
	}
	if err := c.Validate(); err != nil {
		return nil, locate(err, raw)
	}
	return c, nil
}

// readFile records every known option of one file in raw.
func readFile(raw map[*option]rawValue, index int, name string) error {
	data, err := os.ReadFile(name)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	sc, err := scanFile(name, data)
	if err != nil {
		return err
	}
	f, err := ini.LoadSources(iniOptions, data)
	if err != nil {
		return fmt.Errorf("config %s: %w", name, err)
	}
	for _, sec := range f.Sections() {
		for _, k := range sec.Keys() {
			o, deprecated := lookupOption(sec.Name(), k.Name())
			if o == nil || !sc.assignedIn(sec.Name(), k.Name()) {
				continue // unknown, or not the assignment oslo.config would use
			}
			old, seen := raw[o]
			// within one file the current name beats a deprecated one
			if seen && old.fileIndex == index && !old.deprecated && deprecated {
				continue
			}
			raw[o] = rawValue{
				value:      osloValue(k.Value()),
				file:       name,
				fileIndex:  index,
				section:    sec.Name(),
				key:        k.Name(),
				deprecated: deprecated,
			}
		}
	}
	return nil
}

// apply stores the file values in c. References are resolved against the
// merged file values (a reference to state_path in one file sees the
// state_path of a later file, as in oslo.config), falling back to defaults.
func (c *Config) apply(raw map[*option]rawValue) error {
	vals := *c
	r := &resolver{raw: raw, vals: &vals, done: map[*option]string{}, busy: map[*option]bool{}}
	for _, o := range options {
		rv, ok := raw[o]
		if !ok {
			continue
		}
		v, err := r.expand(o)
		if err == nil {
			err = o.assign(c, v)
		}
		if err != nil {
			return fmt.Errorf("config %s: %w", rv.where(), err)
		}
		c.explicit(o)
	}
	c.ExpandStatePath()
	return nil
}

// resolver substitutes references between file values, detecting cycles.
type resolver struct {
	raw  map[*option]rawValue
	vals *Config // defaults, and the typed values of resolved options
	done map[*option]string
	busy map[*option]bool
}

// expand returns o's file value with its references substituted.
func (r *resolver) expand(o *option) (string, error) {
	if v, ok := r.done[o]; ok {
		return v, nil
	}
	if r.busy[o] {
		return "", fmt.Errorf("substitution loop through %s", o.name)
	}
	r.busy[o] = true
	defer delete(r.busy, o)
	src, ok := r.raw[o]
	text := src.value
	if !ok {
		text = o.template
	}
	v, err := interpolate(text, o.group, r.value)
	if err != nil {
		return "", err
	}
	r.done[o] = v
	return v, nil
}

// value is what a reference to o stands for: its file value converted to
// its type and printed back, a $state_path default expanded, else the
// default.
func (r *resolver) value(o *option) (string, error) {
	if _, ok := r.raw[o]; !ok && o.template == "" {
		return o.format(r.vals), nil
	}
	v, err := r.expand(o)
	if err != nil {
		return "", err
	}
	if err := o.assign(r.vals, v); err != nil {
		where := o.name
		if rv, ok := r.raw[o]; ok {
			where = rv.where()
		}
		return "", fmt.Errorf("%s: %w", where, err)
	}
	return o.format(r.vals), nil
}
