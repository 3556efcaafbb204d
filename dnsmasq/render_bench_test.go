package dnsmasq

import "testing"

// BenchmarkRenderLarge is a full render (host, addn_hosts, opts, leases,
// argv) of the 2,000-port reference network. Goal: < 5 ms on 2 cores.
func BenchmarkRenderLarge(b *testing.B) {
	f := loadFixture(b, "large_network_2000_ports")
	c := f.conf(b, b.TempDir())
	in := &Input{Network: f.net, Conf: c, Env: f.env()}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := Render(in); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRenderReloadLarge is what each reload_allocations renders.
func BenchmarkRenderReloadLarge(b *testing.B) {
	f := loadFixture(b, "large_network_2000_ports")
	c := f.conf(b, b.TempDir())
	in := &Input{Network: f.net, Conf: c, Env: f.env()}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := RenderReload(in); err != nil {
			b.Fatal(err)
		}
	}
}
