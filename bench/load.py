#!/usr/bin/env python3
"""Load benchmark: many concurrent clients against one and two servers on one PostgreSQL, and
list/show latencies with 10 000 ports, 500 trunks and 4094 subports stored.

    .venv/bin/python bench/load.py                  # 16/64/256 clients x 60 s x 1 and 2 servers
    .venv/bin/python bench/load.py --duration 10    # shorter levels (~3 min in all)
    .venv/bin/python bench/load.py --skip-scale     # the load part only

Load: a private PostgreSQL cluster; for 1 and then 2 ``trunkline server`` processes (one worker
each, a fresh database each) with --agents noop agents attached (in this process, their
servers given round-robin, so status reports and watches are part of the load), N = 16, 64, 256
clients (threads in --procs client processes, client i on server i mod servers) run for
--duration seconds. Each client first creates its own network and /20 subnet, then mixes:
port create 20 % (a third bound to an agent's host), show 20 %, update 12 %, delete 10 %, list
of its network's ports (limit 50) 10 %, network show 5 %, trunk create 6 % (on a free unbound
port), add_subports 7 %, remove_subports 4 %, trunk delete 3 %, keeping at most 40 ports.
Reported: ops/s, p50/p99 latency, non-2xx answers, 5xx answers and failed connections
(targets: 0), server CPU per op, and the 2-server/1-server throughput ratio.

Scale: one server, a fresh database. A baseline (2 networks, 120 ports, 60 trunks with one
subport each, 10 ports bound to one host) is probed (each probe --probe-reps times: show port,
show trunk, get_subports, list by network/device_id/MAC/fixed IP, a page of 100 ports, a page
of 50 trunks, the agent state of the host), then the database is filled to 10 000 ports, 500
more trunks and 4094 subports in all (bulk creates), and the same probes run again: p50 full
vs p50 baseline (target: within 2x).

Prints a table and, last, one JSON line. Everything started is stopped by PID and removed.
"""
import argparse
import json
import logging
import multiprocessing
import os
import random
import sys
import threading
import time
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))

from api import Http, cpu_s, log, pct, tree     # noqa: E402  (bench/api.py)
from helpers.server import NO_QUOTAS, Postgres, Server # noqa: E402  (tests/helpers/server.py)

LEVELS = (16, 64, 256)
MIX = [("port_create", 20), ("port_show", 20), ("port_update", 12), ("port_delete", 10),
       ("port_list", 10), ("network_show", 5), ("trunk_create", 6), ("add_subports", 7),
       ("remove_subports", 4), ("trunk_delete", 3)]
MAX_PORTS = 40
SCALE_RATIO = 2.0


# ----------------------------------------------------------------------------- load clients

class Client:
    """One client's own network, ports and trunks, and its statistics."""

    def __init__(self, url, index, hosts):
        self.http = Http(url, "load-%d" % index)
        self.rng = random.Random(index)
        self.hosts = hosts
        self.lat, self.codes, self.failed = [], {}, 0
        self.free, self.trunks = [], {}     # free port ids; trunk id -> [subport ids]
        self.parents = set()
        self.seg = 0
        self.net = self._call("POST", "/v2.0/networks", {"network": {"name": "load"}})["network"]
        self._call("POST", "/v2.0/subnets", {"subnet": {
            "network_id": self.net["id"], "ip_version": 4,
            "cidr": "10.%d.%d.0/20" % (index // 16, (index % 16) * 16)}})

    def _call(self, method, path, body=None):
        status, raw = self.http.request(method, path, body)
        if status >= 300:
            raise RuntimeError("%s %s -> %s %s" % (method, path, status, raw[:200]))
        return json.loads(raw) if raw else None

    def timed(self, method, path, body=None):
        t0 = time.perf_counter()
        try:
            status, raw = self.http.request(method, path, body)
        except OSError:
            self.failed += 1
            self.http.close()
            return None
        self.lat.append(time.perf_counter() - t0)
        self.codes[status] = self.codes.get(status, 0) + 1
        if not 200 <= status < 300:
            return None
        return json.loads(raw) if raw else {}

    def step(self):
        op = self.rng.choices([m for m, _ in MIX], [w for _, w in MIX])[0]
        if op == "port_create" or not self.free:
            if len(self.free) >= MAX_PORTS:
                return self._delete_port()
            port = {"network_id": self.net["id"]}
            if self.hosts and self.rng.random() < 1 / 3:
                port["binding:host_id"] = self.rng.choice(self.hosts)
            res = self.timed("POST", "/v2.0/ports", {"port": port})
            if res:
                self.free.append((res["port"]["id"], "binding:host_id" in port))
        elif op == "port_show":
            self.timed("GET", "/v2.0/ports/" + self.rng.choice(self.free)[0])
        elif op == "port_update":
            self.timed("PUT", "/v2.0/ports/" + self.rng.choice(self.free)[0],
                       {"port": {"name": "p%d" % self.rng.randrange(1000)}})
        elif op == "port_delete":
            self._delete_port()
        elif op == "port_list":
            self.timed("GET", "/v2.0/ports?network_id=%s&limit=50" % self.net["id"])
        elif op == "network_show":
            self.timed("GET", "/v2.0/networks/" + self.net["id"])
        elif op == "trunk_create":
            unbound = [p for p in self.free if not p[1]]
            if unbound:
                parent = self.rng.choice(unbound)
                res = self.timed("POST", "/v2.0/trunks", {"trunk": {"port_id": parent[0]}})
                if res:
                    self.free.remove(parent)
                    self.parents.add(parent[0])
                    self.trunks[res["trunk"]["id"]] = []
        elif op == "add_subports" and self.trunks:
            unbound = [p for p in self.free if not p[1]]
            if unbound:
                trunk_id, sub = self.rng.choice(list(self.trunks)), self.rng.choice(unbound)
                self.seg = self.seg % 4094 + 1
                if self.timed("PUT", "/v2.0/trunks/%s/add_subports" % trunk_id, {"sub_ports": [
                        {"port_id": sub[0], "segmentation_type": "vlan",
                         "segmentation_id": self.seg}]}) is not None:
                    self.free.remove(sub)
                    self.trunks[trunk_id].append(sub[0])
        elif op == "remove_subports":
            full = [t for t, subs in self.trunks.items() if subs]
            if full:
                trunk_id = self.rng.choice(full)
                sub = self.trunks[trunk_id].pop()
                if self.timed("PUT", "/v2.0/trunks/%s/remove_subports" % trunk_id,
                              {"sub_ports": [{"port_id": sub}]}) is not None:
                    self.free.append((sub, False))
        elif op == "trunk_delete" and self.trunks:
            trunk_id = self.rng.choice(list(self.trunks))
            if self.timed("DELETE", "/v2.0/trunks/" + trunk_id) is not None:
                subs = self.trunks.pop(trunk_id)
                self.free.extend((s, False) for s in subs)

    def _delete_port(self):
        port = self.rng.choice(self.free)
        self.timed("DELETE", "/v2.0/ports/" + port[0])
        self.free.remove(port)


def client_proc(urls, indexes, hosts, start_at, duration, out):
    """A client process: one thread per client index; puts its statistics on ``out``."""
    clients, errors = [], []

    def one(i):
        try:
            c = Client(urls[i % len(urls)], i, hosts)
            clients.append(c)
            time.sleep(max(0.0, start_at - time.time()))
            while time.time() < start_at + duration:
                c.step()
        except Exception as e:      # setup failure: reported, the run goes on
            errors.append("%s: %s" % (type(e).__name__, e))

    threads = [threading.Thread(target=one, args=(i,)) for i in indexes]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    codes = {}
    for c in clients:
        for k, v in c.codes.items():
            codes[k] = codes.get(k, 0) + v
    out.put({"lat": [x for c in clients for x in c.lat], "codes": codes,
             "failed": sum(c.failed for c in clients), "errors": errors[:5],
             "setup_errors": len(errors)})


def run_level(urls, clients, hosts, duration, procs, server_pids):
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    start_at = time.time() + 2.0 + clients * 0.03     # every client set up before the start
    workers = [ctx.Process(target=client_proc, args=(urls, list(range(p, clients, procs)),
                                                     hosts, start_at, duration, out))
               for p in range(procs)]
    for w in workers:
        w.start()
    time.sleep(max(0.0, start_at - time.time()))
    cpu0 = cpu_s(server_pids())
    time.sleep(duration)
    cpu = cpu_s(server_pids()) - cpu0
    results = [out.get() for _ in workers]
    for w in workers:
        w.join()
    lat = [x for r in results for x in r["lat"]]
    codes = {}
    for r in results:
        for k, v in r["codes"].items():
            codes[k] = codes.get(k, 0) + v
    ops = len(lat)
    return {"clients": clients, "servers": len(urls), "ops": ops,
            "ops_s": round(ops / duration, 1),
            "p50_ms": _ms(pct(lat, 50)), "p99_ms": _ms(pct(lat, 99)),
            "non_2xx": sum(v for k, v in codes.items() if not 200 <= int(k) < 300),
            "5xx": sum(v for k, v in codes.items() if int(k) >= 500),
            "failed": sum(r["failed"] for r in results),
            "setup_errors": sum(r["setup_errors"] for r in results),
            "codes": {str(k): v for k, v in sorted(codes.items())},
            "cpu_ms_op": _ms(cpu / ops) if ops else None,
            "errors": [e for r in results for e in r["errors"]][:3]}


def load_part(pg, args):
    from agents import TimedNoop                   # bench/agents.py
    from trunkline.agent.main import Agent
    rows = []
    for nservers in (1, 2):
        url = pg.new_database()
        servers, agents = [], []
        try:
            servers = [Server(url, extra=NO_QUOTAS) for _ in range(nservers)]
            urls = [s.url for s in servers]
            hosts = ["load-h%02d" % i for i in range(args.agents)]
            for i, host in enumerate(hosts):
                order = urls[i % nservers:] + urls[:i % nservers]
                agent = Agent(host, order, TimedNoop(), report_interval=10.0)
                threading.Thread(target=agent.run, daemon=True).start()
                agents.append(agent)
            deadline = time.monotonic() + 60
            while not all(a.registered for a in agents) and time.monotonic() < deadline:
                time.sleep(0.1)
            for clients in args.levels:
                log("%d server(s), %d clients, %d s" % (nservers, clients, args.duration))
                res = run_level(urls, clients, hosts, args.duration, args.procs,
                                lambda: [p for s in servers for p in tree(s.proc.pid)])
                log(json.dumps(res))
                rows.append(res)
        finally:
            for a in agents:
                a.stop()
            for s in servers:
                if "Traceback" in s.output():
                    log("server %s logged errors:\n%s" % (s.url, s.output()[-3000:]))
                s.stop()
    return rows


# ----------------------------------------------------------------------------- scale run

def scale_part(pg, args):
    url = pg.new_database()
    server = Server(url, extra=NO_QUOTAS)
    try:
        api = Http(server.url, "scale")
        host = "scale-h1"
        api.call("POST", "/agent/v1/agents", {"host": host, "agent_type": "Open vSwitch agent",
                                              "binary": "trunkline-agent",
                                              "configurations": {}})
        nets = [_network(api, "10.200.0.0/16"), _network(api, "10.201.0.0/16")]
        base = _bulk_ports(api, nets[0], 120)
        subs = _bulk_ports(api, nets[1], 60, device=False)
        for i in range(10):
            api.call("PUT", "/v2.0/ports/" + base[i]["id"],
                     {"port": {"binding:host_id": host}})
        trunks = [api.call("POST", "/v2.0/trunks", {"trunk": {
            "port_id": base[60 + i]["id"], "sub_ports": [
                {"port_id": subs[i]["id"], "segmentation_type": "vlan", "segmentation_id": 5}]}}
            )["trunk"] for i in range(60)]
        probes = _probes(nets[0], base[30], trunks[0], host)
        log("probing the baseline (%d ports, %d trunks)" % (180, 60))
        with open(os.path.join(pg.data, "postmaster.pid")) as f:
            pg_pid = int(f.readline())
        pids = (lambda: tree(server.proc.pid), lambda: tree(pg_pid))
        empty = _probe(api, probes, args.probe_reps, *pids)
        cpu0 = cpu_s(tree(server.proc.pid))
        t0 = time.monotonic()
        counts = _fill(api, server.url, 10000 - 180, 500, 4094 - 60)
        fill_s = time.monotonic() - t0
        log("filled in %.1f s (server CPU %.1f s): %s" % (
            fill_s, cpu_s(tree(server.proc.pid)) - cpu0, counts))
        full = _probe(api, probes, args.probe_reps, *pids)
    finally:
        server.stop()
    rows = []
    for name, _ in probes:
        (e, e_cpu, e_pg), (f, f_cpu, f_pg) = empty[name], full[name]
        rows.append({"probe": name, "empty_ms": _ms(e), "full_ms": _ms(f),
                     "ratio": round(f / e, 2), "empty_cpu_ms": _ms(e_cpu + e_pg),
                     "full_cpu_ms": _ms(f_cpu + f_pg),
                     "cpu_ratio": round((f_cpu + f_pg) / (e_cpu + e_pg), 2)
                     if e_cpu + e_pg else None})
    return {"rows": rows, "fill_s": round(fill_s, 1), "stored": counts}


def _network(api, cidr):
    net = api.call("POST", "/v2.0/networks", {"network": {"name": "scale"}})["network"]
    api.call("POST", "/v2.0/subnets", {"subnet": {"network_id": net["id"], "cidr": cidr,
                                                  "ip_version": 4}})
    return net


def _bulk_ports(api, net, count, device=True, chunk=200):
    """``count`` ports on ``net`` (with a device_id each when ``device``: a subport has none)."""
    out = []
    while len(out) < count:
        n = min(chunk, count - len(out))
        out.extend(api.call("POST", "/v2.0/ports", {"ports": [
            dict({"network_id": net["id"]}, **({"device_id": str(uuid.uuid4())} if device
                                              else {})) for _ in range(n)]})["ports"])
    return out


def _probes(net, port, trunk, host):
    ip = port["fixed_ips"][0]["ip_address"]
    return [("show port", "/v2.0/ports/" + port["id"]),
            ("show trunk", "/v2.0/trunks/" + trunk["id"]),
            ("get_subports", "/v2.0/trunks/%s/get_subports" % trunk["id"]),
            ("ports by network (120)", "/v2.0/ports?network_id=" + net["id"]),
            ("ports by device_id", "/v2.0/ports?device_id=" + port["device_id"]),
            ("ports by MAC", "/v2.0/ports?mac_address=" + port["mac_address"]),
            ("ports by fixed IP", "/v2.0/ports?fixed_ips=ip_address%3D" + ip),
            ("ports page of 100", "/v2.0/ports?limit=100"),
            ("trunks page of 50", "/v2.0/trunks?limit=50"),
            ("agent state (10 ports)", "/agent/v1/hosts/%s/state" % host)]


def _probe(api, probes, reps, server_pids, pg_pids):
    """{probe: (p50 s, server CPU s per request, PostgreSQL CPU s per request)}: CPU time is
    what a busy shared machine distorts least."""
    out = {}
    for name, path in probes:
        api.call("GET", path)       # warm
        lat = []
        cpu, pg = cpu_s(server_pids()), cpu_s(pg_pids())
        for _ in range(reps):
            t0 = time.perf_counter()
            api.call("GET", path)
            lat.append(time.perf_counter() - t0)
        out[name] = (pct(lat, 50), (cpu_s(server_pids()) - cpu) / reps,
                     (cpu_s(pg_pids()) - pg) / reps)
    return out


def _fill(api, url, ports, trunks, subports):
    """``ports`` more ports on 20 new /16 networks (bulk creates, a thread per network):
    ``trunks`` + ``subports`` of them on the first 10, without a device (trunk parents and
    subports), the rest on the other 10 with one; then the trunks, sharing the subports."""
    nets = [_network(api, "10.%d.0.0/16" % (100 + i)) for i in range(20)]
    trunked = trunks + subports
    sizes = [_share(trunked, 10, i) for i in range(10)] + \
        [_share(ports - trunked, 10, i) for i in range(10)]
    made, lock = {}, threading.Lock()

    def fill_net(i):
        got = _bulk_ports(Http(url, "scale"), nets[i], sizes[i], device=i >= 10)
        with lock:
            made[i] = got

    threads = [threading.Thread(target=fill_net, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    free = [p for i in range(10) for p in made[i]]
    parents, pool = free[:trunks], free[trunks:]
    per, extra = divmod(subports, trunks)
    k = 0
    for i, parent in enumerate(parents):
        n = per + (1 if i < extra else 0)
        api.call("POST", "/v2.0/trunks", {"trunk": {"port_id": parent["id"], "sub_ports": [
            {"port_id": p["id"], "segmentation_type": "vlan", "segmentation_id": j + 1}
            for j, p in enumerate(pool[k:k + n])]}})
        k += n
    total = {}
    for kind, path in (("ports", "/v2.0/ports?fields=id"), ("trunks", "/v2.0/trunks?fields=id")):
        total[kind] = len(api.call("GET", path)[kind])
    total["subports"] = sum(len(t["sub_ports"]) for t in
                            api.call("GET", "/v2.0/trunks?fields=sub_ports")["trunks"])
    return total


def _share(total, parts, i):
    """Part ``i`` of ``total`` split into ``parts`` nearly equal parts."""
    return total // parts + (1 if i < total % parts else 0)


# ----------------------------------------------------------------------------- report

def _ms(seconds):
    return None if seconds is None else round(seconds * 1000, 2)


def print_tables(load_rows, scale):
    if load_rows:
        print("%-8s %-8s %9s %16s %8s %5s %7s %10s" % (
            "servers", "clients", "ops/s", "p50/p99 ms", "non-2xx", "5xx", "failed",
            "CPU ms/op"))
        for r in load_rows:
            print("%-8s %-8s %9s %16s %8s %5s %7s %10s" % (
                r["servers"], r["clients"], r["ops_s"], "%s / %s" % (r["p50_ms"], r["p99_ms"]),
                r["non_2xx"], r["5xx"], r["failed"], r["cpu_ms_op"]))
        for c, ratio in _ratios(load_rows).items():
            print("2 servers / 1 server at %s clients: %sx" % (c, ratio))
    if scale:
        print()
        print("scale: %s stored, filled in %s s" % (scale["stored"], scale["fill_s"]))
        print("%-24s %10s %10s %7s %6s %16s %9s" % (
            "probe (p50)", "empty ms", "full ms", "ratio", "<= 2x", "CPU ms empty/full",
            "CPU ratio"))
        for r in scale["rows"]:
            print("%-24s %10s %10s %7s %6s %16s %9s" % (
                r["probe"], r["empty_ms"], r["full_ms"], r["ratio"],
                "PASS" if r["ratio"] <= SCALE_RATIO else "FAIL",
                "%s / %s" % (r["empty_cpu_ms"], r["full_cpu_ms"]), r["cpu_ratio"]))
        print("(CPU: server + PostgreSQL per request)")


def _ratios(rows):
    by = {(r["servers"], r["clients"]): r for r in rows}
    return {c: round(by[(2, c)]["ops_s"] / by[(1, c)]["ops_s"], 2)
            for (s, c) in by if s == 1 and (2, c) in by and by[(1, c)]["ops_s"]}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--duration", type=float, default=60.0,
                   help="seconds per load level (default: %(default)s)")
    p.add_argument("--levels", default=",".join(map(str, LEVELS)),
                   help="concurrent clients per level (default: %(default)s)")
    p.add_argument("--agents", type=int, default=16,
                   help="noop agents attached during the load (default: %(default)s)")
    p.add_argument("--procs", type=int, default=2,
                   help="client processes (default: %(default)s)")
    p.add_argument("--probe-reps", type=int, default=50,
                   help="repetitions of each scale probe (default: %(default)s)")
    p.add_argument("--skip-load", action="store_true", help="only the scale run")
    p.add_argument("--skip-scale", action="store_true", help="only the load levels")
    args = p.parse_args(argv)
    args.levels = [int(x) for x in args.levels.split(",")]
    return args


def main(argv=None):
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,    # the agents' warnings
                        format="[%(asctime)s] %(name)s: %(message)s", datefmt="%H:%M:%S")
    t_start = time.time()
    pg = Postgres()
    load_rows, scale = [], None
    try:
        if not args.skip_load:
            load_rows = load_part(pg, args)
        if not args.skip_scale:
            scale = scale_part(pg, args)
    finally:
        pg.stop()
    print_tables(load_rows, scale)
    headline = {
        "bench": "load", "duration_s": args.duration,
        "load": [{k: r[k] for k in ("servers", "clients", "ops_s", "p50_ms", "p99_ms",
                                     "non_2xx", "5xx", "failed", "cpu_ms_op")}
                 for r in load_rows],
        "ratio_2_to_1": _ratios(load_rows),
        "errors_total": sum(r["non_2xx"] + r["failed"] + r["setup_errors"] for r in load_rows),
        "5xx_total": sum(r["5xx"] for r in load_rows),
        "scale_max_ratio": max(r["ratio"] for r in scale["rows"]) if scale else None,
        "scale_max_cpu_ratio": max((r["cpu_ratio"] or 0) for r in scale["rows"])
        if scale else None,
        "scale_stored": scale["stored"] if scale else None,
        "wall_s": round(time.time() - t_start, 1)}
    print(json.dumps(headline))


if __name__ == "__main__":
    main()
