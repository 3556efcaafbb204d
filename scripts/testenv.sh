#!/usr/bin/env bash
# scripts/testenv.sh - install and start what qdhcp's tests and demo need on a
# fresh Debian (bookworm) machine, as root, without systemd and without the
# openvswitch kernel module (OVS runs with the userspace "netdev" datapath).
#
#   scripts/testenv.sh setup    install packages, start ovsdb-server,
#                               ovs-vswitchd, br-int (netdev) and RabbitMQ
#   scripts/testenv.sh status   what runs
#   scripts/testenv.sh stop     stop OVS and RabbitMQ
#
# Idempotent: running it again only starts what is not running.
# Knobs: WITH_RABBITMQ=0 skips RabbitMQ (the demo does not need it);
# WITH_NEUTRON=0 skips neutron's own neutron-dhcp-agent (Debian package, never
# started as a service: scripts/bench_neutron.py runs it side by side with
# qdhcp; default: as WITH_RABBITMQ).
set -euo pipefail

OVS_RUN=/var/run/openvswitch
OVS_DB=/etc/openvswitch/conf.db
OVS_LOG=/var/log/openvswitch
OVS_SCHEMA=/usr/share/openvswitch/vswitch.ovsschema
RMQ_PID=/var/lib/rabbitmq/mnesia/rabbit@localhost.pid
WITH_RABBITMQ=${WITH_RABBITMQ:-1}
WITH_NEUTRON=${WITH_NEUTRON:-$WITH_RABBITMQ}
export DEBIAN_FRONTEND=noninteractive

PKGS=(openvswitch-switch openvswitch-common dnsmasq-base dnsmasq-utils iptables
      iproute2 udhcpc busybox isc-dhcp-client iputils-ping procps haproxy curl)
RMQ_PKGS=(rabbitmq-server python3-oslo.messaging)
NEUTRON_PKGS=(neutron-dhcp-agent)

say() { printf '[testenv] %s\n' "$*" >&2; }
alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

install_pkgs() {
	local want=("${PKGS[@]}") missing=() p
	[ "$WITH_RABBITMQ" = 1 ] && want+=("${RMQ_PKGS[@]}")
	[ "$WITH_NEUTRON" = 1 ] && want+=("${NEUTRON_PKGS[@]}")
	for p in "${want[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	say "installing ${missing[*]}"
	# no systemd: keep maintainer scripts from starting daemons; we start them.
	local policy=0
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
		chmod +x /usr/sbin/policy-rc.d
		policy=1
	fi
	apt-get -o DPkg::Lock::Timeout=600 update -q
	apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends "${missing[@]}"
	[ $policy = 1 ] && rm -f /usr/sbin/policy-rc.d
	return 0
}

start_ovs() {
	mkdir -p "$OVS_RUN" "$(dirname "$OVS_DB")" "$OVS_LOG"
	if [ ! -s "$OVS_DB" ]; then
		ovsdb-tool create "$OVS_DB" "$OVS_SCHEMA"
	elif [ "$(ovsdb-tool needs-conversion "$OVS_DB" "$OVS_SCHEMA")" = yes ] && ! alive "$OVS_RUN/ovsdb-server.pid"; then
		ovsdb-tool convert "$OVS_DB" "$OVS_SCHEMA"
	fi
	if ! alive "$OVS_RUN/ovsdb-server.pid"; then
		ovsdb-server "$OVS_DB" --remote=punix:"$OVS_RUN/db.sock" \
			--remote=db:Open_vSwitch,Open_vSwitch,manager_options \
			--pidfile="$OVS_RUN/ovsdb-server.pid" --log-file="$OVS_LOG/ovsdb-server.log" \
			-vconsole:emer -vsyslog:err -vfile:info --no-chdir --detach
		ovs-vsctl --no-wait init
	fi
	if [ -z "$(ovs-vsctl --no-wait get Open_vSwitch . external_ids:system-id 2>/dev/null | tr -d '"')" ]; then
		ovs-vsctl --no-wait set Open_vSwitch . external_ids:system-id="$(cat /proc/sys/kernel/random/uuid)"
	fi
	ovs-vsctl --no-wait set Open_vSwitch . ovs_version="$(ovs-vswitchd --version | sed -n '1s/.* //p')"
	if ! alive "$OVS_RUN/ovs-vswitchd.pid"; then
		ovs-vswitchd unix:"$OVS_RUN/db.sock" --pidfile="$OVS_RUN/ovs-vswitchd.pid" \
			--log-file="$OVS_LOG/ovs-vswitchd.log" -vconsole:emer -vsyslog:err -vfile:info \
			--no-chdir --detach
	fi
	# userspace datapath: internal ports are tap devices, no kernel module needed
	ovs-vsctl --timeout=30 --may-exist add-br br-int -- set Bridge br-int datapath_type=netdev
	say "OVS up: br-int datapath_type=$(ovs-vsctl get Bridge br-int datapath_type)"
}

start_rabbitmq() {
	[ "$WITH_RABBITMQ" = 1 ] || return 0
	local conf=/etc/rabbitmq/rabbitmq-env.conf
	cat >"$conf.qdhcp" <<-'EOF'
	NODENAME=rabbit@localhost
	NODE_IP_ADDRESS=127.0.0.1
	NODE_PORT=5672
	export ERL_EPMD_ADDRESS=127.0.0.1
	SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
	EOF
	cmp -s "$conf.qdhcp" "$conf" || mv "$conf.qdhcp" "$conf"
	rm -f "$conf.qdhcp"
	if alive "$RMQ_PID"; then return 0; fi
	(cd /var/lib/rabbitmq && rabbitmq-server -detached)
	rabbitmqctl wait --timeout 120 "$RMQ_PID" >/dev/null
	say "RabbitMQ up on 127.0.0.1:5672 (guest/guest)"
}

status() {
	echo "ovsdb-server: $(cat $OVS_RUN/ovsdb-server.pid 2>/dev/null || echo -)"
	echo "ovs-vswitchd: $(cat $OVS_RUN/ovs-vswitchd.pid 2>/dev/null || echo -)"
	echo "rabbitmq:     $(cat $RMQ_PID 2>/dev/null || echo -)"
	ovs-vsctl --timeout=5 show 2>/dev/null || true
}

stop() {
	alive "$OVS_RUN/ovs-vswitchd.pid" && ovs-appctl -t ovs-vswitchd exit || true
	alive "$OVS_RUN/ovsdb-server.pid" && ovs-appctl -t ovsdb-server exit || true
	alive "$RMQ_PID" && rabbitmqctl stop "$RMQ_PID" >/dev/null || true
}

case "${1:-setup}" in
setup) install_pkgs; start_ovs; start_rabbitmq ;;
status) status ;;
stop) stop ;;
*) echo "usage: $0 [setup|status|stop]" >&2; exit 2 ;;
esac
