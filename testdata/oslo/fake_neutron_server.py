#!/usr/bin/python3
"""A stand-in for neutron-server's DHCP RPC side, built on the REAL
oslo.messaging (Debian python3-oslo.messaging), used by qdhcp's Go tests as
the peer of its own transport.

It runs two oslo.messaging RPC servers on the control exchange given with
--exchange (topics q-plugin, target version 1.10, and q-reports-plugin,
version 1.2, namespace None as in neutron) that serve the DHCP plugin methods
from an in-memory set of networks (--network FILE, a get_network_info dict;
keys starting with "_" are ignored), and an oslo.messaging RPCClient on topic
dhcp_agent (version 1.0) that casts notifications as neutron's
DhcpAgentNotifyAPI does.

Protocol: one JSON command per line on stdin, one JSON answer per line on
stdout ({"ready": true} first, once both servers consume). Commands:

  {"op": "calls"}                      -> {"ok": true, "calls": [...]}
      every request the servers got: topic, method, args, version,
      namespace (and whether the key was present), context, client_timeout
  {"op": "clear"}                      -> forget recorded calls
  {"op": "cast", "method": M, "payload": P, "host": H|null,
   "fanout": false, "topic": "dhcp_agent"}
  {"op": "call", "topic": T, "server": S|null, "method": M,
   "args": {...}, "version": "1.0", "timeout": 10}
      -> {"ok": true, "result": R} or {"ok": false, "error": {...}}
  {"op": "report_replies", "replies": ["revived", ...]}
      queue the next report_state answers (default "new" then "alive")
  {"op": "network", "network": {...}} add or replace a network
  {"op": "quit"}

Logs go to stderr.
"""

import argparse
import copy
import ipaddress
import json
import logging
import os
import sys
import threading
import time
import uuid

from oslo_config import cfg
import oslo_messaging as om
from oslo_messaging.rpc import dispatcher as rpc_dispatcher
from oslo_messaging.rpc import server as rpc_server

LOG = logging.getLogger("fake-neutron")


# Exceptions as neutron-lib names them: oslo serialises class and module.
class NeutronException(Exception):
    message = "An unknown exception occurred."

    def __init__(self, **kwargs):
        self.msg = self.message % kwargs
        super().__init__(self.msg)


class PortNotFound(NeutronException):
    message = "Port %(port_id)s could not be found."


class Conflict(NeutronException):
    message = "%(msg)s"


for _cls in (NeutronException, PortNotFound, Conflict):
    _cls.__module__ = "neutron_lib.exceptions"


class State:
    """Networks, recorded calls and scripted report replies."""

    def __init__(self, record_file):
        self.lock = threading.Lock()
        self.networks = {}
        self.calls = []
        self.report_replies = []
        self.reports = 0
        self.macs = 0
        self.record_file = record_file

    def record(self, entry):
        with self.lock:
            self.calls.append(entry)
        if self.record_file:
            with open(self.record_file, "a") as f:
                f.write(json.dumps(entry) + "\n")

    def add_network(self, net):
        net = {k: v for k, v in net.items() if not k.startswith("_")}
        with self.lock:
            self.networks[net["id"]] = net

    def find_port(self, port_id):
        for net in self.networks.values():
            for port in net.get("ports", []):
                if port["id"] == port_id:
                    return net, port
        return None, None


def free_ip(net, subnet_id):
    """The first address of the subnet's allocation pools (or of the
    subnet) that no port of the network holds, as neutron's IPAM picks."""
    subnet = next((s for s in net.get("subnets", []) if s["id"] == subnet_id), None)
    if subnet is None:
        return None
    used = {f["ip_address"] for p in net.get("ports", []) for f in p.get("fixed_ips", [])}
    used.add(subnet.get("gateway_ip"))
    cidr = ipaddress.ip_network(subnet["cidr"], strict=False)
    pools = subnet.get("allocation_pools") or [{"start": str(cidr[1]), "end": str(cidr[-2])}]
    for pool in pools:
        a, b = ipaddress.ip_address(pool["start"]), ipaddress.ip_address(pool["end"])
        while a <= b:
            if str(a) not in used:
                return str(a)
            a += 1
    return None


def dhcp_only(net):
    """The network as get_network_info returns it: DHCP subnets only."""
    out = copy.deepcopy(net)
    out["subnets"] = [s for s in out.get("subnets", []) if s.get("enable_dhcp")]
    return out


class DhcpRpcCallback:
    """The q-plugin methods the DHCP agent calls (neutron target 1.10)."""

    target = om.Target(version="1.10")

    def __init__(self, state):
        self.state = state

    def get_active_networks_info(self, context, **kwargs):
        with self.state.lock:
            nets = list(self.state.networks.values())
        if kwargs.get("enable_dhcp_filter", True):
            return [dhcp_only(n) for n in nets]
        return copy.deepcopy(nets)

    def get_network_info(self, context, **kwargs):
        with self.state.lock:
            net = self.state.networks.get(kwargs.get("network_id"))
            return dhcp_only(net) if net else None

    def create_dhcp_port(self, context, **kwargs):
        req = kwargs["port"]["port"]
        host = kwargs.get("host")
        with self.state.lock:
            net = self.state.networks.get(req["network_id"])
            if net is None:
                return None
            fixed_ips = []
            for fip in req.get("fixed_ips", []):
                ip = fip.get("ip_address") or free_ip(net, fip["subnet_id"])
                fixed_ips.append({"subnet_id": fip["subnet_id"], "ip_address": ip})
            self.state.macs += 1
            m = self.state.macs
            port = {
                "id": str(uuid.uuid4()),
                "name": req.get("name", ""),
                "network_id": req["network_id"],
                "project_id": req.get("project_id"),
                "tenant_id": req.get("project_id"),
                "admin_state_up": req.get("admin_state_up", True),
                "device_id": req.get("device_id", ""),
                "device_owner": "network:dhcp",
                "binding:host_id": host,
                "mac_address": "fa:16:3e:%02x:%02x:%02x" % (m >> 16 & 255, m >> 8 & 255, m & 255),
                "fixed_ips": fixed_ips,
                "extra_dhcp_opts": [],
                "status": "ACTIVE",
                "description": "",
                "dns_name": "",
                "dns_assignment": [
                    {"hostname": "host-" + f["ip_address"].replace(".", "-").replace(":", "-"),
                     "ip_address": f["ip_address"],
                     "fqdn": "host-" + f["ip_address"].replace(".", "-").replace(":", "-") + ".openstacklocal."}
                    for f in fixed_ips if f["ip_address"]],
                "allowed_address_pairs": [],
                "security_groups": [],
                "tags": [],
                "revision_number": 1,
            }
            net.setdefault("ports", []).append(port)
            return copy.deepcopy(port)

    def update_dhcp_port(self, context, **kwargs):
        with self.state.lock:
            _, port = self.state.find_port(kwargs["port_id"])
            if port is None:
                return None
            req = kwargs["port"]["port"]
            if "device_id" in req:
                port["device_id"] = req["device_id"]
            if "fixed_ips" in req:
                port["fixed_ips"] = req["fixed_ips"]
            return copy.deepcopy(port)

    def release_dhcp_port(self, context, **kwargs):
        with self.state.lock:
            net = self.state.networks.get(kwargs["network_id"])
            if net:
                net["ports"] = [p for p in net.get("ports", [])
                                if p.get("device_id") != kwargs["device_id"]]

    def get_dhcp_port(self, context, **kwargs):
        with self.state.lock:
            _, port = self.state.find_port(kwargs["port_id"])
            if port is None:
                raise PortNotFound(port_id=kwargs["port_id"])
            return copy.deepcopy(port)

    def dhcp_ready_on_ports(self, context, **kwargs):
        return None


class AgentExtRpcCallback:
    """q-reports-plugin (neutron target 1.2)."""

    target = om.Target(version="1.2")

    def __init__(self, state):
        self.state = state

    def report_state(self, context, **kwargs):
        with self.state.lock:
            self.state.reports += 1
            if self.state.report_replies:
                return self.state.report_replies.pop(0)
            return "new" if self.state.reports == 1 else "alive"


class RecordingDispatcher(rpc_dispatcher.RPCDispatcher):
    """oslo's own dispatcher (version and namespace checks included) that
    first records what arrived."""

    def __init__(self, topic, endpoints, state):
        super().__init__(endpoints, None)
        self.topic = topic
        self.state = state

    def dispatch(self, incoming):
        msg = incoming.message
        ctxt = dict(incoming.ctxt)
        client_timeout = ctxt.pop("client_timeout", None)
        self.state.record({
            "topic": self.topic,
            "method": msg.get("method"),
            "args": msg.get("args", {}),
            "version": msg.get("version"),
            "namespace": msg.get("namespace"),
            "namespace_present": "namespace" in msg,
            "context": ctxt,
            "client_timeout": client_timeout,
            "is_call": bool(getattr(incoming, "msg_id", None)),
            "time": time.time(),
        })
        return super().dispatch(incoming)


def error_dict(exc):
    return {
        "class": type(exc).__name__,
        "module": type(exc).__module__,
        "message": str(exc),
        "exc_type": getattr(exc, "exc_type", None),
        "value": getattr(exc, "value", None),
    }


# what neutron-server's admin context serialises to (get_admin_context)
ADMIN_CONTEXT = {
    "user_id": None, "project_id": None, "tenant_id": None,
    "is_admin": True, "roles": ["admin"], "request_id": "req-fake-neutron",
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--exchange", default="neutron")
    ap.add_argument("--server", default="fake-neutron-server")
    ap.add_argument("--network", action="append", default=[])
    ap.add_argument("--record")
    ap.add_argument("--debug", action="store_true")
    args = ap.parse_args()
    logging.basicConfig(stream=sys.stderr,
                        level=logging.DEBUG if args.debug else logging.WARNING)

    state = State(args.record)
    for path in args.network:
        with open(path) as f:
            state.add_network(json.load(f))

    conf = cfg.CONF  # oslo.messaging registers some options on the global one
    conf([], project="fake-neutron", default_config_files=[])
    om.set_transport_defaults(control_exchange=args.exchange)
    transport = om.get_rpc_transport(conf, url=args.url)

    servers = []
    for topic, endpoint in (("q-plugin", DhcpRpcCallback(state)),
                            ("q-reports-plugin", AgentExtRpcCallback(state))):
        target = om.Target(topic=topic, server=args.server)
        disp = RecordingDispatcher(topic, [endpoint], state)
        srv = rpc_server.RPCServer(transport, target, disp, executor="threading")
        srv.start()
        servers.append(srv)

    client = om.get_rpc_client(transport, om.Target(topic="dhcp_agent", version="1.0"))
    out_lock = threading.Lock()

    def answer(obj):
        with out_lock:
            sys.stdout.write(json.dumps(obj) + "\n")
            sys.stdout.flush()

    answer({"ready": True})
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        try:
            cmd = json.loads(line)
            op = cmd.get("op")
            if op == "quit":
                answer({"ok": True})
                break
            if op == "calls":
                with state.lock:
                    answer({"ok": True, "calls": list(state.calls)})
            elif op == "clear":
                with state.lock:
                    state.calls = []
                answer({"ok": True})
            elif op == "report_replies":
                with state.lock:
                    state.report_replies.extend(cmd["replies"])
                answer({"ok": True})
            elif op == "network":
                state.add_network(cmd["network"])
                answer({"ok": True})
            elif op == "cast":
                cctxt = client.prepare(topic=cmd.get("topic", "dhcp_agent"),
                                       server=cmd.get("host"),
                                       fanout=bool(cmd.get("fanout")))
                cctxt.cast(ADMIN_CONTEXT, cmd["method"], payload=cmd["payload"])
                answer({"ok": True})
            elif op == "call":
                cctxt = client.prepare(topic=cmd["topic"],
                                       server=cmd.get("server"),
                                       version=cmd.get("version", "1.0"),
                                       timeout=cmd.get("timeout", 10))
                try:
                    result = cctxt.call(ADMIN_CONTEXT, cmd["method"],
                                        **cmd.get("args", {}))
                    answer({"ok": True, "result": result})
                except Exception as exc:  # the interop result under test
                    answer({"ok": False, "error": error_dict(exc)})
            else:
                answer({"ok": False, "error": {"message": "unknown op %r" % op}})
        except Exception as exc:
            LOG.exception("command failed")
            answer({"ok": False, "error": error_dict(exc)})

    # A graceful oslo shutdown waits for its polling threads (seconds); the
    # broker drops the connections and consumers of an exiting process anyway.
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
