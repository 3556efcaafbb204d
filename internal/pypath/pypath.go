// Package pypath reproduces the Python path functions neutron builds its
// file names with (os.path.join, abspath, normpath), so that qdhcp's paths
// are byte-identical to neutron's, trailing slashes and "//" included.
package pypath

import (
	"os"
	"strings"
)

// Join joins two path parts like Python's os.path.join: no cleaning, an
// absolute second part replaces the first.
func Join(a, b string) string {
	switch {
	case strings.HasPrefix(b, "/"), a == "":
		return b
	case strings.HasSuffix(a, "/"):
		return a + b
	}
	return a + "/" + b
}

// AbsNorm is Python's os.path.abspath(os.path.normpath(p)) (the form
// neutron gives dhcp_confs and external_pids).
func AbsNorm(p string) string {
	if !strings.HasPrefix(p, "/") {
		wd, err := os.Getwd()
		if err != nil {
			wd = "/"
		}
		p = Join(wd, p)
	}
	return normpath(p)
}

// normpath is posixpath.normpath: it collapses separators and "." and
// resolves "..", keeping exactly two leading slashes (POSIX allows those
// to mean something else).
func normpath(p string) string {
	if p == "" {
		return "."
	}
	lead := ""
	switch {
	case strings.HasPrefix(p, "//") && !strings.HasPrefix(p, "///"):
		lead = "//"
	case strings.HasPrefix(p, "/"):
		lead = "/"
	}
	var out []string
	for _, part := range strings.Split(p, "/") {
		switch {
		case part == "" || part == ".":
		case part != "..":
			out = append(out, part)
		case len(out) > 0 && out[len(out)-1] != "..":
			out = out[:len(out)-1]
		case lead == "":
			out = append(out, part)
		}
	}
	s := lead + strings.Join(out, "/")
	if s == "" {
		return "."
	}
	return s
}
