"""Faults on the host side that must lose nothing, on one isolated Stack (server with two worker
processes, private Open vSwitch in its own namespace, agent) per back end:

- ``kill -9`` of the agent in the middle of wiring a 500-subport trunk, and the trunk changed
  while the agent is dead: the restarted agent converges to exactly the desired state (every
  spi-/spt- pair once, with the right tags, nothing stale, br-int's flows once) and the trunk
  and its subports reach ACTIVE;
- a host that disappears (its agent frozen with SIGSTOP: no heartbeat, nothing cleaned up):
  the agent is reported ``alive: false`` after ``--agent-down-time``, the server's periodic
  check sets its ports and its trunk DOWN (each exactly once, though both workers check), and
  when it returns it converges and everything is ACTIVE again.

(Agent, server and ovs-vswitchd restarts under a running ping are in test_agent_e2e.py.)
"""
import os
import signal
import time
import uuid

import pytest
import requests

from helpers.api import BACKENDS
from helpers.dataplane import needs_root_ovs
from helpers.server import running_stack, wait_for
from trunkline.agent import ovsdb
from trunkline.lab import vm as labvm
from trunkline.stack import Stack

pytestmark = needs_root_ovs

DOWN_TIME = 5           # --agent-down-time of the stack's server (5x the report interval)
SUBPORTS = 500



class Env:
    def __init__(self, root, db_url):
        self.root = root
        self.lab_dir = os.path.join(root, "lab")
        self.stack = Stack(os.path.join(root, "stack"), db_url=db_url, isolated=True, workers=2,
                           server_args=["--agent-down-time", str(DOWN_TIME), "--quota-port", "-1"],
                           agent_args=["--report-interval", "1"], log=lambda *_: None)
        self.http = requests.Session()

    def api(self, method, path, body=None, ok=None, params=None):
        r = self.http.request(method, self.stack.url + "/v2.0" + path, json=body, params=params,
                              timeout=30)
        data = r.json() if r.content else None
        if ok is not None:
            assert r.status_code == ok, (method, path, r.status_code, data)
        return data

    def create(self, member, **attrs):
        return self.api("POST", "/%ss" % member, {member: attrs}, ok=201)[member]

    def bulk_ports(self, net_id, count):
        ports = []
        while len(ports) < count:
            n = min(250, count - len(ports))
            ports += self.api("POST", "/ports", {"ports": [{"network_id": net_id}] * n},
                              ok=201)["ports"]
        return ports

    def trunk(self, trunk_id):
        return self.api("GET", "/trunks/" + trunk_id, ok=200)["trunk"]

    def statuses(self, port_ids):
        ports = self.api("GET", "/ports", ok=200, params={"id": list(port_ids)})["ports"]
        return {p["id"]: p["status"] for p in ports}

    def agent(self):
        return self.api("GET", "/agents", ok=200, params={
            "host": self.stack.host, "agent_type": "Open vSwitch agent"})["agents"][0]

    def agent_proc(self):
        return dict(self.stack.procs)["agent"]

    def vm(self, name, port_id):
        labvm.create_vm(self.stack.url, name, port_id, host=self.stack.host,
                        state_dir=self.lab_dir)

    # -- the switch
    def ports(self):
        """[(bridge, port name, tag)] of every Port, duplicates kept."""
        out = []
        for br in self.stack.ovs.vsctl("list-br").split():
            for name in self.stack.ovs.vsctl("list-ports", br).split():
                out.append((br, name))
        tags = {}
        for line in self.stack.ovs.vsctl("--format=csv", "--data=bare", "--no-headings",
                                         "--columns=name,tag", "list", "Port").splitlines():
            name, tag = line.split(",")
            tags.setdefault(name, []).append(tag)
        return [(br, name, tags[name]) for br, name in out]

    def flows(self, bridge):
        out = self.stack.ovs.ofctl("dump-flows", "--no-stats", self.stack.ovs.mgmt(bridge))
        return sorted(line.strip() for line in out.splitlines() if "actions=" in line)


@pytest.fixture(scope="module", params=BACKENDS)
def env(request):
    db_url = None if request.param == "sqlite" else \
        request.getfixturevalue("postgres").new_database()
    with running_stack(lambda root: Env(root, db_url), "tl-faults") as e:
        yield e


def test_agent_kill9_while_wiring_500_subports_converges(env):
    net_a = env.create("network", name="fa")["id"]
    net_b = env.create("network", name="fb")["id"]
    parent = env.create("port", network_id=net_a, name="fparent")
    subs = env.bulk_ports(net_b, SUBPORTS + 20)
    trunk = env.create("trunk", port_id=parent["id"], name="f500")["id"]
    env.vm("f500-" + uuid.uuid4().hex[:4], parent["id"])
    wait_for(lambda: env.trunk(trunk)["status"] == "ACTIVE", 30, "the empty trunk ACTIVE")
    tbr = "tbr-" + trunk[:10]

    env.api("PUT", "/trunks/%s/add_subports" % trunk, {"sub_ports": [
        {"port_id": p["id"], "segmentation_type": "vlan", "segmentation_id": i + 1}
        for i, p in enumerate(subs[:SUBPORTS])]}, ok=200)
    # kill -9 as soon as the agent's pass has reached the switch (it still waits for
    # ovs-vswitchd to apply the transaction, then adds flows and reports)
    agent = env.agent_proc()
    with ovsdb.Ovsdb(env.stack.ovs.db) as db:
        wait_for(lambda: any(r["name"].startswith("spt-") for r in db.select("Port", ["name"])),
                 30, "the agent to start wiring", interval=0.002)
    os.killpg(agent.pid, signal.SIGKILL)
    agent.wait()
    at_kill = env.trunk(trunk)["status"]
    wired_at_kill = sum(1 for _, name, _ in env.ports() if name.startswith("spt-"))
    # the trunk changes while no agent runs: 100 subports go, 20 come
    env.api("PUT", "/trunks/%s/remove_subports" % trunk,
            {"sub_ports": [{"port_id": p["id"]} for p in subs[:100]]}, ok=200)
    env.api("PUT", "/trunks/%s/add_subports" % trunk, {"sub_ports": [
        {"port_id": p["id"], "segmentation_type": "vlan", "segmentation_id": 1000 + i}
        for i, p in enumerate(subs[SUBPORTS:])]}, ok=200)
    t0 = time.monotonic()
    env.stack.restart("agent")
    wait_for(lambda: env.trunk(trunk)["status"] == "ACTIVE", 60, "the trunk ACTIVE")
    want = {p["id"]: i + 1 for i, p in enumerate(subs[:SUBPORTS])}
    want.update({p["id"]: 1000 + i for i, p in enumerate(subs[SUBPORTS:])})
    for p in subs[:100]:
        del want[p["id"]]
    wait_for(lambda: set(env.statuses(want).values()) == {"ACTIVE"}, 30,
             "every subport ACTIVE")
    print("\nkilled with the trunk %s and %d of %d spt- ports in OVSDB; converged to %d "
          "subports in %.1f s" % (at_kill, wired_at_kill, SUBPORTS, len(want),
                                  time.monotonic() - t0))

    ports = env.ports()
    names = [name for _, name, _ in ports]
    assert len(names) == len(set(names)), "duplicate ports"
    where = {name: (br, tags) for br, name, tags in ports}
    spi_tag = where["tpi-" + parent["id"][:11]][1]
    assert where["tpt-" + parent["id"][:11]] == (tbr, ["0"])
    sub_vlan = None
    for pid, seg in want.items():
        spt, spi = where.pop("spt-" + pid[:11]), where.pop("spi-" + pid[:11])
        assert spt == (tbr, [str(seg)]), (pid, spt)
        assert spi[0] == "br-int" and len(spi[1]) == 1 and spi[1] != spi_tag
        assert sub_vlan in (None, spi[1]), "subports of one network on different local VLANs"
        sub_vlan = spi[1]
    stale = [name for name in where if name.startswith(("spi-", "spt-"))]
    assert not stale, stale
    # each patch interface names its own port, and only live ones are left
    with ovsdb.Ovsdb(env.stack.ovs.db) as db:
        ifaces = {r["name"]: ovsdb.py(r["external_ids"]).get("iface-id")
                  for r in db.select("Interface", ["name", "external_ids"])}
    patches = {n: i for n, i in ifaces.items() if n.startswith(("spi-", "spt-"))}
    assert len(patches) == 2 * len(want)
    assert all(n[4:] == i[:11] and i in want for n, i in patches.items()), patches
    flows = env.flows("br-int")
    assert len(flows) == 2 and any("dl_vlan=4095" in f and "actions=drop" in f for f in flows) \
        and any("priority=0" in f and "actions=NORMAL" in f for f in flows), flows
    assert [f for f in env.flows(tbr) if "actions=NORMAL" in f], env.flows(tbr)
    assert env.agent()["alive"]


def test_host_disappears_ports_down_then_back(env):
    net = env.create("network", name="fh")["id"]
    parent = env.create("port", network_id=net, name="fh-parent")
    subs = env.bulk_ports(net, 2)
    trunk = env.create("trunk", port_id=parent["id"], name="fh", sub_ports=[
        {"port_id": p["id"], "segmentation_type": "vlan", "segmentation_id": 100 + i}
        for i, p in enumerate(subs)])["id"]
    plain = env.create("port", network_id=net, name="fh-plain")
    env.vm("fh-" + uuid.uuid4().hex[:4], parent["id"])
    env.vm("fp-" + uuid.uuid4().hex[:4], plain["id"])
    ids = [parent["id"], plain["id"]] + [p["id"] for p in subs]
    wait_for(lambda: env.trunk(trunk)["status"] == "ACTIVE"
             and set(env.statuses(ids).values()) == {"ACTIVE"}, 30, "everything ACTIVE")
    revisions = {p["id"]: p["revision_number"] for p in env.api(
        "GET", "/ports", ok=200, params={"id": ids})["ports"]}

    agent = env.agent_proc()
    os.kill(agent.pid, signal.SIGSTOP)
    try:
        t0 = time.monotonic()
        wait_for(lambda: not env.agent()["alive"], 3 * DOWN_TIME + 5, "the agent to be dead")
        dead_after = time.monotonic() - t0
        wait_for(lambda: set(env.statuses(ids).values()) == {"DOWN"}
                 and env.trunk(trunk)["status"] == "DOWN", 2 * DOWN_TIME + 5,
                 "the lost host's ports and trunk DOWN")
        down_after = time.monotonic() - t0
        time.sleep(DOWN_TIME)   # several more checks by both workers change nothing more
        after = {p["id"]: p["revision_number"] for p in env.api(
            "GET", "/ports", ok=200, params={"id": ids})["ports"]}
        assert after == {pid: rev + 1 for pid, rev in revisions.items()}
    finally:
        os.kill(agent.pid, signal.SIGCONT)
    t1 = time.monotonic()
    wait_for(lambda: env.agent()["alive"] and env.trunk(trunk)["status"] == "ACTIVE"
             and set(env.statuses(ids).values()) == {"ACTIVE"}, 40,
             "the returning host to converge")
    print("\nagent-down-time %d s: reported dead after %.1f s, its ports DOWN after %.1f s; "
          "ACTIVE again %.1f s after it returned"
          % (DOWN_TIME, dead_after, down_after, time.monotonic() - t1))
    assert agent.poll() is None
