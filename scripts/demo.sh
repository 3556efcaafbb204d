#!/usr/bin/env bash
# scripts/demo.sh - `make demo`: qdhcp on its embedded default (a directory of
# network JSON files, no OpenStack) on a fresh Debian machine, as root.
#
#  1. installs the packages and starts OVS (userspace datapath, br-int)
#  2. builds qdhcp-agent and runs it on a copy of testdata/networks/
#  3. starts a "VM" namespace on br-int with a port's MAC, which obtains a
#     lease from the agent's dnsmasq, and prints it
#  4. leaves the agent in the foreground: edit the files under
#     $DEMO_STATE/networks to see it react; Ctrl-C stops it and the demo
#     removes everything it made.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=/usr/local/go/bin:$PATH

DEMO_STATE=${DEMO_STATE:-/var/lib/qdhcp-demo}
NET_ID=a3c7ad97-eaa2-47d3-84c8-779d5e8d516b # testdata/networks: demo-v4
VM_NS=qdhcp-demo-vm
VM_DEV=qdemo-vm0
say() { printf '\033[1m[demo]\033[0m %s\n' "$*" >&2; }

WITH_RABBITMQ=0 bash scripts/testenv.sh setup
go build -o bin/qdhcp-agent ./cmd/qdhcp-agent

mkdir -p "$DEMO_STATE/networks"
chmod 755 "$DEMO_STATE"
cp testdata/networks/*.json "$DEMO_STATE/networks/"
cat >"$DEMO_STATE/dhcp_agent.ini" <<EOF
[DEFAULT]
state_path = $DEMO_STATE
interface_driver = openvswitch
dnsmasq_dns_servers = 192.0.2.53

[OVS]
integration_bridge = br-int
ovsdb_connection = unix:/var/run/openvswitch/db.sock

[AGENT]
check_child_processes_interval = 5
EOF
CONF=(--config-file "$DEMO_STATE/dhcp_agent.ini")

AGENT_PID=
cleanup() {
	trap - EXIT INT TERM
	say "cleaning up"
	[ -n "$AGENT_PID" ] && kill "$AGENT_PID" 2>/dev/null && wait "$AGENT_PID" 2>/dev/null || true
	ovs-vsctl --timeout=10 --if-exists del-port br-int "$VM_DEV" || true
	ip netns del "$VM_NS" 2>/dev/null || true
	# the agent leaves dnsmasq serving when it stops (as neutron does); the
	# demo removes the networks it served
	bin/qdhcp-agent cleanup "${CONF[@]}" || true
	say "done"
}
trap cleanup EXIT INT TERM

bin/qdhcp-agent run "${CONF[@]}" --source "dir:$DEMO_STATE/networks" --metrics-listen 127.0.0.1:9779 &
AGENT_PID=$!

say "waiting for dnsmasq of network $NET_ID"
for _ in $(seq 1 100); do
	[ -s "$DEMO_STATE/dhcp/$NET_ID/pid" ] && break
	sleep 0.1
done
[ -s "$DEMO_STATE/dhcp/$NET_ID/pid" ] || { say "dnsmasq did not start"; exit 1; }

MAC=$(python3 -c 'import json,sys; n=json.load(open(sys.argv[1])); print([p["mac_address"] for p in n["ports"] if p["name"]=="demo-client"][0])' \
	"$DEMO_STATE/networks/$NET_ID.json")
say "starting VM namespace $VM_NS with MAC $MAC on br-int"
ip netns del "$VM_NS" 2>/dev/null || true
ovs-vsctl --timeout=10 --if-exists del-port br-int "$VM_DEV"
ip netns add "$VM_NS"
ovs-vsctl --timeout=30 add-port br-int "$VM_DEV" -- set Interface "$VM_DEV" type=internal
for _ in $(seq 1 50); do ip link show "$VM_DEV" >/dev/null 2>&1 && break; sleep 0.1; done
ip link set "$VM_DEV" netns "$VM_NS"
ip -n "$VM_NS" link set lo up
ip -n "$VM_NS" link set "$VM_DEV" address "$MAC" up
HOOK=$(mktemp)
cat >"$HOOK" <<'EOF'
#!/bin/sh
# a private udhcpc hook: configures the VM's own device only
case "$1" in
bound|renew)
	ip addr flush dev "$interface"; ip addr add "$ip/${mask:-24}" dev "$interface"
	echo "lease obtained: ip=$ip router=$router dns=$dns domain=$domain mtu=$mtu lease=${lease}s hostname=$hostname";;
esac
exit 0
EOF
chmod +x "$HOOK"
if ! ip netns exec "$VM_NS" udhcpc -f -q -n -t 5 -T 1 -i "$VM_DEV" -s "$HOOK" -O mtu 2>/dev/null | grep 'lease obtained'; then
	say "no lease obtained"
	exit 1
fi
rm -f "$HOOK"
echo
bin/qdhcp-agent status "${CONF[@]}"
echo
say "the agent keeps running: edit $DEMO_STATE/networks/*.json, or try"
say "  bin/qdhcp-agent inspect ${CONF[*]} --source dir:$DEMO_STATE/networks $NET_ID"
say "  curl -s 127.0.0.1:9779/metrics | grep qdhcp_"
say "Ctrl-C stops the agent and removes the demo"
wait "$AGENT_PID"
