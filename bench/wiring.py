#!/usr/bin/env python3
"""Wiring benchmark: how fast the agent path turns API changes into a working dataplane.

    .venv/bin/python bench/wiring.py            # 1, 50, 500 and 4094 subports (~1.5 min)
    .venv/bin/python bench/wiring.py --quick    # 1, 50 and 500 subports (~40 s)

Runs on an isolated Stack (trunkline.stack: a private server, a private Open vSwitch in a
network namespace of its own, one agent with DHCP) and a lab VM (trunkline.lab.vm) plugged on a
trunk parent, like Nova + os-vif would.  Phases (bench/README.md):

* stack ready: ``Stack.start`` wall time (what ``trunkline up`` does, with a private OVS);
* DHCP: from ``POST /v2.0/ports`` until dnsmasq OFFERs that port's address: a probe in the VM
  sends DHCPDISCOVERs with the new port's MAC as chaddr every 10 ms from the moment the POST
  answers; also when the MAC shows up in the agent's dnsmasq host file;
* subports N (1, 50, 500, 4094): from the ``PUT .../add_subports`` call until every subport
  is ACTIVE in the API (polled) and until the guest's VLAN N device gets an ARP reply from its
  network's DHCP port (a raw-socket probe in the VM, one request every 10 ms; the guest VLAN
  device is created before the call, as a guest configured in advance would have it);
* ``trunkline demo``: its wall time (a separate run, after this stack is stopped);
* with ``--qemu``: a QEMU guest (``lab vm create --qemu``) on a new port of the parent's
  network: create call -> the guest's shell answers, then ``dhclient eth0`` -> the lease.

Prints a table with PASS/FAIL per target; the LAST line of stdout is one JSON object.  Progress
goes to stderr.  A benchmark, not a test: it never asserts; a phase that fails is reported with
its error.  Everything it creates (stack, namespaces, VM, probes) is removed at the end, also
on failure or SIGTERM; processes are ended by PID.
"""
import argparse
import json
import os
import select
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from api import Http, log  # noqa: E402  (bench/api.py: keep-alive JSON client, stderr log)

from trunkline.agent import vlan as vlan_mod  # noqa: E402
from trunkline.lab import vm as vm_mod  # noqa: E402
from trunkline.stack import Stack  # noqa: E402

VENV_BIN = os.path.dirname(sys.executable)
TARGETS = {"subports_4094_s": 10.0, "dhcp_lease_s": 0.5, "demo_s": 15.0}
NETS = 4                       # subport networks (each a /20: 1023+ ports on each at 4094)
VM = "wbench"

# A probe run inside the VM's namespace (python3 -c): ARP or DHCP over raw sockets, times in
# CLOCK_MONOTONIC (shared with the bench process: time.monotonic()).
PROBE = r'''
import os, random, select, socket, struct, sys, time

def mac_b(m): return bytes(int(x, 16) for x in m.split(":"))
def ip_b(a): return socket.inet_aton(a)

def arp(dev, mac, ip, target, timeout):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0806))
    s.bind((dev, 0x0806))
    frame = (b"\xff" * 6 + mac_b(mac) + b"\x08\x06" +
             struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + mac_b(mac) + ip_b(ip) +
             b"\x00" * 6 + ip_b(target))
    print("ready", flush=True)
    want = ip_b(target)
    end = time.monotonic() + timeout
    nxt = 0.0
    while time.monotonic() < end:
        now = time.monotonic()
        if now >= nxt:
            s.send(frame)
            nxt = now + 0.01
        r, _, _ = select.select([s], [], [], max(0.0, nxt - time.monotonic()))
        if r:
            data = s.recv(2048)
            if len(data) >= 42 and data[12:14] == b"\x08\x06" and data[20:22] == b"\x00\x02" \
                    and data[28:32] == want:
                print("reply %.6f" % time.monotonic(), flush=True)
                return
    print("timeout", flush=True)

def csum(b):
    if len(b) % 2: b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return (~s) & 0xffff

def discover(src_mac, chaddr, xid):
    bootp = struct.pack("!BBBBIHH4s4s4s4s16s64s128s", 1, 1, 6, 0, xid, 0, 0x8000,
                        b"\0" * 4, b"\0" * 4, b"\0" * 4, b"\0" * 4,
                        mac_b(chaddr) + b"\0" * 10, b"\0" * 64, b"\0" * 128)
    opts = b"\x63\x82\x53\x63" + b"\x35\x01\x01" + b"\x37\x03\x01\x03\x06" + b"\xff"
    payload = bootp + opts
    udp = struct.pack("!HHHH", 68, 67, 8 + len(payload), 0) + payload
    iph = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0,
                      b"\0" * 4, b"\xff" * 4)
    iph = iph[:10] + struct.pack("!H", csum(iph)) + iph[12:]
    return b"\xff" * 6 + mac_b(src_mac) + b"\x08\x00" + iph + udp

def dhcp(dev, src_mac, timeout):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800))
    s.bind((dev, 0x0800))
    print("ready", flush=True)
    for line in sys.stdin:
        chaddr = line.strip()
        if not chaddr:
            continue
        xid = random.getrandbits(32)
        frame = discover(src_mac, chaddr, xid)
        end = time.monotonic() + timeout
        nxt, got = 0.0, None
        while got is None and time.monotonic() < end:
            now = time.monotonic()
            if now >= nxt:
                s.send(frame)
                nxt = now + 0.01
            r, _, _ = select.select([s], [], [], max(0.0, nxt - time.monotonic()))
            if not r:
                continue
            d = s.recv(4096)
            if len(d) < 14 + 20 + 8 + 240 or d[23] != 17:
                continue
            ihl = (d[14] & 0x0f) * 4
            u = 14 + ihl
            if struct.unpack("!H", d[u + 2:u + 4])[0] != 68:
                continue
            b = u + 8
            if d[b] != 2 or struct.unpack("!I", d[b + 4:b + 8])[0] != xid:
                continue
            o = b + 240
            while o < len(d) and d[o] != 255:
                if d[o] == 0:
                    o += 1
                    continue
                if d[o] == 53 and d[o + 2] == 2:
                    got = time.monotonic()
                    break
                o += 2 + d[o + 1]
        print(("offer %.6f %s" % (got, socket.inet_ntoa(d[b + 16:b + 20]))) if got
              else "timeout", flush=True)

if sys.argv[1] == "arp":
    arp(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], float(sys.argv[6]))
else:
    dhcp(sys.argv[2], sys.argv[3], float(sys.argv[4]))
'''


class Probe:
    """The probe above, in VM namespace NETNS; ended by PID."""

    def __init__(self, netns, *args):
        self.proc = subprocess.Popen(["ip", "netns", "exec", netns, sys.executable, "-c", PROBE]
                                     + [str(a) for a in args], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.line(10)
        if line != "ready":
            raise RuntimeError("probe did not start: %r %s" % (line, self.proc.stderr.read()
                                                                if self.proc.poll() is not None
                                                                else ""))

    def line(self, timeout):
        r, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not r:
            return None
        return self.proc.stdout.readline().strip()

    def send(self, text):
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def pct(values, p):
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))] if v else None


class Bench:
    def __init__(self, args):
        self.args = args
        self.tmp = tempfile.mkdtemp(prefix="trunkline-wbench-")
        os.chmod(self.tmp, 0o755)      # dnsmasq (user nobody) reads the agent's files below it
        self.lab = os.path.join(self.tmp, "lab")
        # one add_subports call with 4094 subports is ~390 kB: above Neutron's default body limit
        self.stack = Stack(os.path.join(self.tmp, "stack"), isolated=True,
                           log=lambda line: log("stack: " + line), server_args=["--max-request-body-size", str(4 * 1024 * 1024),
                                        "--quota-port", "-1"])
        self.api = None
        self.probes = []
        self.res = {}

    # -- helpers -------------------------------------------------------------------------
    def call(self, method, path, body=None):
        return self.api.call(method, "/v2.0" + path, body)

    def wait(self, what, probe, timeout, interval=0.05):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            v = probe()
            if v:
                return v
            time.sleep(interval)
        raise RuntimeError("timed out after %g s waiting for %s" % (timeout, what))

    def network(self, name, cidr):
        net = self.call("POST", "/networks", {"network": {"name": name}})["network"]
        sub = self.call("POST", "/subnets", {"subnet": {
            "network_id": net["id"], "cidr": cidr, "ip_version": 4, "name": name + "-sub"}})
        return net, sub["subnet"]

    def dhcp_port(self, net_id, timeout=30):
        def find():
            ports = self.call("GET", "/ports?device_owner=network:dhcp&network_id=" + net_id)
            return ports["ports"][0] if ports["ports"] else None
        return self.wait("the DHCP port of %s" % net_id, find, timeout)

    def probe(self, *args):
        p = Probe(vm_mod.netns_name(VM), *args)
        self.probes.append(p)
        return p

    # -- phases --------------------------------------------------------------------------
    def run(self):
        t = time.monotonic()
        self.stack.start()
        self.res["stack_ready_s"] = round(time.monotonic() - t, 3)
        self.api = Http(self.stack.url, "b2a5f8c4d1e94a7f8a3c6e0d9b1f2a4c")
        self.setup()
        self.phase("dhcp", self.dhcp)
        for n in self.args.sizes:
            self.phase("subports_%d" % n, lambda n=n: self.subports(n))
        if self.args.qemu:
            self.phase("qemu", self.qemu)

    def phase(self, key, fn):
        t = time.monotonic()
        try:
            fn()
        except Exception as e:
            log("phase %s failed: %s" % (key, e))
            traceback.print_exc(file=sys.stderr)
            self.res.setdefault("errors", {})[key] = "%s: %s" % (type(e).__name__, e)
        log("phase %s: %.1f s" % (key, time.monotonic() - t))

    def setup(self):
        total = max(self.args.sizes)
        log("setup: networks, %d ports (bulk POST), trunk, VM" % total)
        self.pnet, _ = self.network("wb-parent", "10.90.0.0/22")
        self.nets = [self.network("wb-net%d" % i, "10.%d.0.0/20" % (100 + i))[0]
                     for i in range(NETS)]
        self.parent = self.call("POST", "/ports", {"port": {
            "network_id": self.pnet["id"], "name": "wb-parent"}})["port"]
        # the subport each phase probes (segmentation id N) sits on a small network of its own:
        # the probe's ARP broadcasts (100/s) would otherwise flood to the ~N/4 other subports of
        # its network, all of which lead back into the same VM through the trunk
        self.probe_net, _ = self.network("wb-probe", "10.91.0.0/24")
        probed = {n - 1 for n in self.args.sizes}
        self.pool = []
        t = time.monotonic()
        for start in range(0, total, 500):
            body = [{"network_id": (self.probe_net if i in probed else self.nets[i % NETS])["id"],
                     "name": "wb-sp%d" % (i + 1)}
                    for i in range(start, min(total, start + 500))]
            self.pool += self.call("POST", "/ports", {"ports": body})["ports"]
        self.res["bulk_ports_s"] = round(time.monotonic() - t, 2)
        self.trunk = self.call("POST", "/trunks", {"trunk": {
            "port_id": self.parent["id"], "name": "wb-trunk"}})["trunk"]
        vm_mod.create_vm(self.stack.url, VM, self.parent["id"], state_dir=self.lab)
        self.wait("the trunk ACTIVE", lambda: self.trunk_status() == "ACTIVE", 30)
        self.dhcp_ips = {}
        for net in [self.pnet, self.probe_net] + self.nets:
            self.dhcp_ips[net["id"]] = self.dhcp_port(net["id"])["fixed_ips"][0]["ip_address"]
        # let the agent finish the passes the setup caused (DHCP host files of every port)
        self.settle()

    def settle(self, quiet=1.0, timeout=60):
        """Wait until the agent's log has been quiet... we have no log: wait until the host
        state revision stops moving and one more watch round would return nothing."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            st = self.api.call("GET", "/agent/v1/hosts/%s/state" % self.stack.host)
            if st["revision"] == last:
                return
            last = st["revision"]
            time.sleep(quiet)

    def trunk_status(self):
        return self.call("GET", "/trunks/" + self.trunk["id"])["trunk"]["status"]

    def dhcp(self):
        samples = self.args.dhcp_samples
        vm = vm_mod.LabState(self.lab).vm(VM)
        p = self.probe("dhcp", "eth0", vm["mac"], 5)
        host_file = os.path.join(self.stack.state_dir, "agent", "dhcp", self.pnet["id"], "host")
        offers, files = [], []
        made = []
        try:
            for i in range(samples):
                time.sleep(0.3)
                t0 = time.monotonic()
                port = self.call("POST", "/ports", {"port": {
                    "network_id": self.pnet["id"], "name": "wb-dhcp%d" % i}})["port"]
                made.append(port["id"])
                mac = port["mac_address"]
                p.send(mac)
                seen = [None]

                def watch_file():
                    end = time.monotonic() + 5
                    while time.monotonic() < end:
                        try:
                            with open(host_file) as f:
                                if mac in f.read():
                                    seen[0] = time.monotonic()
                                    return
                        except OSError:
                            pass
                        time.sleep(0.002)
                w = threading.Thread(target=watch_file, daemon=True)
                w.start()
                line = p.line(10) or "timeout"
                w.join(6)
                if not line.startswith("offer"):
                    raise RuntimeError("no DHCPOFFER for %s within 5 s" % mac)
                offers.append(float(line.split()[1]) - t0)
                if seen[0]:
                    files.append(seen[0] - t0)
                want = port["fixed_ips"][0]["ip_address"]
                if line.split()[2] != want:
                    raise RuntimeError("offered %s, the port has %s" % (line.split()[2], want))
        finally:
            for pid in made:
                self.api.call("DELETE", "/v2.0/ports/" + pid, expect=(204, 404))
        self.res["dhcp"] = {
            "samples": len(offers), "offer_p50_s": round(statistics.median(offers), 3),
            "offer_max_s": round(max(offers), 3),
            "hostfile_p50_s": round(statistics.median(files), 3) if files else None,
            "hostfile_max_s": round(max(files), 3) if files else None}

    def subports(self, n):
        ports = self.pool[:n]
        last = ports[-1]
        ip = last["fixed_ips"][0]["ip_address"]
        target = self.dhcp_ips[last["network_id"]]
        dev = "eth0.%d" % n
        vm_mod.add_vm_vlan(VM, n, mac=last["mac_address"], state_dir=self.lab)
        probe = self.probe("arp", dev, last["mac_address"], ip, target, 60)
        subs = [{"port_id": p["id"], "segmentation_type": "vlan", "segmentation_id": i + 1}
                for i, p in enumerate(ports)]
        ids = {p["id"] for p in ports}
        stale = self.call("GET", "/ports?fields=id&status=ACTIVE&device_owner=trunk:subport")
        if ids & {p["id"] for p in stale["ports"]}:
            raise RuntimeError("subports still ACTIVE from an earlier phase")
        try:
            t0 = time.monotonic()
            self.call("PUT", "/trunks/%s/add_subports" % self.trunk["id"], {"sub_ports": subs})
            t_api = time.monotonic() - t0
            t_active, polls = None, 0
            deadline = t0 + 60
            while time.monotonic() < deadline:
                tq = time.monotonic()
                q = self.call("GET", "/ports?fields=id&status=ACTIVE&device_owner=trunk:subport")
                polls += 1
                if sum(1 for p in q["ports"] if p["id"] in ids) >= n:
                    t_active = time.monotonic() - t0
                    break
                # poll often, but leave the server (and the agent's reports) most of a CPU
                time.sleep(max(0.01, 2 * (time.monotonic() - tq)))
            line = probe.line(max(1.0, deadline - time.monotonic())) or "timeout"
            t_arp = float(line.split()[1]) - t0 if line.startswith("reply") else None
            self.res["subports_%d" % n] = {
                "api_s": round(t_api, 3),
                "all_active_s": round(t_active, 3) if t_active is not None else None,
                "arp_s": round(t_arp, 3) if t_arp is not None else None,
                "wired_s": round(max(t_active, t_arp), 3) if t_active and t_arp else None,
                "status_polls": polls, "trunk": self.trunk_status()}
            if t_active is None or t_arp is None:
                raise RuntimeError("subports %d: %s" % (n, "not all ACTIVE in 60 s"
                                                        if t_active is None else
                                                        "no ARP reply on VLAN %d" % n))
        finally:
            probe.stop()
            vlan_mod.del_vlan(vm_mod.netns_name(VM), dev)
            if n == self.args.sizes[-1]:
                # the last phase: the stack goes anyway (ovs-vswitchd deletes patch ports in
                # quadratic time: ~2 s for 1000 subports, over a minute for 4094)
                return
            t = time.monotonic()
            self.call("PUT", "/trunks/%s/remove_subports" % self.trunk["id"],
                      {"sub_ports": [{"port_id": p["id"]} for p in ports]})
            self.wait("the trunk back to ACTIVE without subports", lambda: (
                self.trunk_status() == "ACTIVE"
                and not self.call("GET", "/ports?fields=id&status=ACTIVE&device_owner="
                                         "trunk:subport")["ports"]), 90, 0.1)
            self.settle(quiet=0.5)
            log("subports %d removed in %.1f s" % (n, time.monotonic() - t))

    def qemu(self):
        port = self.call("POST", "/ports", {"port": {"network_id": self.pnet["id"],
                                                     "name": "wb-qemu"}})["port"]
        t = time.monotonic()
        rec = vm_mod.create_vm(self.stack.url, VM + "-q", port["id"], state_dir=self.lab,
                               use_qemu=True)
        booted = time.monotonic()
        for argv in (["ip", "link", "set", "eth0", "up"], ["dhclient", "eth0"]):
            r = vm_mod.exec_vm(VM + "-q", argv, state_dir=self.lab, capture_output=True,
                               text=True, timeout=60)
            if r.returncode:
                raise RuntimeError("%s: %s" % (" ".join(argv), r.stdout[-300:]))
        leased = time.monotonic()
        self.res["qemu"] = {"accel": rec["accel"], "boot_s": round(booted - t, 2),
                            "lease_s": round(leased - booted, 2),
                            "boot_to_lease_s": round(leased - t, 2)}
        vm_mod.delete_vm(VM + "-q", self.stack.url, state_dir=self.lab)

    def cleanup(self):
        for p in self.probes:
            p.stop()
        try:
            vm_mod.down(self.stack.url, state_dir=self.lab)
        except Exception as e:
            log("lab down: %s" % e)
        if self.api is not None:
            self.api.close()
        self.stack.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)


def demo_wall():
    t = time.monotonic()
    r = subprocess.run([os.path.join(VENV_BIN, "trunkline"), "demo"], capture_output=True,
                       text=True, timeout=300)
    wall = time.monotonic() - t
    if r.returncode:
        raise RuntimeError("trunkline demo failed (%d): %s" % (r.returncode,
                                                               (r.stderr or r.stdout)[-500:]))
    return round(wall, 2)


def _status(value, limit):
    if value is None:
        return "FAIL"
    return "PASS" if value < limit else "FAIL"


def report(res):
    rows, status = [], {}

    def fmt(v, unit="s"):
        return "-" if v is None else ("%.3f %s" % (v, unit) if isinstance(v, float) else str(v))

    rows.append(("stack ready (Stack.start, isolated)", fmt(res.get("stack_ready_s")), "", ""))
    d = res.get("dhcp") or {}
    rows.append(("DHCP: port create -> MAC in host file, p50/max",
                 "%s / %s" % (fmt(d.get("hostfile_p50_s")), fmt(d.get("hostfile_max_s"))),
                 "", ""))
    status["dhcp_lease"] = _status(d.get("offer_max_s"), TARGETS["dhcp_lease_s"])
    rows.append(("DHCP: port create -> dnsmasq OFFER, p50/max (n=%s)" % d.get("samples", 0),
                 "%s / %s" % (fmt(d.get("offer_p50_s")), fmt(d.get("offer_max_s"))),
                 "max < %g s" % TARGETS["dhcp_lease_s"], status["dhcp_lease"]))
    for key in sorted((k for k in res if k.startswith("subports_")),
                      key=lambda k: int(k.split("_")[1])):
        n = int(key.split("_")[1])
        s = res[key]
        target, st = "", ""
        if n == 4094:
            st = status["subports_4094"] = _status(s.get("wired_s"), TARGETS["subports_4094_s"])
            target = "< %g s" % TARGETS["subports_4094_s"]
        rows.append(("subports %d: add_subports call" % n, fmt(s.get("api_s")), "", ""))
        rows.append(("subports %d: -> all ACTIVE (API)" % n, fmt(s.get("all_active_s")), "", ""))
        rows.append(("subports %d: -> ARP reply on VLAN %d" % (n, n), fmt(s.get("arp_s")), "",
                     ""))
        rows.append(("subports %d: wired (both)" % n, fmt(s.get("wired_s")), target, st))
    for key in (res.get("errors") or {}):
        if key.startswith("subports_4094") and "subports_4094" not in status:
            status["subports_4094"] = "FAIL"
        if key == "dhcp":
            status["dhcp_lease"] = "FAIL"
    q = res.get("qemu")
    if q:
        rows.append(("QEMU guest (%s): create -> shell answers" % q["accel"],
                     fmt(float(q["boot_s"])), "", ""))
        rows.append(("QEMU guest: create -> first lease (eth0)", fmt(float(q["boot_to_lease_s"])),
                     "", ""))
    if "demo_s" in res or "demo" in (res.get("errors") or {}):
        status["demo"] = _status(res.get("demo_s"), TARGETS["demo_s"])
        rows.append(("trunkline demo wall time", fmt(res.get("demo_s")),
                     "< %g s" % TARGETS["demo_s"], status["demo"]))
    return rows, status


def print_table(rows):
    head = ("metric", "value", "target", "status")
    widths = [max(len(str(r[i])) for r in rows + [head]) for i in range(4)]
    line = "  ".join("%-*s" % (w, h) for w, h in zip(widths, head))
    print(line)
    print("-" * len(line))
    for r in rows:
        print("  ".join(("%*s" if i == 1 else "%-*s") % (widths[i], r[i])
                        for i in range(4)).rstrip())


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="1, 50 and 500 subports (no 4094)")
    p.add_argument("--sizes", default=None,
                   help="comma-separated subport counts (default 1,50,500,4094; quick 1,50,500)")
    p.add_argument("--dhcp-samples", type=int, default=None,
                   help="ports created for the DHCP phase (default 10, quick 5)")
    p.add_argument("--no-demo", action="store_true", help="skip the trunkline demo timing")
    p.add_argument("--qemu", action="store_true",
                   help="also time a QEMU guest: boot -> shell, boot -> first lease")
    args = p.parse_args(argv)
    sizes = args.sizes or ("1,50,500" if args.quick else "1,50,500,4094")
    args.sizes = [int(x) for x in sizes.split(",") if x.strip()]
    if any(not 1 <= n <= 4094 for n in args.sizes):
        p.error("subport counts must be 1..4094")
    args.dhcp_samples = args.dhcp_samples or (5 if args.quick else 10)
    return args


def main(argv=None):
    args = parse_args(argv)
    if os.geteuid() != 0:
        print("bench/wiring.py needs root (namespaces, Open vSwitch, dnsmasq)", file=sys.stderr)
        return 2
    # SIGTERM/SIGHUP end the run through the same cleanup as Ctrl-C
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    t_start = time.monotonic()
    load_start = [round(x, 2) for x in os.getloadavg()]
    bench = Bench(args)
    res = bench.res
    try:
        bench.run()
    except Exception as e:
        log("run failed: %s" % e)
        traceback.print_exc(file=sys.stderr)
        res.setdefault("errors", {})["run"] = "%s: %s" % (type(e).__name__, e)
    finally:
        log("cleaning up")
        bench.cleanup()
    if not args.no_demo:
        log("timing trunkline demo")
        try:
            res["demo_s"] = demo_wall()
        except Exception as e:
            res.setdefault("errors", {})["demo"] = "%s: %s" % (type(e).__name__, e)
    rows, status = report(res)
    print()
    print("trunkline wiring benchmark (%s; isolated stack, netdev=%s, %d CPUs)" % (
        "quick" if args.quick else "full", "yes" if not os.path.exists("/sys/module/openvswitch")
        else "no", os.cpu_count()))
    print_table(rows)
    for k, v in sorted((res.get("errors") or {}).items()):
        print("error in %s: %s" % (k, v))
    fails = sorted(k for k, v in status.items() if v == "FAIL")
    passes = sorted(k for k, v in status.items() if v == "PASS")
    print("targets: %d PASS, %d FAIL%s" % (len(passes), len(fails),
                                           (" (" + ", ".join(fails) + ")") if fails else ""))
    out = {"bench": "trunkline-wiring", "quick": args.quick, "sizes": args.sizes,
           "stack_ready_s": res.get("stack_ready_s"), "dhcp": res.get("dhcp"),
           "subports": {k.split("_")[1]: v for k, v in res.items() if k.startswith("subports_")},
           "demo_s": res.get("demo_s"), "bulk_ports_s": res.get("bulk_ports_s"),
           "qemu": res.get("qemu"),
           "targets": status, "pass": len(passes), "fail": len(fails),
           "errors": res.get("errors") or {}, "loadavg_start": load_start,
           "cpus": os.cpu_count(), "wall_s": round(time.monotonic() - t_start, 1)}
    print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
