#!/usr/bin/env python3
"""API benchmark: trunkline against upstream Neutron, side by side in one run.

    .venv/bin/python bench/api.py                          # trunkline only
    .venv/bin/python bench/api.py --peer http://127.0.0.1:9797
    .venv/bin/python bench/api.py --start-peer             # start/stop a MariaDB Neutron peer
    .venv/bin/python bench/api.py --quick                  # smoke run (5 s mixed phases)

Starts its own trunkline server (SQLite in a temporary directory, a free 127.0.0.1 port,
stopped by PID), runs the phases below on trunkline and then on the peer, prints a table
with PASS/FAIL per target and, as the very last line of stdout, one JSON object with the
headline figures and the trunkline/Neutron ratios. Progress goes to stderr. A benchmark,
not a test: it never asserts, and a failed phase is reported as an error, not raised.

Phases (see bench/README.md): server start, 200 network creates, 1000 port creates on one
network with a /16 subnet, 50 lists of those ports, 10 000 port creates on another /16 (does
a create cost the same with 10 000 addresses taken? and one with an explicit address, and a
DHCP port's?), a trunk with 500 subports in one
add_subports call and one with 500 in 10 calls of 50, and a mixed port workload
(create/show/update/delete) with 1, 4 and 16 concurrent clients; RSS after the run.

Neutron is ~100x slower, so the peer is sampled to keep the run near 6 minutes: fewer network
creates (--peer-networks), the first --peer-ports port creates timed one by one and the rest
bulk-filled untimed, --peer-lists lists, --peer-duration seconds per mixed level.
--peer-full measures everything in full on the peer too.
"""
import argparse
import http.client
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from urllib.parse import urlsplit

from trunkline.stack import free_port, stop_group

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENV_BIN = os.path.dirname(sys.executable)
PEER_TOOLS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "..",
                          "shared", "peers", "neutron")
PEER_DEFAULTS = {"PEER_DB": "mariadb", "PEER_HOME": "/opt/neutron-peer-maria",
                 "PEER_PORT": "9798", "PEER_MYSQL_PORT": "3308"}

MIX_POOL = 50  # ports one mixed-workload client keeps at most

TARGETS = {
    "ratio": 30.0,          # every phase >= 30x Neutron's throughput
    "port_create_p50_ms": 3.0,
    "list_1000_p50_ms": 25.0,
    "subports_500_s": 0.2,
    "ipam_growth": 1.5,     # port create p50, last 1000 of 10 000 / first 1000
    "ready_s": 1.0,
    "rss_mb": 150.0,
}


def log(msg):
    print("[bench %s] %s" % (time.strftime("%H:%M:%S"), msg), file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------- HTTP client

class Http:
    """One keep-alive connection (http.client): reconnects when the server closes it (Neutron
    answers every request with ``Connection: close``) or when an idle connection went stale."""

    def __init__(self, base_url, project):
        u = urlsplit(base_url)
        self.host, self.port = u.hostname, u.port or 80
        self.headers = {"Content-Type": "application/json", "Accept": "application/json",
                        "X-Project-Id": project}
        self.conn = None

    def request(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        for attempt in (0, 1):
            fresh = self.conn is None
            if fresh:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=300)
            try:
                self.conn.request(method, path, body=data, headers=self.headers)
                resp = self.conn.getresponse()
                raw = resp.read()
            except (http.client.RemoteDisconnected, http.client.CannotSendRequest,
                    ConnectionResetError, BrokenPipeError):
                self.close()
                if fresh or attempt:
                    raise
                continue
            if resp.will_close:
                self.close()
            return resp.status, raw
        raise RuntimeError("unreachable")

    def call(self, method, path, body=None, expect=(200, 201, 204)):
        """Request and decode; raises on an unexpected status (used outside timed loops)."""
        status, raw = self.request(method, path, body)
        if status not in expect:
            raise RuntimeError("%s %s -> %s: %s" % (method, path, status, raw[:300]))
        return json.loads(raw) if raw else None

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def timed(client, method, path, body=None, ok=(200, 201, 204)):
    t0 = time.perf_counter()
    status, raw = client.request(method, path, body)
    dt = time.perf_counter() - t0
    if status not in ok:
        raise RuntimeError("%s %s -> %s: %s" % (method, path, status, raw[:300]))
    return dt, (json.loads(raw) if raw else None)


def pct(values, p):
    if not values:
        return None
    s = sorted(values)
    k = (len(s) - 1) * p / 100.0
    lo = int(k)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def lat_stats(lats, elapsed=None, count=None):
    count = len(lats) if count is None else count
    elapsed = sum(lats) if elapsed is None else elapsed
    return {"n": count, "p50_ms": _ms(pct(lats, 50)), "p99_ms": _ms(pct(lats, 99)),
            "rate": round(count / elapsed, 2) if elapsed else None}


def _ms(seconds):
    return None if seconds is None else round(seconds * 1000, 3)


# ----------------------------------------------------------------------------- processes

def answers(url):
    u = urlsplit(url)
    try:
        c = http.client.HTTPConnection(u.hostname, u.port, timeout=2)
        c.request("GET", "/")
        c.getresponse().read()
        c.close()
        return True
    except OSError:
        return False


def _children():
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as f:
                stat = f.read()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry))
        except (OSError, ValueError, IndexError):
            pass
    return children


def tree(pid):
    children, out, todo = _children(), [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def cpu_s(pids):
    """User+system CPU seconds of these processes (/proc/PID/stat), robust to a busy machine
    where wall-clock latencies are noisy."""
    total, tick = 0, os.sysconf("SC_CLK_TCK")
    for p in pids:
        try:
            with open("/proc/%d/stat" % p) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, ValueError, IndexError):
            pass
    return total / tick


def rss_mb(pid):
    """VmRSS of ``pid`` and all its descendants, from /proc (MB)."""
    total = 0
    for p in tree(pid):
        try:
            with open("/proc/%d/status" % p) as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            continue
    return round(total / 1024.0, 1)


PROFILE_WRAPPER = """
import cProfile, os, signal, sys
from trunkline.cli import main
out = sys.argv.pop(1)
prof = cProfile.Profile()
def dump(*_):
    prof.disable()
    prof.dump_stats(out)
    os._exit(0)
signal.signal(signal.SIGTERM, dump)
prof.enable()
try:
    main.main(sys.argv[1:])
finally:
    dump()
"""


class Trunkline:
    """A private ``trunkline server`` on SQLite in a temporary directory."""

    def __init__(self, profile=None, workers=1):
        self.dir = tempfile.mkdtemp(prefix="tl-bench-")
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.db = "sqlite:///" + os.path.join(self.dir, "trunkline.db")
        self.logf = open(os.path.join(self.dir, "server.log"), "w")
        args = ["server", "--bind", "127.0.0.1:%d" % self.port, "--db", self.db,
                "--workers", str(workers)]
        if profile:
            # uvicorn re-raises SIGTERM after its graceful shutdown; the handler it restores
            # then is ours, which writes the cProfile stats before exiting.
            cmd = [sys.executable, "-c", PROFILE_WRAPPER, profile]
        else:
            cmd = [os.path.join(VENV_BIN, "trunkline")]
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(cmd + args, stdout=self.logf, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        self.ready_s = None
        deadline = t0 + 60
        while time.perf_counter() < deadline and self.proc.poll() is None:
            if answers(self.url):
                self.ready_s = time.perf_counter() - t0
                break
            time.sleep(0.005)
        if self.ready_s is None:
            self.stop()
            raise RuntimeError("trunkline did not start: " + self.output())

    def output(self):
        with open(os.path.join(self.dir, "server.log")) as f:
            return f.read()[-3000:]

    def rss(self):
        return rss_mb(self.proc.pid)

    def stop(self):
        stop_group(self.proc, 30)
        self.logf.close()
        shutil.rmtree(self.dir, ignore_errors=True)


class Peer:
    """A Neutron peer: given by URL, or started (and later stopped) with the shared start.sh."""

    def __init__(self, url=None, home=None):
        self.url, self.home, self.started, self.ready_s, self.env = url, home, False, None, None

    @classmethod
    def start(cls):
        script = os.path.join(PEER_TOOLS, "start.sh")
        if not os.path.exists(script):
            log("no Neutron peer tools at %s: peer columns skipped" % PEER_TOOLS)
            return None
        env = dict(os.environ)
        for k, v in PEER_DEFAULTS.items():
            env.setdefault(k, v)
        log("starting Neutron peer (%s, %s, port %s) with start.sh --fresh"
            % (env["PEER_DB"], env["PEER_HOME"], env["PEER_PORT"]))
        t0 = time.perf_counter()
        r = subprocess.run([script, "--fresh"], env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
        if r.returncode != 0:
            log("peer failed to start (rc %s): %s" % (r.returncode, r.stdout[-1500:]))
            return None
        peer = cls("http://127.0.0.1:%s" % env["PEER_PORT"], env["PEER_HOME"])
        peer.ready_s = time.perf_counter() - t0
        peer.started, peer.env = True, env
        return peer

    def pid(self):
        if not self.home:
            return None
        try:
            with open(os.path.join(self.home, "run", "neutron-server.pid")) as f:
                pid = int(f.read().strip())
            os.kill(pid, 0)
            return pid
        except (OSError, ValueError):
            return None

    def rss(self):
        pid = self.pid()
        return rss_mb(pid) if pid else None

    def stop(self):
        if self.started:
            log("stopping the Neutron peer (stop.sh)")
            subprocess.run([os.path.join(PEER_TOOLS, "stop.sh")], env=self.env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)


# ----------------------------------------------------------------------------- phases

class Run:
    """All phases against one API endpoint; results land in ``self.r`` (never raises)."""

    def __init__(self, name, url, args, is_peer, pid=None):
        self.name, self.url, self.args, self.is_peer = name, url, args, is_peer
        self.pids = tree(pid) if pid else None
        self.project = "bench%s" % uuid.uuid4().hex[:12]
        self.c = Http(url, self.project)
        self.r = {}
        self.ports = []
        self.net = None

    def phase(self, key, fn):
        t0 = time.perf_counter()
        try:
            fn()
        except Exception as e:  # a benchmark reports, it does not stop
            log("%s: phase %s failed: %s" % (self.name, key, e))
            self.r.setdefault(key, {})["error"] = str(e)[:300]
        log("%s: %s done in %.1f s" % (self.name, key, time.perf_counter() - t0))

    def cpu(self):
        return cpu_s(self.pids) if self.pids else None

    def cpu_per_op(self, c0, n):
        """Server CPU milliseconds per operation since ``c0`` (None without a known PID)."""
        return None if c0 is None or not n else round((self.cpu() - c0) * 1000 / n, 3)

    def run(self):
        # Default quotas (100 networks, 500 ports) would stop the benchmark: lift them, on
        # both servers (the same call, so both pay for it alike).
        self.phase("quota", lambda: self.c.call(
            "PUT", "/v2.0/quotas/%s" % self.project,
            {"quota": {"network": -1, "subnet": -1, "port": -1}}))
        self.phase("networks", self.networks)
        self.phase("ports", self.create_ports)
        self.phase("list", self.list_ports)
        if self.args.ipam_ports:
            self.phase("ipam", self.many_ports)
        self.phase("subports_1x500", self.trunk_one_call)
        self.phase("subports_10x50", self.trunk_ten_calls)
        for n in self.args.clients:
            self.phase("mixed_c%d" % n, lambda n=n: self.mixed(n))
        self.c.close()
        return self.r

    # 1. networks
    def networks(self):
        n = self.args.networks if not self.is_peer or self.args.peer_full else min(
            self.args.networks, self.args.peer_networks)
        lats, c0 = [], self.cpu()
        for i in range(n):
            dt, _ = timed(self.c, "POST", "/v2.0/networks",
                          {"network": {"project_id": self.project,
                                       "name": "bench-net-%d" % i}})
            lats.append(dt)
        self.r["networks"] = lat_stats(lats)
        self.r["networks"]["cpu_ms_per_op"] = self.cpu_per_op(c0, len(lats))

    def _net_with_subnet(self, name, cidr):
        net = self.c.call("POST", "/v2.0/networks", {"network": {
            "project_id": self.project, "name": name}})["network"]
        self.c.call("POST", "/v2.0/subnets", {"subnet": {
            "project_id": self.project, "network_id": net["id"], "ip_version": 4,
            "cidr": cidr, "name": name + "-sub"}})
        return net["id"]

    # 2. ports on one network with a /16 subnet
    def create_ports(self):
        self.net = self._net_with_subnet("bench-ports", "10.64.0.0/16")
        total = self.args.ports
        measured = total if not self.is_peer or self.args.peer_full else min(
            total, self.args.peer_ports)
        lats, c0 = [], self.cpu()
        for i in range(measured):
            dt, body = timed(self.c, "POST", "/v2.0/ports",
                             {"port": {"project_id": self.project, "network_id": self.net,
                                       "name": "bench-port-%d" % i}})
            lats.append(dt)
            self.ports.append(body["port"]["id"])
        self.r["ports"] = lat_stats(lats)
        self.r["ports"]["cpu_ms_per_op"] = self.cpu_per_op(c0, len(lats))
        if measured < total:
            self.r["ports"]["sampled"] = measured
            t0 = time.perf_counter()
            self._bulk_fill(measured, total)
            self.r["ports"]["fill_s"] = round(time.perf_counter() - t0, 1)
        # Two parents for the trunk phases (not measured).
        for i in range(2):
            self.ports.append(self.c.call("POST", "/v2.0/ports", {"port": {
                "project_id": self.project, "network_id": self.net,
                "name": "bench-parent-%d" % i}})["port"]["id"])

    def _bulk_fill(self, start, total, batch=25, threads=8):
        chunks = [list(range(i, min(i + batch, total))) for i in range(start, total, batch)]
        lock = threading.Lock()
        results = {}
        errors = []

        def worker():
            c = Http(self.url, self.project)
            while True:
                with lock:
                    if not chunks or errors:
                        break
                    chunk = chunks.pop(0)
                try:
                    body = c.call("POST", "/v2.0/ports", {"ports": [
                        {"project_id": self.project, "network_id": self.net,
                         "name": "bench-port-%d" % i} for i in chunk]})
                    with lock:
                        for i, p in zip(chunk, body["ports"]):
                            results[i] = p["id"]
                except Exception as e:
                    errors.append(e)
            c.close()

        ts = [threading.Thread(target=worker) for _ in range(threads)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        if errors:
            raise errors[0]
        self.ports.extend(results[i] for i in sorted(results))

    # 2b. 10 000 ports on one /16: the first and the last 1000, then explicit and DHCP ports
    def many_ports(self):
        net = self._net_with_subnet("bench-ipam", "10.66.0.0/16")
        total, block = self.args.ipam_ports, 1000
        sample = total if not self.is_peer or self.args.peer_full else min(
            block, self.args.peer_ports)
        body = {"port": {"project_id": self.project, "network_id": net}}
        r = self.r["ipam"] = {"ports": total}

        def measure(n, key, make=lambda i: body):
            lats, c0 = [], self.cpu()
            for i in range(n):
                lats.append(timed(self.c, "POST", "/v2.0/ports", make(i))[0])
            r[key + "_p50_ms"] = _ms(pct(lats, 50))
            r[key + "_cpu_ms"] = self.cpu_per_op(c0, n)

        if sample == total:
            done = 0
            while done < total:
                n = min(block, total - done)
                measure(n, "first" if done == 0 else "last" if done + n == total else "mid")
                done += n
        else:           # the peer: the first ones and the last ones, bulk-filled between
            measure(sample, "first")
            saved, self.net, self.ports = (self.net, self.ports), net, []
            try:
                self._bulk_fill(sample, total - sample)
            finally:
                self.net, self.ports = saved
            measure(sample, "last")
        n = min(100, sample)
        measure(n, "explicit", lambda i: {"port": dict(body["port"], fixed_ips=[
            {"ip_address": "10.66.%d.%d" % (200 + i // 250, 1 + i % 250)}])})
        measure(min(20, n), "dhcp", lambda i: {"port": dict(
            body["port"], device_owner="network:dhcp", device_id="bench-dhcp-%d" % i)})
        if r.get("first_p50_ms") and r.get("last_p50_ms"):
            r["growth"] = round(r["last_p50_ms"] / r["first_p50_ms"], 2)

    # 3. list those ports
    def list_ports(self):
        if not self.net or not self.ports:
            raise RuntimeError("no ports to list (the ports phase failed)")
        n = self.args.lists if not self.is_peer or self.args.peer_full else min(
            self.args.lists, self.args.peer_lists)
        lats, count, c0 = [], None, self.cpu()
        for _ in range(n):
            dt, body = timed(self.c, "GET", "/v2.0/ports?network_id=%s" % self.net)
            lats.append(dt)
            count = len(body["ports"])
        self.r["list"] = lat_stats(lats)
        self.r["list"]["ports_listed"] = count
        self.r["list"]["cpu_ms_per_op"] = self.cpu_per_op(c0, len(lats))

    # 4. trunks
    def _subports(self, ports, first_vlan):
        return [{"port_id": p, "segmentation_type": "vlan", "segmentation_id": first_vlan + i}
                for i, p in enumerate(ports)]

    def trunk_one_call(self):
        subs, parent = self.ports[0:500], self.ports[-2]
        if len(subs) < 500:
            raise RuntimeError("only %d ports available" % len(subs))
        trunk = self.c.call("POST", "/v2.0/trunks", {"trunk": {
            "project_id": self.project, "port_id": parent, "name": "bench-trunk-a"}})["trunk"]["id"]
        dt, body = timed(self.c, "PUT", "/v2.0/trunks/%s/add_subports" % trunk,
                         {"sub_ports": self._subports(subs, 1)})
        self.r["subports_1x500"] = {"s": round(dt, 4), "rate": round(500 / dt, 1),
                                    "subports": len(body["sub_ports"])}

    def trunk_ten_calls(self):
        subs, parent = self.ports[500:1000], self.ports[-1]
        if len(subs) < 500:
            raise RuntimeError("only %d ports available" % len(subs))
        trunk = self.c.call("POST", "/v2.0/trunks", {"trunk": {
            "project_id": self.project, "port_id": parent, "name": "bench-trunk-b"}})["trunk"]["id"]
        lats = []
        for k in range(10):
            dt, body = timed(self.c, "PUT", "/v2.0/trunks/%s/add_subports" % trunk,
                             {"sub_ports": self._subports(subs[k * 50:(k + 1) * 50],
                                                          1 + k * 50)})
            lats.append(dt)
        total = sum(lats)
        self.r["subports_10x50"] = {"s": round(total, 4), "rate": round(500 / total, 1),
                                    "call_p50_ms": _ms(pct(lats, 50)),
                                    "subports": len(body["sub_ports"])}

    # 5. mixed workload
    def mixed(self, clients):
        if self.args.mixed_net is None or self.args.mixed_net.get(self.name) is None:
            self.args.mixed_net = self.args.mixed_net or {}
            self.args.mixed_net[self.name] = self._net_with_subnet("bench-mix", "10.80.0.0/16")
        net = self.args.mixed_net[self.name]
        duration = self.args.peer_duration if self.is_peer else self.args.duration
        lats = {"create": [], "show": [], "update": [], "delete": []}
        errors = []
        lock = threading.Lock()
        start = threading.Barrier(clients + 1)

        def worker(seed):
            rnd = random.Random(seed)
            c = Http(self.url, self.project)
            mine, local, errs, k = [], {o: [] for o in lats}, [], 0
            start.wait()
            end = time.perf_counter() + duration
            while True:
                t0 = time.perf_counter()
                if t0 >= end:
                    break
                # Steady state: creates and deletes balance and each client keeps at most
                # MIX_POOL ports, so a faster server does not end up working on a bigger table.
                x = rnd.random()
                op = ("create" if not mine or (x < 0.20 and len(mine) < MIX_POOL)
                      else "delete" if x < 0.20 or x >= 0.80 else "show" if x < 0.55
                      else "update")
                try:
                    if op == "create":
                        st, raw = c.request("POST", "/v2.0/ports", {"port": {
                            "project_id": self.project, "network_id": net,
                            "name": "mix-%d-%d" % (seed, k)}})
                        if st == 201:
                            mine.append(json.loads(raw)["port"]["id"])
                    elif op == "show":
                        st, raw = c.request("GET", "/v2.0/ports/%s" % rnd.choice(mine))
                    elif op == "update":
                        st, raw = c.request("PUT", "/v2.0/ports/%s" % rnd.choice(mine), {
                            "port": {"name": "mix-upd-%d" % k, "description": "u%d" % k}})
                    else:
                        st, raw = c.request("DELETE", "/v2.0/ports/%s" % mine.pop(
                            rnd.randrange(len(mine))))
                    if st >= 300:
                        errs.append("%s %s %s" % (op, st, raw[:120]))
                except Exception as e:
                    errs.append("%s %r" % (op, e))
                    c.close()
                local[op].append(time.perf_counter() - t0)
                k += 1
            c.close()
            with lock:
                for o, v in local.items():
                    lats[o].extend(v)
                errors.extend(errs)

        ts = [threading.Thread(target=worker, args=(i + clients * 1000,)) for i in range(clients)]
        for t in ts:
            t.start()
        c0 = self.cpu()
        start.wait()
        t0 = time.perf_counter()
        for t in ts:
            t.join()
        elapsed = time.perf_counter() - t0
        every = [x for v in lats.values() for x in v]
        res = lat_stats(every, elapsed=elapsed)
        res["ops_s"] = res.pop("rate")
        res["errors"] = len(errors)
        res["cpu_ms_per_op"] = self.cpu_per_op(c0, len(every))
        res["by_op_p50_ms"] = {o: _ms(pct(v, 50)) for o, v in lats.items()}
        if errors:
            res["first_error"] = errors[0][:200]
        self.r["mixed_c%d" % clients] = res


# ----------------------------------------------------------------------------- report

def g(d, *keys):
    for k in keys:
        if not isinstance(d, dict) or k not in d:
            return None
        d = d[k]
    return d


def fmt(v, unit=""):
    if v is None:
        return "-"
    if isinstance(v, float):
        v = ("%.0f" % v) if abs(v) >= 1000 else ("%.3g" % v if abs(v) < 10 else "%.1f" % v)
    return "%s%s" % (v, unit)


def report(tl, nt, args):
    """Rows: (label, trunkline value, neutron value, ratio, target text, status)."""
    rows, ratios, status = [], {}, {}

    def ratio_row(label, key, t_val, n_val, higher_better=True):
        ratio = None
        if t_val and n_val:
            ratio = round(t_val / n_val if higher_better else n_val / t_val, 1)
        ratios[key] = ratio
        st = "n/a" if ratio is None else ("PASS" if ratio >= TARGETS["ratio"] else "FAIL")
        status["ratio_" + key] = st
        return ratio, ">= %gx" % TARGETS["ratio"], st

    def lim_row(key, val, limit):
        st = "n/a" if val is None else ("PASS" if val < limit else "FAIL")
        status[key] = st
        return st

    def add(label, t, n, ratio="", target="", st=""):
        rows.append((label, fmt(t), fmt(n), fmt(ratio, "x") if ratio not in ("", None) else
                     ("-" if ratio is None else ""), target, st))

    # start / memory
    st = lim_row("ready_s", tl["ready_s"], TARGETS["ready_s"])
    add("server ready (s)", tl["ready_s"], nt and nt.get("ready_s"), "", "< 1 s", st)
    # networks
    r = ratio_row("networks", "networks", g(tl, "networks", "rate"), g(nt, "networks", "rate"))
    add("network create rate (/s)", g(tl, "networks", "rate"), g(nt, "networks", "rate"), *r)
    add("network create p50 (ms)", g(tl, "networks", "p50_ms"), g(nt, "networks", "p50_ms"))
    # ports
    r = ratio_row("ports", "ports", g(tl, "ports", "rate"), g(nt, "ports", "rate"))
    add("port create rate (/s)", g(tl, "ports", "rate"), g(nt, "ports", "rate"), *r)
    st = lim_row("port_create_p50_ms", g(tl, "ports", "p50_ms"), TARGETS["port_create_p50_ms"])
    add("port create p50 (ms)", g(tl, "ports", "p50_ms"), g(nt, "ports", "p50_ms"), "",
        "< 3 ms", st)
    add("port create p99 (ms)", g(tl, "ports", "p99_ms"), g(nt, "ports", "p99_ms"))
    add("port create server CPU (ms/op)", g(tl, "ports", "cpu_ms_per_op"),
        g(nt, "ports", "cpu_ms_per_op"))
    # list
    r = ratio_row("list", "list", g(tl, "list", "rate"), g(nt, "list", "rate"))
    add("list 1000 ports rate (/s)", g(tl, "list", "rate"), g(nt, "list", "rate"), *r)
    st = lim_row("list_1000_p50_ms", g(tl, "list", "p50_ms"), TARGETS["list_1000_p50_ms"])
    add("list 1000 ports p50 (ms)", g(tl, "list", "p50_ms"), g(nt, "list", "p50_ms"), "",
        "< 25 ms", st)
    add("list 1000 ports server CPU (ms)", g(tl, "list", "cpu_ms_per_op"),
        g(nt, "list", "cpu_ms_per_op"))
    # IPAM at scale
    n_ports = args.ipam_ports
    add("port create p50, first / last 1000 of %d (ms)" % n_ports,
        _pair(g(tl, "ipam", "first_p50_ms"), g(tl, "ipam", "last_p50_ms")),
        _pair(g(nt, "ipam", "first_p50_ms"), g(nt, "ipam", "last_p50_ms")))
    add("port create CPU, first / last 1000 (ms/op)",
        _pair(g(tl, "ipam", "first_cpu_ms"), g(tl, "ipam", "last_cpu_ms")),
        _pair(g(nt, "ipam", "first_cpu_ms"), g(nt, "ipam", "last_cpu_ms")))
    st = lim_row("ipam_growth", g(tl, "ipam", "growth"), TARGETS["ipam_growth"])
    add("port create p50, last / first 1000", g(tl, "ipam", "growth"), g(nt, "ipam", "growth"),
        "", "< %gx" % TARGETS["ipam_growth"], st)
    add("explicit-IP port create p50 at %d (ms)" % n_ports, g(tl, "ipam", "explicit_p50_ms"),
        g(nt, "ipam", "explicit_p50_ms"))
    add("DHCP port create p50 at %d (ms)" % n_ports, g(tl, "ipam", "dhcp_p50_ms"),
        g(nt, "ipam", "dhcp_p50_ms"))
    # trunks
    r = ratio_row("subports_1x500", "subports_1x500", g(tl, "subports_1x500", "rate"),
                  g(nt, "subports_1x500", "rate"))
    st = lim_row("subports_500_s", g(tl, "subports_1x500", "s"), TARGETS["subports_500_s"])
    add("add_subports 1x500 (s)", g(tl, "subports_1x500", "s"), g(nt, "subports_1x500", "s"),
        r[0], r[1] + "; < 0.2 s", _worst(r[2], st))
    r = ratio_row("subports_10x50", "subports_10x50", g(tl, "subports_10x50", "rate"),
                  g(nt, "subports_10x50", "rate"))
    add("add_subports 10x50 (s)", g(tl, "subports_10x50", "s"), g(nt, "subports_10x50", "s"), *r)
    # mixed
    for n in args.clients:
        k = "mixed_c%d" % n
        r = ratio_row(k, k, g(tl, k, "ops_s"), g(nt, k, "ops_s"))
        add("mixed %2d clients (ops/s)" % n, g(tl, k, "ops_s"), g(nt, k, "ops_s"), *r)
        add("mixed %2d clients p50/p99 (ms)" % n,
            _pair(g(tl, k, "p50_ms"), g(tl, k, "p99_ms")),
            _pair(g(nt, k, "p50_ms"), g(nt, k, "p99_ms")))
        add("mixed %2d clients errors" % n, g(tl, k, "errors"), g(nt, k, "errors"))
        add("mixed %2d server CPU (ms/op)" % n, g(tl, k, "cpu_ms_per_op"),
            g(nt, k, "cpu_ms_per_op"))
    st = lim_row("rss_mb", tl.get("rss_mb"), TARGETS["rss_mb"])
    add("RSS after run (MB)", tl.get("rss_mb"), nt and nt.get("rss_mb"), "", "< 150 MB", st)
    return rows, ratios, status


def _pair(a, b):
    return None if a is None else "%s / %s" % (fmt(a), fmt(b))


def _worst(*sts):
    for s in ("FAIL", "PASS"):
        if s in sts:
            return s
    return "n/a"


def print_table(rows, peer_label):
    head = ("metric", "trunkline", peer_label, "ratio", "target", "status")
    widths = [max(len(str(r[i])) for r in rows + [head]) for i in range(len(head))]
    line = "  ".join("%-*s" % (w, h) for w, h in zip(widths, head))
    print(line)
    print("-" * len(line))
    for r in rows:
        print("  ".join(("%-*s" if i in (0, 4, 5) else "%*s") % (widths[i], r[i])
                        for i in range(len(r))))


def headline(tl, nt):
    """The flat figures for the JSON line."""
    def pick(d):
        if not d:
            return None
        out = {"ready_s": d.get("ready_s"), "rss_mb": d.get("rss_mb"),
               "network_create_per_s": g(d, "networks", "rate"),
               "port_create_per_s": g(d, "ports", "rate"),
               "port_create_p50_ms": g(d, "ports", "p50_ms"),
               "port_create_p99_ms": g(d, "ports", "p99_ms"),
               "port_create_cpu_ms": g(d, "ports", "cpu_ms_per_op"),
               "list_1000_cpu_ms": g(d, "list", "cpu_ms_per_op"),
               "list_1000_p50_ms": g(d, "list", "p50_ms"),
               "list_1000_per_s": g(d, "list", "rate"),
               "ipam_first_p50_ms": g(d, "ipam", "first_p50_ms"),
               "ipam_last_p50_ms": g(d, "ipam", "last_p50_ms"),
               "ipam_growth": g(d, "ipam", "growth"),
               "ipam_explicit_p50_ms": g(d, "ipam", "explicit_p50_ms"),
               "ipam_dhcp_p50_ms": g(d, "ipam", "dhcp_p50_ms"),
               "subports_1x500_s": g(d, "subports_1x500", "s"),
               "subports_10x50_s": g(d, "subports_10x50", "s")}
        for k, v in d.items():
            if k.startswith("mixed_c"):
                out[k + "_ops_s"] = v.get("ops_s")
                out[k + "_p99_ms"] = v.get("p99_ms")
                out[k + "_errors"] = v.get("errors")
        errs = {k: v["error"] for k, v in d.items() if isinstance(v, dict) and "error" in v}
        if errs:
            out["phase_errors"] = errs
        return out
    return pick(tl), pick(nt)


# ----------------------------------------------------------------------------- main

def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--peer", metavar="URL", help="a running Neutron API to compare with")
    p.add_argument("--peer-home", metavar="DIR",
                   help="the peer's PEER_HOME, to read its RSS from its PID file")
    p.add_argument("--start-peer", action="store_true",
                   help="start a fresh Neutron peer with %s/start.sh (PEER_DB=mariadb, "
                        "PEER_HOME=/opt/neutron-peer-maria, PEER_PORT=9798, "
                        "PEER_MYSQL_PORT=3308 unless set in the environment) and stop it at "
                        "the end" % PEER_TOOLS)
    p.add_argument("--keep-peer", action="store_true",
                   help="with --start-peer: leave the peer running at the end")
    p.add_argument("--quick", action="store_true",
                   help="smoke run: 5 s mixed phases, fewer peer samples")
    p.add_argument("--duration", type=float, help="seconds per mixed phase (default 30, "
                                                   "5 with --quick)")
    p.add_argument("--clients", default="1,4,16", help="mixed-phase concurrency levels")
    p.add_argument("--networks", type=int, default=200)
    p.add_argument("--ports", type=int, default=1000)
    p.add_argument("--lists", type=int, default=50)
    p.add_argument("--ipam-ports", type=int, default=None,
                   help="ports of the IPAM phase on their own /16 (default 10000, 3000 with "
                        "--quick); 0 skips it")
    p.add_argument("--peer-networks", type=int, default=None,
                   help="network creates measured on the peer (default 100, 20 with --quick)")
    p.add_argument("--peer-ports", type=int, default=None,
                   help="port creates measured one by one on the peer (default 100, 30 with "
                        "--quick); the rest of --ports are bulk-created unmeasured")
    p.add_argument("--peer-duration", type=float,
                   help="seconds per mixed phase on the peer (default 15, or --duration when "
                        "that is shorter)")
    p.add_argument("--peer-lists", type=int, default=None,
                   help="lists measured on the peer (default 10, 3 with --quick)")
    p.add_argument("--peer-full", action="store_true",
                   help="measure every phase in full on the peer too (slow: ~8 minutes)")
    p.add_argument("--profile", metavar="FILE",
                   help="run the trunkline server under cProfile and write its stats to FILE")
    p.add_argument("--workers", type=int, default=1, help="trunkline --workers (default 1)")
    args = p.parse_args(argv)
    args.clients = [int(x) for x in args.clients.split(",") if x.strip()]
    if args.duration is None:
        args.duration = 5.0 if args.quick else 30.0
    if args.peer_networks is None:
        args.peer_networks = 20 if args.quick else 100
    if args.ipam_ports is None:
        args.ipam_ports = 3000 if args.quick else 10000
    if args.peer_ports is None:
        args.peer_ports = 30 if args.quick else 100
    if args.peer_duration is None:
        args.peer_duration = min(15.0, args.duration)
    if args.peer_full:
        args.peer_duration = args.duration
    if args.peer_lists is None:
        args.peer_lists = 3 if args.quick else 10
    args.mixed_net = None
    return args


def main(argv=None):
    args = parse_args(argv)
    t_start = time.perf_counter()
    load_start = [round(x, 2) for x in os.getloadavg()]

    # trunkline first (its own server, its own database)
    log("starting trunkline (SQLite, temporary directory)")
    server = Trunkline(profile=args.profile, workers=args.workers)
    tl = {"ready_s": round(server.ready_s, 3), "url": server.url}
    log("trunkline ready in %.3f s at %s" % (server.ready_s, server.url))
    try:
        tl.update(Run("trunkline", server.url, args, is_peer=False, pid=server.proc.pid).run())
        tl["rss_mb"] = server.rss()
    finally:
        server.stop()
    if args.profile:
        log("cProfile stats written to %s" % args.profile)

    # then the peer
    peer = None
    if args.start_peer:
        peer = Peer.start()
    elif args.peer:
        peer = Peer(args.peer.rstrip("/"), args.peer_home)
    nt = None
    if peer is not None and not answers(peer.url):
        log("Neutron peer %s does not answer: peer columns skipped" % peer.url)
        peer.stop()
        peer = None
    if peer is not None:
        try:
            nt = {"ready_s": round(peer.ready_s, 1) if peer.ready_s else None, "url": peer.url}
            nt.update(Run("neutron", peer.url, args, is_peer=True, pid=peer.pid()).run())
            nt["rss_mb"] = peer.rss()
        finally:
            if not args.keep_peer:
                peer.stop()

    rows, ratios, status = report(tl, nt, args)
    print()
    print("trunkline API benchmark (%s; mixed %g s per level; %s)" % (
        "quick" if args.quick else "full", args.duration,
        "peer " + peer.url if peer else "no peer"))
    if nt and not args.peer_full:
        print("peer sampled (--peer-full for all): %d network creates, %d port creates timed "
              "(the rest bulk-filled), %d lists, mixed %g s per level"
              % (min(args.networks, args.peer_networks), min(args.ports, args.peer_ports),
                 min(args.lists, args.peer_lists), args.peer_duration))
    if nt:
        print("peer 'server ready' is the wall time of start.sh --fresh (database reset "
              "included); n/a for --peer")
    print_table(rows, "neutron" if nt else "neutron (none)")
    fails = sorted(k for k, v in status.items() if v == "FAIL")
    passes = sorted(k for k, v in status.items() if v == "PASS")
    print("targets: %d PASS, %d FAIL%s" % (len(passes), len(fails),
                                           (" (" + ", ".join(fails) + ")") if fails else ""))
    t_fig, n_fig = headline(tl, nt)
    out = {"bench": "trunkline-api", "quick": args.quick, "duration_s": args.duration,
           "peer_duration_s": args.peer_duration if nt else None,
           "peer_sampled": bool(nt) and not args.peer_full,
           "peer": peer.url if peer else None, "trunkline": t_fig, "neutron": n_fig,
           "ratios": ratios, "targets": status, "pass": len(passes), "fail": len(fails),
           "loadavg_start": load_start, "cpus": os.cpu_count(),
           "wall_s": round(time.perf_counter() - t_start, 1)}
    print(json.dumps(out, sort_keys=False), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
