package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"qdhcp/model"
)

// TestHostileNetworkFiles puts files next to a good network file that a
// careless or hostile writer could leave: names that are not
// <uuid>.json, ids that try to leave the state directory, an absurd MTU
// and prefix length, a client-id
// long enough to make dnsmasq read its tail as a host line of its own, a
// symlink to a system file. The agent must serve the good network, log
// each bad file with its path (skip a dot file silently), and create
// nothing for them.
func TestHostileNetworkFiles(t *testing.T) {
	w := newWorld(t, "6", "")
	good := w.network(1, "10.206.0.0/24", "10.206.0.1", []string{"10.206.0.10"})
	w.writeNet(good)

	bad := map[string][]byte{}
	put := func(name string, n *model.Network) {
		b, err := json.Marshal(n)
		if err != nil {
			t.Fatal(err)
		}
		bad[name] = b
	}
	n2 := w.network(2, "10.206.2.0/24", "10.206.2.1", []string{"10.206.2.10"})
	put("not-a-uuid.json", n2)
	put("e2e..%2f..%2fetc.json", n2)
	// a dot file is an editor's temporary: skipped without a word
	hidden := filepath.Join(w.netDir, "..json")
	if err := os.WriteFile(hidden, bad["not-a-uuid.json"], 0o644); err != nil {
		t.Fatal(err)
	}
	n3 := w.network(3, "10.206.3.0/24", "10.206.3.1", []string{"10.206.3.10"})
	n3.ID = "../../../etc/" + n3.ID[:23]
	put(w.netID(3)+".json", n3)
	n4 := w.network(4, "10.206.4.0/24", "10.206.4.1", []string{"10.206.4.10"})
	n4.Ports[0].ID = "../" + n4.Ports[0].ID[3:]
	put(w.netID(4)+".json", n4)
	n5 := w.network(5, "10.206.5.0/24", "10.206.5.1", []string{"10.206.5.10"})
	n5.Subnets[0].ID = "..%2f" + n5.Subnets[0].ID[5:]
	put(w.netID(5)+".json", n5)
	n6 := w.network(6, "10.206.6.0/24", "10.206.6.1", []string{"10.206.6.10"})
	n6.Ports[0].ExtraDHCPOpts = []model.ExtraDHCPOpt{{OptName: "client-id",
		OptValue: strings.Repeat("x", 1003) + "fa:16:3e:e6:66:66,evil.,10.206.6.66"}}
	put(w.netID(6)+".json", n6)
	n7 := w.network(7, "10.206.7.0/24", "10.206.7.1", []string{"10.206.7.10"})
	n7.MTU = 70000
	put(w.netID(7)+".json", n7)
	n8 := w.network(8, "10.206.8.0/33", "10.206.8.1", []string{"10.206.8.10"})
	put(w.netID(8)+".json", n8)
	for name, b := range bad {
		if err := os.WriteFile(filepath.Join(w.netDir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	link := filepath.Join(w.netDir, w.netID(9)+".json")
	if err := os.Symlink("/etc/passwd", link); err != nil {
		t.Fatal(err)
	}
	bad[filepath.Base(link)] = nil
	for n := 2; n <= 9; n++ {
		w.track(w.netID(n)) // for the cleanup, should anything appear
	}

	a := w.startAgent()
	eventually(t, 30*time.Second, "good network served", func() string { return w.servedCheck(good.ID, hostFile(good)) })
	eventually(t, 10*time.Second, "every bad file reported", func() string {
		for name := range bad {
			if len(a.logLines("network file rejected", filepath.Join(w.netDir, name))) == 0 {
				return name + " not reported"
			}
		}
		return ""
	})
	for name := range bad {
		l := a.logLines("network file rejected", filepath.Join(w.netDir, name))[0]
		_, reason, _ := strings.Cut(l, " err=")
		t.Logf("%s: %s", name, reason)
	}
	if l := a.logLines(hidden); len(l) > 0 {
		t.Errorf("dot file not skipped: %v", l)
	}
	entries, err := os.ReadDir(filepath.Join(w.state, "dhcp"))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != good.ID {
		t.Errorf("state dirs: %v, want only %s", entries, good.ID)
	}
	w.checkNamespaces([]*model.Network{good})
	if _, err := os.Stat(filepath.Join(w.state, "etc")); err == nil {
		t.Error("a directory escaped into state_path/etc")
	}
	a.checkNoPanic()
}
