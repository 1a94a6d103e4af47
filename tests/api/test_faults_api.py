"""Faults on the server side that must lose nothing, on SQLite and PostgreSQL:

- ``kill -9`` of a (two-worker) server during 1000 concurrent writes (networks, ports with fixed
  IPs, trunks with subports, add_subports): after a restart every write answered 2xx is there
  exactly, and a write that was not answered is there whole or not at all (no port without its
  address, no trunk missing a subport, no revision without its change-log rows), checked through
  the API and with SQL against the database;
- PostgreSQL stopped (fast, or immediate: a crash) and started under load: requests meanwhile get a Neutron 503
  (``ServiceUnavailable``), never a 500 or a hang; the servers recover by themselves, and an
  agent's long poll of /agent/v1/watch spans the outage;
- a host whose agent stops heartbeating, seen by two servers: its ports and trunk go DOWN
  exactly once, and ACTIVE again when it reports;
- ``--agent-down-time`` (Neutron's agent_down_time, default 75 s) is checked and documented.

(50 concurrent add_subports and the last-IP race run on both back ends in test_concurrency.py.)
"""
import ipaddress
import subprocess
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from sqlalchemy import create_engine, func, select

from helpers.api import Client
from helpers.server import NO_QUOTAS, TRUNKLINE, Postgres, Server
from helpers.channel import Channel
from trunkline.db import engine as db_engine
from trunkline.db import schema

THREADS = 32
KILL_AFTER = 350        # answered writes before the kill
NETWORKS, FIXED, TRUNKS, ADDS = 250, 350, 150, 250
BASE_TRUNKS = 5


def _call(url, method, path, body):
    """(status, body) or (None, error text) when the request got no answer."""
    try:
        r = requests.request(method, url + "/v2.0" + path, json=body, timeout=30)
    except requests.RequestException as e:
        return None, type(e).__name__
    return r.status_code, r.json() if r.content else None


def _bulk_ports(client, net_id, count, prefix):
    ports = []
    while len(ports) < count:
        n = min(250, count - len(ports))
        status, body = client.post("/ports", {"ports": [
            {"network_id": net_id, "name": "%s-%d" % (prefix, len(ports) + i)}
            for i in range(n)]})
        assert status == 201, body
        ports += [p["id"] for p in body["ports"]]
    return ports


def _plan(client):
    """The base network and trunks, the ports the writes use, and the 1000 writes."""
    net = client.create("network", name="kbase")
    sub = client.create("subnet", network_id=net["id"], cidr="10.70.0.0/16", ip_version=4)
    free = iter(_bulk_ports(client, net["id"], 3 * TRUNKS + 2 * ADDS + BASE_TRUNKS, "kp"))
    bases = [client.create("trunk", port_id=next(free), name="kbase-%d" % i)["id"]
             for i in range(BASE_TRUNKS)]
    ops = []
    for i in range(NETWORKS):
        ops.append(("network", "kn-%d" % i, "POST", "/networks",
                    {"network": {"name": "kn-%d" % i}}))
    for i in range(FIXED):
        ip = str(ipaddress.ip_address("10.70.128.1") + i)
        ops.append(("port", "kf-%d" % i, "POST", "/ports", {"port": {
            "network_id": net["id"], "name": "kf-%d" % i,
            "fixed_ips": [{"subnet_id": sub["id"], "ip_address": ip}]}}))
    for i in range(TRUNKS):
        parent, a, b = next(free), next(free), next(free)
        ops.append(("trunk", "kt-%d" % i, "POST", "/trunks", {"trunk": {
            "name": "kt-%d" % i, "port_id": parent, "sub_ports": [
                {"port_id": a, "segmentation_type": "vlan", "segmentation_id": 10},
                {"port_id": b, "segmentation_type": "vlan", "segmentation_id": 20}]}}))
    for i in range(ADDS):
        trunk = bases[i % BASE_TRUNKS]
        seg = 1 + 2 * (i // BASE_TRUNKS)
        ops.append(("add", "ka-%d" % i, "PUT", "/trunks/%s/add_subports" % trunk, {"sub_ports": [
            {"port_id": next(free), "segmentation_type": "vlan", "segmentation_id": seg},
            {"port_id": next(free), "segmentation_type": "vlan", "segmentation_id": seg + 1}]}))
    # interleave the kinds so the kill hits all of them
    ops.sort(key=lambda op: (int(op[1].split("-")[1]) * 7919) % 1000)
    return net, sub, bases, ops


def _run_and_kill(server, ops):
    answered = []
    killed = threading.Event()
    lock = threading.Lock()

    def one(op):
        if killed.is_set():
            return None, "not sent"     # the server is gone: what follows is refused anyway
        result = _call(server.url, *op[2:])
        with lock:
            if result[0] is not None and not killed.is_set():
                answered.append(op)
                if len(answered) >= KILL_AFTER:
                    killed.set()
                    server.kill()
        return result

    with ThreadPoolExecutor(THREADS) as pool:
        results = list(pool.map(one, ops))
    assert killed.is_set(), "the server was never killed"
    return results


def _db(url):
    return create_engine(db_engine.normalise_url(url))


def test_kill9_server_during_concurrent_writes(backend, db_url_factory):
    url = db_url_factory(backend)
    server = Server(url, workers=2, extra=NO_QUOTAS)
    try:
        client = Client(server.url)
        net, sub, bases, ops = _plan(client)
        t0 = time.monotonic()
        results = _run_and_kill(server, ops)
        took = time.monotonic() - t0
    finally:
        server.stop()
    ok = sum(1 for s, _ in results if s is not None and s < 300)
    lost = sum(1 for s, _ in results if s is None)
    in_flight = sum(1 for s, e in results if s is None and e != "not sent")
    print("\n%s: %d writes answered 2xx in %.1f s, then kill -9 with %d in flight"
          % (backend, ok, took, in_flight))
    # a write is answered 2xx or not at all: killing the server refuses nothing
    assert all(s is None or s in (200, 201) for s, _ in results), \
        [(op[1], r) for op, r in zip(ops, results) if r[0] is not None and r[0] >= 300][:5]
    assert ok >= KILL_AFTER and lost > 0 and in_flight > 0

    server = Server(url, extra=NO_QUOTAS)
    try:
        applied = _check_after_restart(Client(server.url), url, net, sub, bases, ops, results)
    finally:
        server.stop()
    print("%s: %d unanswered writes had committed whole, the others left nothing"
          % (backend, applied))


def _check_after_restart(client, url, net, sub, bases, ops, results):
    """Assert what the restarted server and the database hold; returns how many unanswered
    writes had committed (whole)."""
    acked = {op[1]: body for op, (s, body) in zip(ops, results) if s is not None}
    by_key = {op[1]: op for op in ops}
    # networks
    nets = {n["name"]: n for n in client.get("/networks")[1]["networks"]}
    for key, body in acked.items():
        if key.startswith("kn-"):
            assert nets[key]["id"] == body["network"]["id"]
    assert {k for k in nets if k.startswith("kn-")} <= {k for k in by_key if k.startswith("kn-")}
    # ports with a fixed IP: answered ones exactly as answered; every one there has its address
    ports = {p["name"]: p for p in client.get("/ports", params={"network_id": net["id"]})[1]
             ["ports"]}
    for key, body in acked.items():
        if key.startswith("kf-"):
            assert ports[key]["id"] == body["port"]["id"]
            assert ports[key]["fixed_ips"] == body["port"]["fixed_ips"]
    for key, port in ports.items():
        if key.startswith("kf-"):
            wanted = by_key[key][4]["port"]["fixed_ips"][0]["ip_address"]
            assert [ip["ip_address"] for ip in port["fixed_ips"]] == [wanted], port
    # trunks created whole, with both subports
    trunks = {t["name"]: t for t in client.get("/trunks")[1]["trunks"]}
    for key, trunk in trunks.items():
        if key.startswith("kt-"):
            want = by_key[key][4]["trunk"]
            assert trunk["port_id"] == want["port_id"]
            assert sorted((s["port_id"], s["segmentation_id"]) for s in trunk["sub_ports"]) == \
                sorted((s["port_id"], s["segmentation_id"]) for s in want["sub_ports"])
    for key in acked:
        if key.startswith("kt-"):
            assert key in trunks
    applied = sum(1 for k in by_key if k not in acked and (k in nets or k in ports
                                                            or k in trunks))
    # add_subports applied whole (both subports) or not at all
    present = {}
    for trunk_id in bases:
        for s in client.get("/trunks/%s/get_subports" % trunk_id)[1]["sub_ports"]:
            present[s["port_id"]] = (trunk_id, s["segmentation_id"])
    for key, op in by_key.items():
        if not key.startswith("ka-"):
            continue
        trunk_id = op[3].split("/")[2]
        want = {s["port_id"]: (trunk_id, s["segmentation_id"]) for s in op[4]["sub_ports"]}
        have = {p: present.get(p) for p in want}
        if key in acked:
            assert have == want, key
        else:
            assert have == want or set(have.values()) == {None}, (key, have)
            applied += have == want
    _check_sql(url, net["id"])
    # and the restarted server takes writes again
    client.create("port", network_id=net["id"], name="after-restart")
    return applied


def _check_sql(url, net_id):
    P, A, T, S = schema.ports, schema.ipallocations, schema.trunks, schema.subports
    R, C = schema.revision, schema.changes
    eng = _db(url)
    try:
        with eng.connect() as conn:
            # every port of the network holds exactly one address of it
            counts = dict(conn.execute(select(P.c.id, func.count(A.c.ip_address))
                                       .select_from(P.outerjoin(A, A.c.port_id == P.c.id))
                                       .where(P.c.network_id == net_id).group_by(P.c.id)).all())
            assert counts and set(counts.values()) == {1}, \
                {k: v for k, v in counts.items() if v != 1}
            assert conn.execute(select(func.count()).select_from(A).where(
                A.c.port_id.not_in(select(P.c.id)))).scalar() == 0
            # no subport row without its trunk or its port, no trunk without its parent
            assert conn.execute(select(func.count()).select_from(S).where(
                S.c.trunk_id.not_in(select(T.c.id)) | S.c.port_id.not_in(select(P.c.id))
            )).scalar() == 0
            assert conn.execute(select(func.count()).select_from(T).where(
                T.c.port_id.not_in(select(P.c.id)))).scalar() == 0
            # the revision counter and the change log: no gap, no revision without its rows
            head = conn.execute(select(R.c.value).where(R.c.id == 1)).scalar()
            revs = set(conn.execute(select(C.c.revision).distinct()).scalars())
            assert revs == set(range(1, head + 1)), sorted(set(range(1, head + 1)) - revs)[:10]
    finally:
        eng.dispose()


# -- PostgreSQL stopped and started under load -----------------------------------------------

@pytest.fixture
def private_pg():
    pg = Postgres()
    yield pg
    pg.stop()


@pytest.mark.parametrize("mode", ["fast", "immediate"])
def test_postgresql_restart_under_load_answers_503_and_recovers(private_pg, mode):
    """``mode``: pg_ctl's shutdown mode (immediate = a crash, recovered at start)."""
    url = private_pg.new_database()
    servers = [Server(url, workers=1, extra=NO_QUOTAS), Server(url, workers=1, extra=NO_QUOTAS)]
    try:
        _load_through_restart(private_pg, servers, mode)
    finally:
        for s in servers:
            s.stop()


def _load_through_restart(pg, servers, mode):
    client = Client(servers[0].url)
    net = client.create("network", name="pg-load")
    client.create("subnet", network_id=net["id"], cidr="10.71.0.0/16", ip_version=4)
    log, stop = [], threading.Event()

    def load(i):
        url = servers[i % len(servers)].url
        while not stop.is_set():
            # ports bound elsewhere: they must not wake the watch on h-pg below
            kind = ("POST", "/ports", {"port": {"network_id": net["id"],
                                                "binding:host_id": "h-load"}}) if i % 2 else \
                ("GET", "/networks", None)
            t = time.monotonic()
            status, body = _call(url, *kind)
            log.append((t, time.monotonic() - t, status, body))
            time.sleep(0.02)

    rev = requests.get(servers[1].url + "/agent/v1/hosts/h-pg/state", timeout=10).json()
    watched = {}

    def watch():
        r = requests.get(servers[1].url + "/agent/v1/watch", timeout=60, params={
            "since": rev["revision"], "host": "h-pg", "timeout": 25})
        watched["answer"] = (r.status_code, r.json())
        watched["at"] = time.monotonic()

    threads = [threading.Thread(target=load, args=(i,)) for i in range(8)]
    watcher = threading.Thread(target=watch)
    for t in threads + [watcher]:
        t.start()
    try:
        time.sleep(1.0)
        t_down = time.monotonic()
        pg.halt(mode)
        time.sleep(2.0)
        pg.start()
        t_up = time.monotonic()
        # the servers come back by themselves; a change made now reaches the waiting watch
        deadline = time.monotonic() + 20
        while True:
            status, body = _call(servers[1].url, "POST", "/ports", {"port": {
                "network_id": net["id"], "binding:host_id": "h-pg"}})
            if status == 201:
                break
            assert time.monotonic() < deadline, (status, body)
            time.sleep(0.2)
        recovered = time.monotonic() - t_up
        watcher.join(30)
        time.sleep(1.0)
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    statuses = [s for _, _, s, _ in log]
    during = [entry for entry in log if t_down <= entry[0] <= t_up]
    unavailable = [b for _, _, s, b in log if s == 503]
    print("\n%d requests, %d during the outage, %d answered 503; writes again %.2f s after "
          "PostgreSQL was back; slowest %.2f s"
          % (len(log), len(during), len(unavailable), recovered, max(d for _, d, _, _ in log)))
    assert set(statuses) <= {200, 201, 503}, [e for e in log if e[2] not in (200, 201, 503)][:3]
    assert unavailable and all(b["NeutronError"]["type"] == "ServiceUnavailable"
                               for b in unavailable)
    # the database's address stays in the server's log
    assert not [b for b in unavailable if "127.0.0.1" in b["NeutronError"]["message"]]
    assert max(d for _, d, _, _ in log) < 10, "a request hung"
    tail = [s for t, _, s, _ in log if t > t_up + recovered + 0.5]
    assert tail and set(tail) <= {200, 201}, tail
    status, answer = watched["answer"]
    assert status == 200 and answer["revision"] > rev["revision"], watched
    assert watched["at"] > t_up, "the watch ended before the outage was over"


# -- a host whose agent is dead, seen by two servers ------------------------------------------

def test_dead_host_ports_down_once_with_two_servers(backend, db_url_factory):
    """Two server processes on one database run the periodic check; the agent of one host
    stops heartbeating: its ports and its trunk go DOWN exactly once (one revision bump each,
    one change-log row that wakes the host's watch), the other host's ports are untouched, and
    when the agent reports again the statuses are ACTIVE and stay so."""
    url = db_url_factory(backend)
    servers = [Server(url, extra=("--agent-down-time", "3")) for _ in range(2)]
    stop, alive = threading.Event(), threading.Event()
    try:
        a, b = Channel(servers[0].url), Channel(servers[1].url)
        client = Client(servers[0].url)
        host, other = "dead-" + uuid.uuid4().hex[:6], "live-" + uuid.uuid4().hex[:6]
        def beat(chan, h, until):
            while not until.wait(0.5):
                chan.register(h)
        a.register(host)
        a.register(other)
        threading.Thread(target=beat, args=(b, other, stop), daemon=True).start()
        threading.Thread(target=beat, args=(a, host, alive), daemon=True).start()
        net = client.create("network")
        parent, sub = client.create("port", network_id=net["id"]), \
            client.create("port", network_id=net["id"])
        trunk = client.create("trunk", port_id=parent["id"], sub_ports=[
            {"port_id": sub["id"], "segmentation_type": "vlan", "segmentation_id": 7}])
        plain = client.create("port", network_id=net["id"], **{"binding:host_id": host})
        kept = client.create("port", network_id=net["id"], **{"binding:host_id": other})
        assert client.put("/ports/" + parent["id"],
                          {"port": {"binding:host_id": host}})[0] == 200
        mine = [parent["id"], sub["id"], plain["id"]]
        assert a.report(host, {p: "ACTIVE" for p in mine}, {trunk["id"]: "ACTIVE"})[0] == 204
        assert a.report(other, {kept["id"]: "ACTIVE"})[0] == 204

        def ports():
            return {p["id"]: p for p in client.get("/ports")[1]["ports"]}
        before = ports()
        assert {before[p]["status"] for p in mine + [kept["id"]]} == {"ACTIVE"}
        since = a.state(host)["revision"]
        alive.set()             # the host disappears
        deadline = time.monotonic() + 15
        while not (all(ports()[p]["status"] == "DOWN" for p in mine)
                   and client.get("/trunks/" + trunk["id"])[1]["trunk"]["status"] == "DOWN"):
            assert time.monotonic() < deadline, ports()
            time.sleep(0.2)
        time.sleep(3.5)         # several more checks by both servers change nothing more
        after = ports()
        for p in mine:
            assert after[p]["revision_number"] == before[p]["revision_number"] + 1
        assert after[kept["id"]]["status"] == "ACTIVE"
        assert after[kept["id"]]["revision_number"] == before[kept["id"]]["revision_number"]
        agents = {g["host"]: g["alive"] for g in client.get("/agents")[1]["agents"]}
        assert agents == {host: False, other: True}
        status, woke = b.get("/watch", since=since, host=host, timeout=0)
        assert status == 200 and woke["revision"] > since
        # the host comes back: it heartbeats and reports its wiring
        a.register(host)
        threading.Thread(target=beat, args=(a, host, stop), daemon=True).start()
        assert a.report(host, {p: "ACTIVE" for p in mine}, {trunk["id"]: "ACTIVE"})[0] == 204
        time.sleep(2.5)
        back = ports()
        assert {back[p]["status"] for p in mine} == {"ACTIVE"}
        assert client.get("/trunks/" + trunk["id"])[1]["trunk"]["status"] == "ACTIVE"
    finally:
        stop.set()
        alive.set()
        for s in servers:
            s.stop()


# -- the agent_down_time option ---------------------------------------------------------------

def test_agent_down_time_option():
    out = subprocess.run([TRUNKLINE, "server", "--help"], capture_output=True, text=True,
                         timeout=60).stdout
    assert "--agent-down-time S" in out and "(default: 75)" in " ".join(out.split())
    for bad in ("0", "nan"):
        r = subprocess.run([TRUNKLINE, "server", "--agent-down-time", bad], capture_output=True,
                           text=True, timeout=60)
        assert r.returncode == 2 and "not a positive number of seconds" in r.stderr, r.stderr


def test_server_stopping_ends_open_watches_with_a_normal_answer(tmp_path):
    """SIGTERM with agents' long polls open: each gets the "nothing new" answer (200, its own
    revision), not a 500, and the server exits after its short graceful period."""
    srv = Server("sqlite:///%s/stop.db" % tmp_path)
    answers = []
    try:
        since = requests.get(srv.url + "/agent/v1/hosts/h-stop/state", timeout=10).json()[
            "revision"]

        def watch():
            r = requests.get(srv.url + "/agent/v1/watch", timeout=30, params={
                "since": since, "host": "h-stop", "timeout": 25})
            answers.append((r.status_code, r.json() if r.status_code == 200 else r.text))

        watchers = [threading.Thread(target=watch) for _ in range(3)]
        for t in watchers:
            t.start()
        time.sleep(1.0)
        t0 = time.monotonic()
        srv.stop()
        for t in watchers:
            t.join(30)
        assert time.monotonic() - t0 < 10
    finally:
        srv.stop()
    assert answers == [(200, {"revision": since})] * 3
