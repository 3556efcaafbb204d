package procmon

import (
	"sync/atomic"
	"time"
)

// Key identifies a monitored service: the resource (network) id and the
// service name ("dnsmasq", "haproxy").
type Key struct {
	UUID string
	Name string
}

// EventKind says what happened to a monitored process.
type EventKind int

const (
	EventDied          EventKind = iota + 1 // noticed dead
	EventBackoff                            // respawn delayed (crash loop)
	EventRespawned                          // Respawn returned without error
	EventRespawnFailed                      // Respawn returned an error
	EventExit                               // action exit: the agent must stop
)

func (k EventKind) String() string {
	switch k {
	case EventDied:
		return "died"
	case EventBackoff:
		return "backoff"
	case EventRespawned:
		return "respawned"
	case EventRespawnFailed:
		return "respawn-failed"
	case EventExit:
		return "exit"
	}
	return "unknown"
}

// Event is reported to Config.OnEvent.
type Event struct {
	Kind        EventKind
	Key         Key
	PID         int       // the process that died (0 if never seen running)
	At          time.Time // when procmon noticed / acted
	AfterReload bool      // the death followed a CheckNow (reload)
	Delay       time.Duration
	Err         error
}

// Stats are event counters, for metrics.
type Stats struct {
	Deaths            uint64 // deaths noticed
	DeathsAfterReload uint64 // of which right after a reload
	Respawns          uint64 // successful respawns
	RespawnFailures   uint64 // Respawn errors
	Backoffs          uint64 // respawns delayed by the crash-loop limit
}

type counters struct {
	deaths, deathsAfterReload, respawns, respawnFailures, backoffs atomic.Uint64
}

func (c *counters) snapshot() Stats {
	return Stats{
		Deaths:            c.deaths.Load(),
		DeathsAfterReload: c.deathsAfterReload.Load(),
		Respawns:          c.respawns.Load(),
		RespawnFailures:   c.respawnFailures.Load(),
		Backoffs:          c.backoffs.Load(),
	}
}
