package devicemanager

import (
	"context"
	"os"
	"testing"
)

// TestDestroyRemovesUnmountedNamespaceFile: an agent killed between
// creating /run/netns/qdhcp-<net> and bind-mounting it leaves a plain file
// that `ip netns` lists but nothing can enter; Destroy removes it.
func TestDestroyRemovesUnmountedNamespaceFile(t *testing.T) {
	skipUnlessRoot(t)
	const netID = "de57f11e-0000-4000-8000-000000000001"
	m, _ := newRootManager(t, nil)
	if err := prepareNetnsDir(); err != nil {
		t.Fatal(err)
	}
	path := nsPath(NamespaceName(netID))
	if err := os.WriteFile(path, nil, 0o444); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(path) })
	if namespaceExists(NamespaceName(netID)) {
		t.Fatal("a plain file counts as a namespace")
	}
	if err := m.Destroy(context.Background(), netID, "", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(path); !os.IsNotExist(err) {
		t.Fatalf("stale namespace file left: %v", err)
	}
}
