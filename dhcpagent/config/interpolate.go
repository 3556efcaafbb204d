package config

import (
	"fmt"
	"regexp"
	"strings"
)

// refPattern is Python's string.Template syntax as oslo.config uses it:
// "$$" escapes a dollar, "$name" and "${name}" refer to an option, a name may
// be "group.option". A "$" followed by anything else stays as written.
var refPattern = regexp.MustCompile(`(?i)\$(?:(\$)|([_a-z][._a-z0-9]*)|\{([_a-z][._a-z0-9]*)\})`)

// maxSubstituted bounds what references may add to one value: a few lines
// of "$a$a$a..." referring to each other would otherwise expand
// exponentially (gigabytes from a kilobyte file).
const maxSubstituted = 1 << 20

// refLookup returns the value an option reference stands for.
type refLookup func(o *option) (string, error)

// interpolate substitutes option references in value, resolving them with
// lookup. group is the group of the option being read: an undotted name is
// looked up there first, then in DEFAULT. A backslash-dollar counts as "$$".
func interpolate(value, group string, lookup refLookup) (string, error) {
	if !strings.Contains(value, "$") {
		return value, nil
	}
	value = strings.ReplaceAll(value, `\$`, `$$`)
	var firstErr error
	added := 0
	out := refPattern.ReplaceAllStringFunc(value, func(m string) string {
		sub := refPattern.FindStringSubmatch(m)
		if sub[1] != "" {
			return "$"
		}
		name := sub[2] + sub[3]
		o := resolveRef(name, group)
		if o == nil {
			if firstErr == nil {
				firstErr = fmt.Errorf("unknown option %q in substitution", "$"+name)
			}
			return m
		}
		if firstErr != nil {
			return ""
		}
		v, err := lookup(o)
		if err != nil {
			firstErr = fmt.Errorf("substituting %q: %w", "$"+name, err)
			return ""
		}
		if added += len(v); added > maxSubstituted {
			firstErr = fmt.Errorf("substitutions add more than %d bytes", maxSubstituted)
			return ""
		}
		return v
	})
	if firstErr != nil {
		return "", firstErr
	}
	return out, nil
}

// resolveRef finds the option a "$name" reference means, as oslo.config's
// substitution does: "group.option" with the group as registered, else the
// option in the current group, else in DEFAULT.
func resolveRef(name, group string) *option {
	if g, n, ok := strings.Cut(name, "."); ok {
		if o := registered(g, n); o != nil {
			return o
		}
		return registered(GroupDefault, name)
	}
	if o := registered(group, name); o != nil {
		return o
	}
	return registered(GroupDefault, name)
}
