package metadataproxy

import (
	"fmt"
	"os/user"
	"strconv"
	"strings"
)

// ResolveUser turns metadata_proxy_user (a uid or a name) into the user
// name haproxy gets, as neutron does: a number is looked up as a uid first.
func ResolveUser(u string) (string, error) {
	if id, err := strconv.Atoi(strings.TrimSpace(u)); err == nil {
		if pw, err := user.LookupId(strconv.Itoa(id)); err == nil {
			return pw.Username, nil
		}
	}
	pw, err := user.Lookup(u)
	if err != nil {
		return "", fmt.Errorf("metadata proxy: invalid user/uid: %q", u)
	}
	return pw.Username, nil
}

// ResolveGroup turns metadata_proxy_group (a gid or a name) into a group
// name, a number being looked up as a gid first.
func ResolveGroup(g string) (string, error) {
	if id, err := strconv.Atoi(strings.TrimSpace(g)); err == nil {
		if gr, err := user.LookupGroupId(strconv.Itoa(id)); err == nil {
			return gr.Name, nil
		}
	}
	gr, err := user.LookupGroup(g)
	if err != nil {
		return "", fmt.Errorf("metadata proxy: invalid group/gid: %q", g)
	}
	return gr.Name, nil
}
