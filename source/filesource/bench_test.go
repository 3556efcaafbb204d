package filesource

import (
	"context"
	"testing"
)

// BenchmarkStart100x10 loads 100 network files of 10 ports each (Start: state
// dir, parse, validate, merge, store) and answers the agent's first
// get_active_networks_info.
func BenchmarkStart100x10(b *testing.B) {
	dir, state := b.TempDir(), b.TempDir()
	for i := 1; i <= 100; i++ {
		writeNet(b, dir, testNetwork(i, 10))
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		s := New(dir, state, testHost, nil)
		if err := s.Start(ctx, nil); err != nil {
			b.Fatal(err)
		}
		nets, err := s.GetActiveNetworksInfo(ctx, false)
		if err != nil || len(nets) != 100 || len(nets[99].Ports) != 10 {
			b.Fatalf("%d networks, %v", len(nets), err)
		}
		s.Close()
	}
}

// BenchmarkReloadFile re-reads one changed 10-port network file and diffs
// it (the work behind one live edit, without the debounce wait).
func BenchmarkReloadFile(b *testing.B) {
	dir, state := b.TempDir(), b.TempDir()
	n := testNetwork(1, 10)
	path := writeNet(b, dir, n)
	s := New(dir, state, testHost, nil)
	if err := s.Start(context.Background(), nil); err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	alt := testNetwork(1, 10)
	alt.Ports[0].FixedIPs[0].IPAddress = "10.1.0.200"
	files := [][]byte{marshal(b, alt), marshal(b, n)}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		writeFile(b, path, files[i%2])
		s.mu.Lock()
		notes, err := s.load(path)
		s.mu.Unlock()
		if err != nil || len(notes) != 1 {
			b.Fatalf("%d notes, %v", len(notes), err)
		}
		i++
	}
}
