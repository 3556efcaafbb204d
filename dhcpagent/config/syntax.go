package config

import (
	"bytes"
	"fmt"
	"strings"
	"unicode/utf8"
)

// scan checks a file's structure line by line the way oslo.config's parser
// does, so files neutron refuses are refused here too (gopkg.in/ini.v1 is
// more lenient), and records which section spelling assigned each option
// last. ini.v1 does the actual parsing; readFile trusts a value from it only
// where this scan saw the same assignment.
type scan struct {
	// last[(normalised group, key)] = the section spelling of the last
	// assignment of key in that group
	last map[optKey]string
}

func scanFile(name string, data []byte) (*scan, error) {
	s := &scan{last: map[optKey]string{}}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	section, haveSection, inValue := "", false, false
	for i, raw := range strings.Split(string(data), "\n") {
		lineno := i + 1
		if !utf8.ValidString(raw) {
			return nil, fmt.Errorf("config %s:%d: not valid UTF-8", name, lineno)
		}
		line := strings.TrimRight(raw, " \t\r\n\v\f")
		fail := func(msg string) error {
			return fmt.Errorf("config %s:%d: %s: %q", name, lineno, msg, line)
		}
		switch {
		case line == "":
			inValue = false
		case line[0] == ' ' || line[0] == '\t':
			if !inValue {
				return nil, fail("unexpected continuation line")
			}
		case line[0] == '[':
			inValue = false
			if !strings.HasSuffix(line, "]") {
				return nil, fail("invalid section (must end with ])")
			}
			if len(line) <= 2 {
				return nil, fail("empty section name")
			}
			section, haveSection = line[1:len(line)-1], true
		case line[0] == '#' || line[0] == ';':
			inValue = false
		default:
			i := strings.IndexAny(line, ":=")
			if i < 0 {
				return nil, fail("no ':' or '=' found in assignment")
			}
			key, value := strings.TrimSpace(line[:i]), strings.TrimSpace(line[i+1:])
			if key == "" {
				return nil, fail("empty option name")
			}
			if !haveSection {
				return nil, fail("assignment before any section")
			}
			inValue = true
			if o, _ := lookupOption(section, key); o != nil &&
				(strings.HasPrefix(value, `"""`) || strings.HasPrefix(value, "`")) {
				// ini.v1 would unquote these; oslo.config keeps them
				return nil, fail("triple-quoted or backquoted value: quote with \" or ' only")
			}
			s.last[optKey{normGroup(section), key}] = section
		}
	}
	return s, nil
}

// assignedIn reports whether the scan saw key's last assignment in the
// section spelled section.
func (s *scan) assignedIn(section, key string) bool {
	sp, ok := s.last[optKey{normGroup(section), key}]
	return ok && sp == section
}

// osloValue turns ini.v1's raw value into oslo.config's: the first line
// loses one pair of matching surrounding quotes, continuation lines are
// trimmed and joined by newlines.
func osloValue(v string) string {
	lines := strings.Split(v, "\n")
	first := strings.TrimSpace(lines[0])
	if first != "" && (first[0] == '"' || first[0] == '\'') && first[0] == first[len(first)-1] {
		if len(first) == 1 {
			first = ""
		} else {
			first = first[1 : len(first)-1]
		}
	}
	out := []string{first}
	for _, l := range lines[1:] {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
