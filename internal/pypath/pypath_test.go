package pypath

import "testing"

func TestPyPaths(t *testing.T) {
	for in, want := range map[string]string{
		"/var/lib/neutron/dhcp":  "/var/lib/neutron/dhcp",
		"/var//lib/./x/../dhcp/": "/var/lib/dhcp",
		"//srv/dhcp":             "//srv/dhcp",
		"///srv/dhcp":            "/srv/dhcp",
		"/../a":                  "/a",
		"/":                      "/",
	} {
		if got := AbsNorm(in); got != want {
			t.Errorf("AbsNorm(%q) = %q, want %q", in, got, want)
		}
	}
	for _, tc := range [][3]string{
		{"/a", "b", "/a/b"}, {"/a/", "b", "/a/b"}, {"/a", "/b", "/b"}, {"", "b", "b"}, {"/a//", "b", "/a//b"},
	} {
		if got := Join(tc[0], tc[1]); got != tc[2] {
			t.Errorf("Join(%q, %q) = %q", tc[0], tc[1], got)
		}
	}
}
