#!/usr/bin/env python3
"""Agents benchmark: how a change reaches 10, 100, 1000 agents (noop driver) on one machine.

    .venv/bin/python bench/agents.py                       # 10 -> 100 -> 1000 agents (~3 min)
    .venv/bin/python bench/agents.py --counts 10,100 --changes 10     # quicker

Starts a private PostgreSQL cluster and one ``trunkline server --workers 2`` (one process per
core; --workers), then grows a population of in-process agents (agent/main.py ``Agent``
with the noop driver, two threads each; 1000 agent processes would not fit in memory), each on
its own host with one bound port, all watching the server. At each size it measures:

  port change     a port created bound to one host: from the API call to the first pass of that
                  host's agent that fetched a state containing it (p50/p99 over --changes)
  network change  an update (its name) of the network every agent has a port on: a network
                  change concerns every agent, so all of them refetch their state; from the API
                  call to each agent's first pass that includes it (p50/p99 over agents x
                  --changes). The worst case: every agent needs the change at once
  CPU per change  server (and PostgreSQL) CPU seconds during each phase, less the idle rate
                  (heartbeats every --report-interval s), divided by the number of changes
  per watcher     server RSS (all its processes) with the agents idle (before the changes)
                  minus RSS before any agent, divided by agents (each agent keeps one watch
                  open); "RSS MB" is the server's RSS after the changes
  agent errors    agent passes that failed (a request timed out or was refused) at that size,
                  most while the population comes up; measuring starts once none failed
                  for 5 s ("settle s")

Latencies include the agents' side (the watch's HTTP answer, the state fetch) running in this one
Python process, so at 1000 agents they are an upper bound. Prints a table and, last, one JSON
line. Everything started is stopped by PID and removed.
"""
import argparse
import collections
import json
import logging
import os
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))

from sqlalchemy import create_engine, func, select   # noqa: E402

from api import Http, cpu_s, log, pct, rss_mb, tree   # noqa: E402  (bench/api.py)
from helpers.server import NO_QUOTAS, Postgres, Server       # noqa: E402  (tests/helpers/server.py)
from trunkline.agent.main import Agent                # noqa: E402
from trunkline.agent.noop import NoopDriver           # noqa: E402
from trunkline.db import schema                       # noqa: E402
from trunkline.db.engine import normalise_url         # noqa: E402

TARGETS = {"p99_1000_s": 1.0, "watcher_kib": 100.0}
UP_TIMEOUT = 300.0      # for a population to register and have its ports ACTIVE
SETTLE_TIMEOUT = 120.0  # for the agents' start-up retries to end


class TimedNoop(NoopDriver):
    """The noop driver, remembering when each pass ran and which revision it worked from."""

    def __init__(self):
        super().__init__()
        self.passes = collections.deque(maxlen=64)      # (monotonic time, revision)

    def reconcile(self, state, plugs):
        self.passes.append((time.monotonic(), state["revision"]))
        return super().reconcile(state, plugs)

    def reached(self, revision, after):
        """When the first pass after ``after`` that saw ``revision`` ran, or None."""
        for t, rev in list(self.passes):
            if t >= after and rev >= revision:
                return t
        return None


class FailedPasses(logging.Filter):
    """Counts the agents' "pass failed" warnings."""
    count = 0

    def filter(self, record):
        if "pass failed" in record.msg:
            self.count += 1
        return True


FAILED = FailedPasses()


class Population:
    def __init__(self, url, api, net_id, report_interval, resync_interval):
        self.url, self.api, self.net_id = url, api, net_id
        self.report_interval, self.resync_interval = report_interval, resync_interval
        self.agents = []        # (Agent, TimedNoop)

    def grow(self, count):
        threading.stack_size(512 * 1024)
        while len(self.agents) < count:
            host = "bench-h%04d" % len(self.agents)
            driver = TimedNoop()
            agent = Agent(host, self.url, driver, report_interval=self.report_interval,
                          resync_interval=self.resync_interval)
            threading.Thread(target=agent.run, daemon=True).start()
            self.agents.append((agent, driver))
            if len(self.agents) % 25 == 0:
                time.sleep(0.5)             # a fleet comes up over time, not in one instant
        deadline = time.monotonic() + UP_TIMEOUT
        self._wait(lambda: all(a.registered for a, _ in self.agents), deadline)
        hosts = [a.host for a, d in self.agents if a.registered and not d.wired]
        for i in range(0, len(hosts), 100):   # one port per new host, bulk-created
            self.api.call("POST", "/v2.0/ports", {"ports": [
                {"network_id": self.net_id, "binding:host_id": h} for h in hosts[i:i + 100]]})
        # each agent has its port wired and reported; those that do not make it in time are
        # counted, not waited for
        self._wait(lambda: all(d.wired for _, d in self.agents), deadline)
        return sum(1 for _, d in self.agents if d.wired)

    @staticmethod
    def _wait(pred, deadline):
        while not pred() and time.monotonic() < deadline:
            time.sleep(0.1)

    def stop(self):
        for agent, _ in self.agents:
            agent.stop()


def change_revision(engine, resource_id):
    with engine.connect() as conn:
        return conn.execute(select(func.max(schema.changes.c.revision)).where(
            schema.changes.c.resource_id == resource_id)).scalar()


def wait_reached(drivers, revision, t0, timeout=30.0):
    """Latencies (s) of ``drivers`` reaching ``revision``; None for one that did not in time."""
    deadline = time.monotonic() + timeout
    out = [None] * len(drivers)
    while time.monotonic() < deadline:
        for i, d in enumerate(drivers):
            if out[i] is None:
                t = d.reached(revision, t0)
                if t is not None:
                    out[i] = t - t0
        if all(v is not None for v in out):
            break
        time.sleep(0.01 if len(drivers) < 100 else 0.05)   # this process hosts the agents
    return out


def settle(quiet=5.0, limit=SETTLE_TIMEOUT):
    """Wait until no agent pass has failed for ``quiet`` s (agents that timed out while the
    population came up retry after a backoff of up to 30 s): the figures are for a fleet at
    work, not one starting. Returns the seconds waited."""
    t0 = time.monotonic()
    time.sleep(3.0)                                  # startup passes, reports
    last, since = FAILED.count, time.monotonic()
    while time.monotonic() - since < quiet and time.monotonic() - t0 < limit:
        time.sleep(0.5)
        if FAILED.count != last:
            last, since = FAILED.count, time.monotonic()
    return round(time.monotonic() - t0, 1)


def measure(pop, engine, changes, server_pids, pg_pids, rss):
    """Idle cost and memory, port changes (one agent each) and network changes (every
    agent)."""
    res = {"agents": len(pop.agents), "settle_s": settle()}
    t_idle, c0, p0 = 5.0, cpu_s(server_pids()), cpu_s(pg_pids())
    time.sleep(t_idle)
    idle_rate = (cpu_s(server_pids()) - c0) / t_idle
    idle_pg = (cpu_s(pg_pids()) - p0) / t_idle
    res["idle_server_cpu_pct"] = round(idle_rate * 100, 1)
    res["idle_rss_mb"] = rss()

    def cpu_phase(run):
        c, p, t = cpu_s(server_pids()), cpu_s(pg_pids()), time.monotonic()
        run()
        dt = time.monotonic() - t
        return (max(0.0, cpu_s(server_pids()) - c - idle_rate * dt),
                max(0.0, cpu_s(pg_pids()) - p - idle_pg * dt))

    port_lat, missed = [], 0

    def port_changes():
        nonlocal missed
        up = [(a, d) for a, d in pop.agents if d.wired]
        for i in range(changes):
            agent, driver = up[(i * 7919) % len(up)]
            t0 = time.monotonic()
            port = pop.api.call("POST", "/v2.0/ports", {"port": {
                "network_id": pop.net_id, "binding:host_id": agent.host}})["port"]
            lat = wait_reached([driver], change_revision(engine, port["id"]), t0)[0]
            missed += lat is None
            if lat is not None:
                port_lat.append(lat)
            time.sleep(0.2)
    srv, pg = cpu_phase(port_changes)
    res.update(port_p50_ms=_ms(pct(port_lat, 50)), port_p99_ms=_ms(pct(port_lat, 99)),
               port_cpu_ms=_ms(srv / changes), port_pg_cpu_ms=_ms(pg / changes))
    log("port changes: %s" % json.dumps(res))

    net_lat = []

    def network_changes():
        nonlocal missed
        drivers = [d for _, d in pop.agents if d.wired]     # the agents that are up
        for i in range(changes):
            t0 = time.monotonic()
            pop.api.call("PUT", "/v2.0/networks/" + pop.net_id,
                         {"network": {"name": "bench-%d" % i}})
            lats = wait_reached(drivers, change_revision(engine, pop.net_id), t0)
            missed += sum(v is None for v in lats)
            got = [v for v in lats if v is not None]
            net_lat.extend(got)
            log("network change %d: p50 %s ms, max %s ms, %d not within 30 s" % (
                i, _ms(pct(got, 50)), _ms(max(got) if got else None), len(lats) - len(got)))
            time.sleep(0.5)
    srv, pg = cpu_phase(network_changes)
    res.update(net_p50_ms=_ms(pct(net_lat, 50)), net_p99_ms=_ms(pct(net_lat, 99)),
               net_max_ms=_ms(max(net_lat) if net_lat else None),
               net_cpu_ms=_ms(srv / changes), net_pg_cpu_ms=_ms(pg / changes), missed=missed)
    return res


def _ms(seconds):
    return None if seconds is None else round(seconds * 1000, 1)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--counts", default="10,100,1000",
                   help="agent population sizes, growing (default: %(default)s)")
    p.add_argument("--changes", type=int, default=20,
                   help="port changes and network changes per size (default: %(default)s)")
    p.add_argument("--report-interval", type=float, default=30.0,
                   help="the agents' heartbeat interval in seconds (default: %(default)s, "
                        "Neutron's default report_interval)")
    p.add_argument("--resync-interval", type=float, default=30.0,
                   help="the agents' full resync interval in seconds (default: %(default)s, "
                        "the agent's default)")
    p.add_argument("--workers", type=int, default=2,
                   help="server worker processes (default: %(default)s)")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,    # the agents' warnings
                        format="[%(asctime)s] %(name)s: %(message)s", datefmt="%H:%M:%S")
    logging.getLogger("trunkline.agent").addFilter(FAILED)
    counts = [int(c) for c in args.counts.split(",")]
    t_start = time.time()
    pg = Postgres()
    server = pop = engine = None
    rows = []
    try:
        url = pg.new_database()
        server = Server(url, workers=args.workers, extra=NO_QUOTAS)
        engine = create_engine(normalise_url(url))
        with open(os.path.join(pg.data, "postmaster.pid")) as f:
            pg_pid = int(f.readline())
        api = Http(server.url, "bench-agents")
        net = api.call("POST", "/v2.0/networks", {"network": {"name": "bench"}})["network"]
        api.call("POST", "/v2.0/subnets", {"subnet": {
            "network_id": net["id"], "cidr": "10.64.0.0/16", "ip_version": 4}})
        time.sleep(1.0)
        rss0 = rss_mb(server.proc.pid)
        pop = Population(server.url, api, net["id"], args.report_interval,
                         args.resync_interval)
        for count in counts:
            log("growing to %d agents" % count)
            FAILED.count = 0
            up = pop.grow(count)
            res = measure(pop, engine, args.changes, lambda: tree(server.proc.pid),
                          lambda: tree(pg_pid), lambda: rss_mb(server.proc.pid))
            time.sleep(2.0)
            res.update(server_rss_mb=rss_mb(server.proc.pid), agent_errors=FAILED.count,
                       agents_up=up,
                       watcher_kib=round((res["idle_rss_mb"] - rss0) * 1024 / count, 1))
            log(json.dumps(res))
            rows.append(res)
    finally:
        if pop:
            pop.stop()
        if engine:
            engine.dispose()
        if server:
            server.stop()
        pg.stop()
    print("agents: heartbeat every %g s, full resync every %g s; server --workers %d"
          % (args.report_interval, args.resync_interval, args.workers))
    print_table(rows)
    last = rows[-1] if rows else {}
    headline = {"bench": "agents", "rows": rows, "report_interval": args.report_interval,
                "resync_interval": args.resync_interval, "workers": args.workers,
                "p99_at_max_ms": last.get("net_p99_ms"),
                "watcher_kib_at_max": last.get("watcher_kib"),
                "targets": {
                    "p99_1000_lt_1s": None if last.get("agents") != 1000 else
                    max(last["net_p99_ms"], last["port_p99_ms"]) < TARGETS["p99_1000_s"] * 1000,
                    "watcher_lt_100kib": None if not last else
                    last["watcher_kib"] < TARGETS["watcher_kib"]},
                "wall_s": round(time.time() - t_start, 1)}
    print(json.dumps(headline))


def print_table(rows):
    cols = [("agents (up)", ("agents", "agents_up")), ("port p50/p99 ms", ("port_p50_ms", "port_p99_ms")),
            ("net p50/p99/max ms", ("net_p50_ms", "net_p99_ms", "net_max_ms")),
            ("CPU/port chg ms", ("port_cpu_ms", "port_pg_cpu_ms")),
            ("CPU/net chg ms", ("net_cpu_ms", "net_pg_cpu_ms")),
            ("idle CPU %", "idle_server_cpu_pct"), ("RSS MB", "server_rss_mb"),
            ("KiB/watcher", "watcher_kib"), ("settle s", "settle_s"), ("missed", "missed"),
            ("agent errors", "agent_errors")]
    print("CPU columns: server / PostgreSQL, ms per change beyond the idle rate")
    print("  ".join("%-18s" % c for c, _ in cols))
    for r in rows:
        cells = []
        for _, keys in cols:
            keys = keys if isinstance(keys, tuple) else (keys,)
            cells.append("%-18s" % " / ".join(str(r.get(k)) for k in keys))
        print("  ".join(cells))


if __name__ == "__main__":
    main()
