"""Several servers on one PostgreSQL: a watch on one server is woken by a write through another
(LISTEN/NOTIFY, also across --workers processes and after PostgreSQL restarts), and agents with
a list of servers keep converging when the server they use is killed (noop driver: no switch)."""
import os
import statistics
import subprocess
import threading
import time

import pytest
import requests

from helpers.api import Client
from helpers.server import TRUNKLINE, Postgres, Server
from trunkline.channel import watch as watch_module
from trunkline.stack import stop_group

HOST = "scale-h1"


@pytest.fixture(scope="module")
def pg():
    """A cluster of this module's own: one test restarts it."""
    cluster = Postgres()
    yield cluster
    cluster.stop()


@pytest.fixture(scope="module")
def servers(pg):
    """Server A (one process) and server B (--workers 2) on one database."""
    url = pg.new_database()
    started = []
    try:
        started.append(Server(url))
        started.append(Server(url, workers=2))
        yield started
    finally:
        for srv in started:
            srv.stop()


def revision(url):
    return requests.get(url + "/agent/v1/hosts/%s/state" % HOST, timeout=10).json()["revision"]


def cross_server_latency(watch_url, write_url):
    """Seconds from a write through ``write_url`` until a watch pending on ``watch_url``
    answers with its revision."""
    client = Client(write_url)
    net = client.create("network", name="scale")
    since = revision(watch_url)
    answer = {}

    def watch():
        r = requests.get(watch_url + "/agent/v1/watch",
                         params={"since": since, "host": HOST, "timeout": 20}, timeout=30)
        answer["at"] = time.monotonic()
        answer["revision"] = r.json()["revision"]

    t = threading.Thread(target=watch)
    t.start()
    time.sleep(0.5)                         # the watch is waiting on the server
    assert "at" not in answer, "the watch answered before any change"
    t0 = time.monotonic()
    client.create("port", network_id=net["id"], **{"binding:host_id": HOST})   # concerns HOST
    t.join(30)
    assert answer["revision"] > since
    return answer["at"] - t0


def check_latencies(pairs, label):
    latencies = [cross_server_latency(w, x) for w, x in pairs]
    print("%s: cross-server watch latency p50 %.1f ms, max %.1f ms (fallback poll %.0f s)"
          % (label, statistics.median(latencies) * 1000, max(latencies) * 1000,
             watch_module.POLL_LISTEN))
    # well under the fallback poll: woken by NOTIFY, not by the timer
    assert max(latencies) < watch_module.POLL_LISTEN / 2, latencies


def test_watch_on_one_server_wakes_on_a_write_through_another(servers):
    a, b = servers
    # B has two worker processes: B->B is often across processes as well
    check_latencies([(b.url, a.url), (a.url, b.url), (b.url, b.url)] * 3, "A<->B")


def test_listener_reconnects_after_postgresql_restart(pg, servers):
    a, b = servers
    subprocess.run(["runuser", "-u", "postgres", "--", os.path.join(pg.bindir, "pg_ctl"),
                    "-D", pg.data, "-m", "fast", "-w", "restart"], check=True, cwd="/",
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 20
    while True:                         # the servers recover by themselves
        try:
            if requests.get(a.url + "/v2.0/networks", timeout=5).status_code == 200 and \
                    requests.get(b.url + "/v2.0/networks", timeout=5).status_code == 200:
                break
        except requests.ConnectionError:
            pass
        assert time.monotonic() < deadline, "servers did not recover from the restart"
        time.sleep(0.2)
    time.sleep(1.0)                     # the LISTEN threads' reconnect backoff
    check_latencies([(b.url, a.url), (a.url, b.url)] * 2, "after restart")


class Agent:
    """A ``trunkline agent --driver noop`` process."""

    def __init__(self, host, urls):
        self.proc = subprocess.Popen(
            [TRUNKLINE, "agent", "--driver", "noop", "--host", host, "--server", ",".join(urls),
             "--report-interval", "1", "--log-level", "info"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)

    def stop(self):
        stop_group(self.proc)
        return self.proc.stdout.read()


def wait_for(pred, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(0.1)
    return pred()


def test_noop_agent_fails_over_to_the_next_server(pg):
    url = pg.new_database()
    a, b = Server(url), Server(url)
    agent = None
    try:
        api = Client(b.url)
        net = api.create("network", name="fo")
        api.create("subnet", network_id=net["id"], cidr="10.9.0.0/24", ip_version=4)
        agent = Agent("fo-h1", [a.url, b.url])
        assert wait_for(lambda: api.get("/agents", params={"host": "fo-h1"})[1]["agents"], 10)
        reg = api.get("/agents", params={"host": "fo-h1"})[1]["agents"][0]
        assert reg["agent_type"] == "Open vSwitch agent" and reg["alive"]
        assert reg["configurations"]["driver"] == "noop"

        def port_status(port_id):
            return api.get("/ports/" + port_id)[1]["port"]["status"]

        p1 = api.create("port", network_id=net["id"], **{"binding:host_id": "fo-h1"})
        assert p1["binding:vif_type"] == "ovs"
        assert wait_for(lambda: port_status(p1["id"]) == "ACTIVE", 10)
        a.stop()                        # the server the agent uses
        parent = api.create("port", network_id=net["id"])
        sub = api.create("port", network_id=net["id"])
        trunk = api.create("trunk", port_id=parent["id"], sub_ports=[
            {"port_id": sub["id"], "segmentation_type": "vlan", "segmentation_id": 7}])
        status, _ = api.put("/ports/" + parent["id"],
                            {"port": {"binding:host_id": "fo-h1"}})   # Nova boots the VM
        assert status == 200
        assert wait_for(lambda: port_status(parent["id"]) == "ACTIVE"
                        and port_status(sub["id"]) == "ACTIVE"
                        and api.get("/trunks/" + trunk["id"])[1]["trunk"]["status"]
                        == "ACTIVE", 20)
        hb = api.get("/agents", params={"host": "fo-h1"})[1]["agents"][0]
        time.sleep(2.5)                 # heartbeats (every 1 s) go on through B
        later = api.get("/agents", params={"host": "fo-h1"})[1]["agents"][0]
        assert later["heartbeat_timestamp"] > hb["heartbeat_timestamp"] and later["alive"]
        log = agent.stop()
        agent = None
        assert "switching to %s" % b.url in log, log
    finally:
        if agent:
            print(agent.stop())
        for srv in (a, b):
            if srv.proc.poll() is None:
                srv.stop()
