// Package procmon starts, watches and stops the agent's child daemons
// (dnsmasq, haproxy) the way neutron's ProcessMonitor and ProcessManager do,
// but notices a death within milliseconds instead of once a minute.
//
// Processes are started inside a network namespace by entering it on a
// locked OS thread (no "ip netns exec"). Liveness follows neutron: the pid
// from the pid file, the process exists, and its command line contains the
// resource id; in addition a zombie counts as dead (a killed daemon can stay
// a zombie for a second or two while PID 1 gets round to reaping it, and
// kill -0 still succeeds on it).
//
// A Monitor watches every registered service with a pidfd (poll on the
// pidfd fires the moment the process exits), falls back to polling where
// pidfds are unavailable, and respawns or exits as configured by
// [AGENT] check_child_processes_interval and check_child_processes_action.
//
// Reaping: when the agent is a child subreaper (EnableSubreaper), daemons
// that fork away from their starter are reparented to the agent, so their
// zombies are the agent's to reap. procmon never calls wait on "any child":
// it reaps a specific process through its pidfd (the monitor and Stop do),
// and the optional orphan sweep only touches zombies in another session
// (daemons call setsid) that procmon itself is not waiting for, so exit
// statuses that os/exec waits for elsewhere in the agent are never stolen.
package procmon
