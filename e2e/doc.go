// Package e2e holds fault tests of the qdhcp-agent binary as a real
// process, as root, on real namespaces, OVS, dnsmasq and DHCP clients:
// the agent SIGKILLed mid-sync, dnsmasq SIGKILLed during a port storm,
// ovs-vswitchd restarted under a served network, and a full state
// filesystem. The package has no code of its own; see the *_test.go files.
package e2e
