#!/usr/bin/env python3
"""Data-plane benchmark: iperf3 TCP between lab VMs, Linux bridge and Open vSwitch, on one host
and across two hosts over VXLAN, each against raw veth measured in the same run.

    .venv/bin/python bench/dataplane.py              # 3 rounds of 5 s per path (~3 min)
    .venv/bin/python bench/dataplane.py --seconds 2 --rounds 1     # smoke run

Starts a private server (SQLite, a free 127.0.0.1 port), four lab hosts (trunkline.lab.host:
lb1, lb2 with the Linux bridge agent, ov1, ov2 with Open vSwitch, userspace datapath) and lab
VMs with static addresses on one VXLAN network per driver, plus two baselines built here: a
raw veth pair between two namespaces, and a bare OVS bridge (`NORMAL`, same netdev datapath,
same veth VMs with `tx off`) in a namespace of its own. Paths are measured round-robin (so
noise hits them alike), one TCP stream each; the median of the rounds is reported and divided
by raw veth's. Targets (issue 5): Linux bridge ≥ 90 % of raw veth on one host, ≥ 65 % across
hosts; the OVS path at least as fast as the bare OVS bridge (≥ 0.95×, the run-to-run noise).

Prints a table and, LAST, one JSON line. A benchmark, not a test: nothing asserts; a path that
fails is reported with its error. Everything made here is removed at the end (lab hosts, VMs,
namespaces, the private OVS, the server), also on failure; processes are ended by PID.
"""
import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
import traceback
import urllib.request
import uuid

from trunkline.agent import netns as nsutil
from trunkline.agent.ovs import daemon
from trunkline.lab import host as labhost
from trunkline.lab import vm as labvm
from trunkline.stack import free_port

MTU = 1450
TRUNKLINE = os.path.join(os.path.dirname(sys.executable), "trunkline")


def log(*args):
    print(*args, file=sys.stderr, flush=True)


class Bench:
    def __init__(self, seconds):
        self.seconds = seconds
        self.tag = uuid.uuid4().hex[:6]
        self.root = "/run/tldp-" + self.tag
        os.makedirs(self.root)
        os.chmod(self.root, 0o755)
        self.lab_dir = os.path.join(self.root, "lab")
        self.namespaces, self.procs, self.ovs = [], [], None
        self.server = None
        self.paths = {}          # name -> (client netns, server ip)

    # -- the server and the API ---------------------------------------------------------------
    def start_server(self):
        port = free_port()
        self.url = "http://127.0.0.1:%d" % port
        self.server = subprocess.Popen(
            [TRUNKLINE, "server", "--bind", "127.0.0.1:%d" % port, "--db",
             "sqlite:///" + os.path.join(self.root, "tl.db")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 20
        while True:
            try:
                urllib.request.urlopen(self.url + "/", timeout=1)
                return
            except OSError:
                if time.monotonic() > deadline or self.server.poll() is not None:
                    raise RuntimeError("the server did not start")
                time.sleep(0.05)

    def api(self, method, path, body=None):
        req = urllib.request.Request(self.url + "/v2.0" + path, method=method,
                                     data=json.dumps(body).encode() if body else None,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as r:
            raw = r.read()
        return json.loads(raw) if raw else None

    def wait_active(self, port_id, timeout=60):
        deadline = time.monotonic() + timeout
        while self.api("GET", "/ports/" + port_id)["port"]["status"] != "ACTIVE":
            if time.monotonic() > deadline:
                raise RuntimeError("port %s not ACTIVE after %d s" % (port_id, timeout))
            time.sleep(0.1)

    # -- setups -------------------------------------------------------------------------------
    def ns(self, name):
        full = "tldp%s-%s" % (self.tag, name)
        nsutil.add(full)
        self.namespaces.append(full)
        return full

    def raw_veth(self):
        a, b = self.ns("ra"), self.ns("rb")
        nsutil.ip(["link", "add", "eth0", "mtu", str(MTU), "type", "veth", "peer", "name",
                   "eth0", "netns", b, "mtu", str(MTU)], netns=a)
        nsutil.ip_batch(["addr add 10.99.0.1/24 dev eth0", "link set eth0 up"], netns=a)
        nsutil.ip_batch(["addr add 10.99.0.2/24 dev eth0", "link set eth0 up"], netns=b)
        self.paths["raw veth"] = (a, "10.99.0.2")

    def bare_ovs(self):
        sw = self.ns("sw")
        self.ovs = daemon.start(os.path.join(self.root, "ovs"), netns=sw,
                                system_id="tldp" + self.tag)
        self.ovs.vsctl("add-br", "br0", "--", "set", "Bridge", "br0", "datapath_type=netdev")
        vms = []
        for i in (1, 2):
            vm = self.ns("o%d" % i)
            tap = "tapo%d" % i
            nsutil.ip(["link", "add", tap, "mtu", str(MTU), "type", "veth", "peer", "name",
                       "eth0", "netns", vm, "mtu", str(MTU)], netns=sw)
            nsutil.ip_batch(["addr add 10.98.0.%d/24 dev eth0" % i, "link set eth0 up"],
                            netns=vm)
            nsutil.run(["ethtool", "-K", "eth0", "tx", "off"], netns=vm)   # as the lab does
            nsutil.ip(["link", "set", tap, "up"], netns=sw)
            self.ovs.vsctl("add-port", "br0", tap)
            vms.append(vm)
        self.paths["bare OVS NORMAL"] = (vms[0], "10.98.0.2")

    def lab(self):
        for name, driver in (("lb1", "linuxbridge"), ("lb2", "linuxbridge"),
                             ("ov1", "ovs"), ("ov2", "ovs")):
            log("lab host %s (%s)" % (name, driver))
            labhost.add_host(name, driver=driver, endpoint=self.url, state_dir=self.lab_dir)
        for driver, hosts, cidr in (("Linux bridge", ("lb1", "lb1", "lb2"), "10.97.0"),
                                    ("OVS", ("ov1", "ov1", "ov2"), "10.96.0")):
            net = self.api("POST", "/networks", {"network": {
                "name": driver, "provider:network_type": "vxlan"}})["network"]
            sub = self.api("POST", "/subnets", {"subnet": {
                "network_id": net["id"], "cidr": cidr + ".0/24", "ip_version": 4,
                "enable_dhcp": False}})["subnet"]
            vms = []
            for i, host in enumerate(hosts):
                port = self.api("POST", "/ports", {"port": {
                    "network_id": net["id"], "fixed_ips": [
                        {"subnet_id": sub["id"], "ip_address": "%s.%d" % (cidr, 10 + i)}]}})
                port = port["port"]
                name = "tldp%s-%s%d" % (self.tag, host, i)
                vm = labvm.create_vm(self.url, name, port["id"], host=host,
                                     state_dir=self.lab_dir)
                labvm.exec_vm(name, ["ip", "addr", "add", "%s.%d/24" % (cidr, 10 + i), "dev",
                                     "eth0"], state_dir=self.lab_dir, check=True)
                self.wait_active(port["id"])
                vms.append(vm["vm_netns"])
            self.paths["%s same host" % driver] = (vms[0], "%s.11" % cidr)
            self.paths["%s across hosts" % driver] = (vms[0], "%s.12" % cidr)

    # -- measuring ----------------------------------------------------------------------------
    def iperf(self, client_ns, server_ip):
        server_ns = self.server_ns[server_ip]
        srv = subprocess.Popen(["ip", "netns", "exec", server_ns, "iperf3", "-s", "-1",
                                "-B", server_ip], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            time.sleep(0.3)
            r = subprocess.run(["ip", "netns", "exec", client_ns, "iperf3", "-J", "-c",
                                server_ip, "-t", str(self.seconds)], capture_output=True,
                               text=True, timeout=self.seconds + 30)
            data = json.loads(r.stdout)
            if "error" in data:
                raise RuntimeError(data["error"])
            return data["end"]["sum_received"]["bits_per_second"] / 1e9
        finally:
            if srv.poll() is None:
                os.killpg(srv.pid, signal.SIGTERM)
            srv.wait(5)

    def map_servers(self):
        """Which namespace holds each server address."""
        self.server_ns = {}
        names = self.namespaces + [v["vm_netns"] for v in labvm.list_vms(self.lab_dir)]
        for ns in names:
            for a in nsutil.addresses("eth0", ns):
                self.server_ns[a.split("/")[0]] = ns

    # -- cleanup ------------------------------------------------------------------------------
    def close(self):
        for step in (lambda: labvm.down(self.url, state_dir=self.lab_dir),
                     lambda: labhost.down(self.lab_dir),
                     lambda: self.ovs and self.ovs.stop()):
            try:
                step()
            except Exception as e:
                log("cleanup: %s" % e)
        for ns in reversed(self.namespaces):
            nsutil.delete(ns)
        if self.server is not None and self.server.poll() is None:
            os.killpg(self.server.pid, signal.SIGTERM)
            self.server.wait(10)
        shutil.rmtree(self.root, ignore_errors=True)


TARGETS = {     # path -> (baseline, minimum ratio)
    "Linux bridge same host": ("raw veth", 0.90),
    "Linux bridge across hosts": ("raw veth", 0.65),
    "OVS same host": ("bare OVS NORMAL", 0.95),
}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=int, default=5, help="iperf3 duration (default 5)")
    ap.add_argument("--rounds", type=int, default=3, help="rounds per path (default 3)")
    args = ap.parse_args()
    if os.geteuid() != 0 or not shutil.which("iperf3"):
        sys.exit("bench/dataplane.py needs root and iperf3 (scripts/install.sh installs it)")
    t0 = time.monotonic()
    b = Bench(args.seconds)
    results, errors = {}, {}
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    try:
        b.start_server()
        b.raw_veth()
        b.bare_ovs()
        b.lab()
        b.map_servers()
        for r in range(args.rounds):
            for path, (client, ip) in b.paths.items():
                try:
                    gbps = b.iperf(client, ip)
                    results.setdefault(path, []).append(gbps)
                    log("round %d %-28s %.2f Gbit/s" % (r + 1, path, gbps))
                except Exception as e:
                    errors[path] = "%s: %s" % (type(e).__name__, e)
                    log("round %d %-28s FAILED %s" % (r + 1, path, errors[path]))
    except Exception:
        traceback.print_exc()
    finally:
        b.close()
    med = {p: statistics.median(v) for p, v in results.items()}
    raw = med.get("raw veth")
    print("%-28s %10s %9s %14s %8s" % ("path", "Gbit/s", "vs veth", "target", "status"))
    print("-" * 74)
    statuses = {}
    for path in b.paths:
        g = med.get(path)
        ratio = g / raw if g is not None and raw else None
        target, status = "", ""
        if path in TARGETS and g is not None:
            base, minimum = TARGETS[path]
            have = g / med[base] if med.get(base) else None
            target = ">= %.2fx %s" % (minimum, "veth" if base == "raw veth" else "bare")
            status = "PASS" if have is not None and have >= minimum else "FAIL"
            statuses[path] = status
        print("%-28s %10s %9s %14s %8s" % (
            path, "%.2f" % g if g is not None else "error",
            "%.0f %%" % (ratio * 100) if ratio is not None else "", target, status))
    if med.get("OVS same host") and med.get("bare OVS NORMAL"):
        print("OVS same host / bare OVS NORMAL: %.2fx"
              % (med["OVS same host"] / med["bare OVS NORMAL"]))
    print(json.dumps({"gbps_median": {p: round(g, 3) for p, g in med.items()},
                      "ratio_to_veth": {p: round(g / raw, 3) for p, g in med.items()}
                      if raw else {},
                      "runs": results, "targets": statuses, "errors": errors,
                      "seconds": args.seconds, "rounds": args.rounds,
                      "wall_s": round(time.monotonic() - t0, 1)}))


if __name__ == "__main__":
    main()
