#!/usr/bin/python3
"""Side-by-side cold sync: neutron's own neutron-dhcp-agent (Debian package,
dnsmasq driver) and qdhcp-agent, each against the same stand-in neutron
server (testdata/oslo/fake_neutron_server.py, the real oslo.messaging over
RabbitMQ) serving the same N networks of P ports, one agent after the
other, with the same configuration file.

Measured per agent, from its start: every network's dnsmasq running and
every VM port reported ready (dhcp_ready_on_ports, as the server records
it), and with --isolated-metadata every network's haproxy running. Prints one JSON line per agent, then one comparing them.

Needs root, OVS with a netdev bridge (scripts/testenv.sh), RabbitMQ and the
neutron-dhcp-agent package (scripts/testenv.sh setup installs them). Run
from the repository root: make bench-neutron [NBENCH_ARGS="--networks 50"].
Everything it makes (bridge, namespaces, processes, state, its RabbitMQ
virtual host) is removed at the end, also after a failure.
"""

import argparse
import glob
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
FAKE_SERVER = os.path.join(REPO, "testdata", "oslo", "fake_neutron_server.py")


def log(msg):
    print("bench-neutron: " + msg, file=sys.stderr, flush=True)


def run(*argv, check=True):
    return subprocess.run(argv, check=check, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True)


def machine_cpu():
    """Busy CPU seconds of the whole machine so far."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + fields[4]
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def proc_cpu(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            rest = f.read().rsplit(")", 1)[1].split()
        return (int(rest[11]) + int(rest[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return 0.0


def vswitchd_pid():
    try:
        with open("/var/run/openvswitch/ovs-vswitchd.pid") as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return 0


def network(run_id, agent_no, i, ports):
    """Network i: one IPv4 DHCP subnet 10.<64+i/256>.<i%256>.0/24, ports
    VM ports from .10. Ids carry the run and the agent's number."""
    nid = "5b%s%02x-%04x-4000-8000-%012x" % (run_id, agent_no, i >> 16, i)
    sid = "5b%s%02x-%04x-4000-8100-%012x" % (run_id, agent_no, i >> 16, i)
    base = "10.%d.%d." % (64 + i // 256, i % 256)
    net = {
        "id": nid, "name": "nbench-%d" % i, "project_id": "bench", "tenant_id": "bench",
        "admin_state_up": True, "mtu": 1450, "non_local_subnets": [],
        "subnets": [{
            "id": sid, "network_id": nid, "name": "bench", "ip_version": 4,
            "cidr": base + "0/24", "gateway_ip": base + "1", "enable_dhcp": True,
            "allocation_pools": [{"start": base + "2", "end": base + "254"}],
            "dns_nameservers": [], "host_routes": [], "ipv6_address_mode": None,
            "ipv6_ra_mode": None, "project_id": "bench", "tenant_id": "bench",
            "subnetpool_id": None, "segment_id": None, "service_types": [],
            "description": "", "shared": False, "tags": [], "revision_number": 0,
            "dns_publish_fixed_ip": False,
        }],
        "ports": [],
    }
    for j in range(ports):
        ip = base + str(10 + j)
        host = "host-" + ip.replace(".", "-")
        net["ports"].append({
            "name": "", "description": "", "dns_name": "",
            "dns_assignment": [{"hostname": host, "ip_address": ip, "fqdn": host + ".openstacklocal."}],
            "binding:host_id": "compute-1", "binding:vif_type": "ovs", "binding:vnic_type": "normal",
            "binding:profile": {}, "binding:vif_details": {}, "security_groups": [], "tags": [],
            "port_security_enabled": True, "ip_allocation": "immediate",
            "qos_policy_id": None, "qos_network_policy_id": None, "propagate_uplink_status": False,
            "resource_request": None,
            "id": "5b%s%02x-%04x-a000-8000-%012x" % (run_id, agent_no, i, j),
            "network_id": nid, "project_id": "bench", "tenant_id": "bench",
            "admin_state_up": True, "status": "ACTIVE",
            "mac_address": "fa:16:3e:%02x:%02x:%02x" % (agent_no, i & 255, j),
            "device_id": "vm-%d-%d" % (i, j), "device_owner": "compute:nova",
            "fixed_ips": [{"subnet_id": sid, "ip_address": ip}],
            "extra_dhcp_opts": [], "allowed_address_pairs": [],
            "revision_number": 1,
        })
    return net


class FakeServer:
    def __init__(self, url, exchange, files, record):
        argv = ["/usr/bin/python3", FAKE_SERVER, "--url", url, "--exchange", exchange,
                "--record", record]
        for f in files:
            argv += ["--network", f]
        self.record = record
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, text=True)
        line = self.proc.stdout.readline()
        if not line or not json.loads(line).get("ready"):
            raise RuntimeError("fake neutron server did not start")

    def calls(self):
        out = []
        try:
            with open(self.record) as f:
                for line in f:
                    try:
                        out.append(json.loads(line))
                    except ValueError:
                        continue  # a line being written
        except OSError:
            pass
        return out

    def ready_ports(self):
        """Port ids reported by dhcp_ready_on_ports so far."""
        ids = set()
        for c in self.calls():
            if c.get("method") == "dhcp_ready_on_ports":
                ids.update(c["args"].get("port_ids") or [])
        return ids

    def sync_start(self):
        """When the agent asked for its networks first (its sync began)."""
        for c in self.calls():
            if c.get("method") == "get_active_networks_info":
                return c.get("time")
        return None

    def stop(self):
        try:
            self.proc.stdin.write('{"op": "quit"}\n')
            self.proc.stdin.flush()
            self.proc.wait(10)
        except Exception:
            self.proc.kill()
            self.proc.wait()


def write_config(path, args, state, host, exchange, bridge):
    with open(path, "w") as f:
        f.write("""[DEFAULT]
host = {host}
state_path = {state}
transport_url = {url}
control_exchange = {exchange}
interface_driver = openvswitch
num_sync_threads = {threads}
enable_isolated_metadata = {metadata}
metadata_proxy_socket = {state}/metadata_proxy
debug = false
use_stderr = false

[agent]
report_interval = 30

[OVS]
integration_bridge = {bridge}
ovsdb_connection = unix:/var/run/openvswitch/db.sock

[oslo_concurrency]
lock_path = $state_path/lock
""".format(host=host, state=state, url=args.url, exchange=exchange,
           threads=args.num_sync_threads, bridge=bridge, metadata=args.isolated_metadata))


def live_pids(pattern, argv0):
    """The pids in the pid files matching pattern whose process runs argv0."""
    pids = []
    for pf in glob.glob(pattern):
        try:
            pid = int(open(pf).read().strip())
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                if f.read().startswith(argv0.encode() + b"\0"):
                    pids.append(pid)
        except (OSError, ValueError):
            pass
    return pids


def dnsmasq_pids(state):
    return live_pids(os.path.join(state, "dhcp", "*", "pid"), "dnsmasq")


def haproxy_pids(state):
    """The metadata proxies of the state dir (pid files in external/pids)."""
    return live_pids(os.path.join(state, "external", "pids", "*.pid.haproxy"), "haproxy")


def teardown(state, ids, bridge):
    """Stop every dnsmasq of the state dir, delete the networks' namespaces
    and the bridge's ports."""
    for pid in dnsmasq_pids(state) + haproxy_pids(state):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    for nid in ids:
        run("ip", "netns", "delete", "qdhcp-" + nid, check=False)
    out = run("ovs-vsctl", "list-ports", bridge, check=False).stdout.split()
    if out:
        argv = ["ovs-vsctl", "--timeout=60"]
        for p in out:
            argv += ["--", "--if-exists", "del-port", bridge, p]
        run(*argv, check=False)


def measure(args, name, argv_for, agent_no, root, bridge, run_id):
    """Runs one agent on N fresh networks; returns its result line."""
    d = os.path.join(root, name)
    state = os.path.join(d, "state")
    os.makedirs(os.path.join(d, "nets"))
    os.makedirs(state)
    nets = [network(run_id, agent_no, i, args.ports) for i in range(args.networks)]
    files = []
    for n in nets:
        p = os.path.join(d, "nets", n["id"] + ".json")
        with open(p, "w") as f:
            json.dump(n, f)
        files.append(p)
    want = {p["id"] for n in nets for p in n["ports"]}
    ids = [n["id"] for n in nets]
    exchange = "nbench%s%d" % (run_id, agent_no)
    conf = os.path.join(d, "agent.conf")
    host = "nbench-%s-%d" % (run_id, agent_no)
    write_config(conf, args, state, host, exchange, bridge)
    server = FakeServer(args.url, exchange, files, os.path.join(d, "calls.jsonl"))
    agent = None
    logf = open(os.path.join(d, "agent.log"), "w")
    try:
        time.sleep(args.settle)
        vsw = vswitchd_pid()
        cpu0, vsw0 = machine_cpu(), proc_cpu(vsw)
        t0 = time.monotonic()
        agent = subprocess.Popen(argv_for(conf, d), stdout=logf, stderr=subprocess.STDOUT,
                                 start_new_session=True)
        deadline = t0 + args.timeout
        while True:
            running = len(dnsmasq_pids(state))
            ready = len(want & server.ready_ports())
            proxies = len(haproxy_pids(state)) if args.isolated_metadata else len(nets)
            if running >= len(nets) and ready >= len(want) and proxies >= len(nets):
                break
            if agent.poll() is not None:
                raise RuntimeError("%s exited with %s (log %s)" % (name, agent.returncode, logf.name))
            if time.monotonic() > deadline:
                raise RuntimeError("%s: after %ds %d/%d dnsmasq running, %d/%d ports ready, %d haproxy (log %s)" % (
                    name, args.timeout, running, len(nets), ready, len(want), proxies, logf.name))
            time.sleep(0.01)
        took = time.monotonic() - t0
        end_wall = time.time()
        sync_start = server.sync_start()
        res = {
            "scenario": "side_by_side", "agent": name, "networks": len(nets),
            "ports_per_network": args.ports, "num_sync_threads": args.num_sync_threads,
            "isolated_metadata": args.isolated_metadata,
            "seconds": round(took, 3), "networks_per_s": round(len(nets) / took, 3),
            "sync_seconds": round(end_wall - sync_start, 3) if sync_start else None,
            "startup_seconds": round(took - (end_wall - sync_start), 3) if sync_start else None,
            "cpu_machine_s": round(machine_cpu() - cpu0, 2),
            "cpu_ovs_vswitchd_s": round(proc_cpu(vsw) - vsw0, 2),
        }
        return res
    finally:
        if agent is not None and agent.poll() is None:
            os.killpg(agent.pid, signal.SIGTERM)
            try:
                agent.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(agent.pid, signal.SIGKILL)
                agent.wait()
        if agent is not None:
            # privsep / rootwrap helpers of neutron's agent
            try:
                os.killpg(agent.pid, signal.SIGKILL)
            except OSError:
                pass
        logf.close()
        server.stop()
        teardown(state, ids, bridge)


def interrupted(signum, frame):
    """SIGTERM cleans up as Ctrl-C does."""
    raise KeyboardInterrupt()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--networks", type=int, default=100)
    ap.add_argument("--ports", type=int, default=10)
    ap.add_argument("--num-sync-threads", type=int, default=4)
    ap.add_argument("--isolated-metadata", action="store_true",
                    help="enable_isolated_metadata = True (as Debian's dhcp_agent.ini has it): a haproxy per network")
    ap.add_argument("--agents", default="neutron-dhcp-agent,qdhcp-agent")
    ap.add_argument("--qdhcp", default=os.path.join(REPO, "bin", "qdhcp-agent"))
    ap.add_argument("--broker", default="guest:guest@127.0.0.1:5672",
                    help="RabbitMQ; the run uses a virtual host of its own, deleted at the end")
    ap.add_argument("--state-dir", default="/var/tmp/qdhcp-nbench")
    ap.add_argument("--settle", type=float, default=2.0,
                    help="pause before each agent starts (the kernel finishes earlier teardowns)")
    ap.add_argument("--timeout", type=int, default=600)
    ap.add_argument("--keep", action="store_true", help="keep state dirs and logs")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench-neutron: needs root")
    if not (1 <= args.networks <= 4096 and 0 <= args.ports <= 240):
        sys.exit("bench-neutron: --networks 1..4096, --ports 0..240")

    argvs = {
        "neutron-dhcp-agent": lambda conf, d: [
            shutil.which("neutron-dhcp-agent") or "neutron-dhcp-agent",
            "--config-file", conf, "--log-file", os.path.join(d, "neutron.log")],
        "qdhcp-agent": lambda conf, d: [args.qdhcp, "run", "--config-file", conf],
    }
    agents = [a.strip() for a in args.agents.split(",") if a.strip()]
    for a in agents:
        if a not in argvs:
            sys.exit("bench-neutron: unknown agent %r" % a)
    if "neutron-dhcp-agent" in agents and not shutil.which("neutron-dhcp-agent"):
        sys.exit("bench-neutron: neutron-dhcp-agent is not installed (scripts/testenv.sh setup)")

    signal.signal(signal.SIGTERM, interrupted)
    run_id = secrets.token_hex(2)
    bridge = "br-nb" + run_id
    root = os.path.join(args.state_dir, run_id)
    os.makedirs(root)
    vhost = "qdhcp-nbench-" + run_id
    run("rabbitmqctl", "-q", "add_vhost", vhost)
    args.url = "rabbit://%s/%s" % (args.broker, vhost)
    results = []
    try:
        run("rabbitmqctl", "-q", "set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
        run("ovs-vsctl", "--may-exist", "add-br", bridge, "--", "set", "bridge", bridge,
            "datapath_type=netdev")
        for n, a in enumerate(agents):
            log("%s: %d networks x %d ports" % (a, args.networks, args.ports))
            r = measure(args, a, argvs[a], n + 1, root, bridge, run_id)
            print(json.dumps(r), flush=True)
            results.append(r)
        by = {r["agent"]: r for r in results}
        if "neutron-dhcp-agent" in by and "qdhcp-agent" in by:
            print(json.dumps({
                "scenario": "side_by_side_ratio",
                "neutron_over_qdhcp": round(by["neutron-dhcp-agent"]["seconds"] / by["qdhcp-agent"]["seconds"], 2),
                "cpu_neutron_over_qdhcp": round(by["neutron-dhcp-agent"]["cpu_machine_s"] / max(by["qdhcp-agent"]["cpu_machine_s"], 0.01), 2),
            }), flush=True)
    finally:
        run("ovs-vsctl", "--if-exists", "del-br", bridge, check=False)
        run("rabbitmqctl", "-q", "delete_vhost", vhost, check=False)
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
        else:
            log("kept " + root)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        log("interrupted, cleaned up")
        sys.exit(130)
    except RuntimeError as e:
        log(str(e))
        sys.exit(1)
