package procmon

import "time"

// Backoff rate-limits the respawns of a crash-looping process: the first
// Burst quick deaths in a row are respawned at once, each further one waits
// Initial, 2*Initial, 4*Initial ... up to Max. A process that stayed up for
// Window resets the count. Deaths right after a reload (dnsmasq's SIGHUP
// crash, DNSMASQ_QUIRKS 1) are respawned at once and not counted.
type Backoff struct {
	Burst   int
	Window  time.Duration
	Initial time.Duration
	Max     time.Duration
}

// DefaultBackoff: three immediate respawns, then 1 s, 2 s, 4 s ... 64 s; a
// minute of uptime forgives.
var DefaultBackoff = Backoff{Burst: 3, Window: time.Minute, Initial: time.Second, Max: 64 * time.Second}

func (b Backoff) withDefaults() Backoff {
	if b.Burst <= 0 {
		b.Burst = DefaultBackoff.Burst
	}
	if b.Window <= 0 {
		b.Window = DefaultBackoff.Window
	}
	if b.Initial <= 0 {
		b.Initial = DefaultBackoff.Initial
	}
	if b.Max <= 0 {
		b.Max = DefaultBackoff.Max
	}
	return b
}

// loopState counts one service's quick deaths in a row.
type loopState struct{ quick int }

// next records a death (or failed respawn) at now of a process up since
// upSince (zero: never seen running) and returns how long to wait before
// respawning.
func (b Backoff) next(st *loopState, now, upSince time.Time, afterReload bool) time.Duration {
	if !upSince.IsZero() && now.Sub(upSince) >= b.Window {
		st.quick = 0
	}
	if afterReload {
		return 0
	}
	st.quick++
	if st.quick <= b.Burst {
		return 0
	}
	d := b.Initial
	for i := b.Burst + 1; i < st.quick && d < b.Max; i++ {
		d *= 2
	}
	return min(d, b.Max)
}
