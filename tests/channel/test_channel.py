"""The agent channel (docs/agent-channel.md), server side, over plain HTTP: registration and
heartbeat, Neutron's agents resource, port binding by live agents, a host's desired state,
the watch long poll (wake-up, timeout, 410), status reports and the DHCP port."""
import asyncio
import datetime
import threading
import time
import uuid

import pytest
import requests

from helpers.api import error_type
from helpers.channel import DHCP, OVS, Channel, get_port, set_heartbeat  # noqa: F401
from helpers.server import Server, wait_for
from trunkline.agent.client import ChannelClient
from trunkline.channel.feed import Feed
from trunkline.channel.notify import DHCP as DHCP_KEY, Notifier, host_key
from trunkline.db import changelog, engine as db_engine, migrate, schema

# Neutron's agent fields (GET /v2.0/agents on Neutron 29) plus nothing else.
AGENT_KEYS = {"id", "agent_type", "binary", "host", "topic", "alive", "admin_state_up",
              "availability_zone", "configurations", "created_at", "started_at",
              "heartbeat_timestamp", "description", "resources_synced"}


@pytest.fixture(scope="module")
def chan(server):
    return Channel(server.url)


@pytest.fixture(scope="module")
def net(client):
    net = client.create("network", name="channel")
    client.create("subnet", network_id=net["id"], cidr="10.50.0.0/24", ip_version=4)
    return net


@pytest.fixture
def host():
    return "host-" + uuid.uuid4().hex[:8]


def port(client, net, **attrs):
    return client.create("port", network_id=net["id"], **attrs)


# -- registration and the agents resource

def test_register_heartbeat_and_agents_resource(client, chan, server, host):
    agent = chan.register(host, datapath_type="netdev")
    assert set(agent) == AGENT_KEYS
    assert agent["host"] == host and agent["agent_type"] == OVS and agent["alive"] is True
    assert agent["binary"] == "trunkline-agent" and agent["topic"] == "N/A"
    assert agent["configurations"] == {"datapath_type": "netdev"}
    assert agent["availability_zone"] is None and agent["admin_state_up"] is True
    assert len(agent["heartbeat_timestamp"]) == 19 and agent["heartbeat_timestamp"][10] == " "
    again = chan.register(host, datapath_type="netdev")
    assert again["id"] == agent["id"] and again["created_at"] == agent["created_at"]
    assert again["heartbeat_timestamp"] >= agent["heartbeat_timestamp"]
    dhcp = chan.register(host, DHCP)
    assert dhcp["topic"] == "dhcp_agent" and dhcp["availability_zone"] == "nova"

    status, body = client.get("/agents", params={"host": host})
    assert status == 200 and {a["id"] for a in body["agents"]} == {agent["id"], dhcp["id"]}
    status, body = client.get("/agents", params={"host": host, "agent_type": OVS})
    assert [a["id"] for a in body["agents"]] == [agent["id"]]
    status, body = client.get("/agents/" + agent["id"])
    assert status == 200 and body["agent"] == dict(again, heartbeat_timestamp=body["agent"][
        "heartbeat_timestamp"])
    status, body = client.put("/agents/" + agent["id"],
                              {"agent": {"admin_state_up": False, "description": "off"}})
    assert status == 200 and body["agent"]["admin_state_up"] is False
    assert body["agent"]["description"] == "off"
    status, body = client.put("/agents/" + agent["id"], {"agent": {"host": "x"}})
    assert status == 400

    status, body = client.delete("/agents/" + agent["id"])
    assert status == 409 and error_type(body) == "AgentAlive"
    set_heartbeat(server, agent["id"], "2001-01-01 00:00:00")
    status, body = client.get("/agents", params={"host": host, "alive": "false"})
    assert [a["id"] for a in body["agents"]] == [agent["id"]]
    assert body["agents"][0]["alive"] is False
    status, body = client.get("/agents", params={"host": host, "alive": "true"})
    assert [a["id"] for a in body["agents"]] == [dhcp["id"]]
    assert client.delete("/agents/" + agent["id"])[0] == 204
    status, body = client.get("/agents/" + agent["id"])
    assert status == 404 and error_type(body) == "AgentNotFound"
    assert client.get("/extensions/agent")[0] == 200


def _stamp(seconds_ago):
    return (datetime.datetime.now(datetime.timezone.utc)
            - datetime.timedelta(seconds=seconds_ago)).strftime("%Y-%m-%d %H:%M:%S")


def test_heartbeat_takes_no_revision_and_wakes_no_watch(client, chan, server, net, host):
    agent = chan.register(host)
    other = "other-" + host
    chan.register(other)
    port(client, net, **{"binding:host_id": host})
    port(client, net, **{"binding:host_id": other})
    since = chan.state(host)["revision"]
    set_heartbeat(server, agent["id"], _stamp(30))      # still alive, 30 s old
    status, body, _ = _watch_while(chan, other, since, 1.5, lambda: chan.register(host))
    assert status == 200 and body == {"revision": since}
    assert chan.get("/watch", since=since, host=host, timeout=0)[1] == {"revision": since}
    assert chan.state(host)["revision"] == since        # no revision taken at all
    shown = client.get("/agents/" + agent["id"])[1]["agent"]
    assert shown["alive"] is True and shown["heartbeat_timestamp"] >= _stamp(5)
    assert shown["started_at"] == agent["started_at"]
    # the answer is the agent as /v2.0/agents shows it
    assert chan.register(host) == dict(
        client.get("/agents/" + agent["id"])[1]["agent"],
        heartbeat_timestamp=chan.register(host)["heartbeat_timestamp"])


def test_heartbeat_of_a_live_agent_still_binds_ports_that_failed(client, chan, server, net,
                                                                  host):
    agent = chan.register(host, datapath_type="netdev")
    set_heartbeat(server, agent["id"], "2001-01-01 00:00:00")
    failed = port(client, net, **{"binding:host_id": host})     # its agent is dead
    assert failed["binding:vif_type"] == "binding_failed"
    set_heartbeat(server, agent["id"], _stamp(10))      # alive again (nothing reported yet)
    chan.register(host, datapath_type="netdev")
    assert get_port(client, failed["id"])["binding:vif_type"] == "ovs"


def test_heartbeat_with_new_configurations_is_stored(client, chan, host):
    agent = chan.register(host, datapath_type="netdev")
    again = chan.register(host, datapath_type="system")
    assert again["id"] == agent["id"] and again["configurations"] == {"datapath_type": "system"}
    shown = client.get("/agents/" + agent["id"])[1]["agent"]
    assert shown["configurations"] == {"datapath_type": "system"}


def test_ovs_vif_details_are_neutron_ovs_mechanism_drivers(client, chan, net, host):
    """port_filter and connectivity are the server's; ovs_hybrid_plug, datapath_type and
    bridge_name come from what the host's agent reports (Neutron's agent reports its
    integration_bridge and ovs_hybrid_plug); a trunk parent's bridge is its trunk bridge."""
    from trunkline.agent.noop import NoopDriver
    chan.register(host, **NoopDriver().configurations())
    bound = port(client, net, **{"binding:host_id": host})
    assert bound["binding:vif_details"] == {
        "port_filter": True, "connectivity": "l2", "ovs_hybrid_plug": False,
        "datapath_type": "system", "bridge_name": "br-int"}
    other = "vifd-" + uuid.uuid4().hex[:8]
    chan.register(other, datapath_type="netdev", integration_bridge="br-vms",
                  ovs_hybrid_plug=True)
    custom = port(client, net, **{"binding:host_id": other})
    assert custom["binding:vif_details"] == {
        "port_filter": True, "connectivity": "l2", "ovs_hybrid_plug": True,
        "datapath_type": "netdev", "bridge_name": "br-vms"}
    parent = port(client, net)
    trunk = client.create("trunk", port_id=parent["id"])
    status, body = client.put("/ports/" + parent["id"], {"port": {"binding:host_id": other}})
    assert status == 200, body
    assert body["port"]["binding:vif_details"] == dict(
        custom["binding:vif_details"], bridge_name="tbr-" + trunk["id"][:10])


def test_register_rejects_bad_reports(chan):
    status, body = chan.post("/agents", {"host": "", "agent_type": OVS, "binary": "b"})
    assert status == 400
    status, body = chan.post("/agents", {"host": "h", "agent_type": OVS, "binary": "b",
                                         "configurations": []})
    assert status == 400
    assert chan.get("/agents")[0] == 405


# -- binding

def test_binding_outcomes(client, chan, net, host):
    assert port(client, net)["binding:vif_type"] == "unbound"
    failed = port(client, net, **{"binding:host_id": host})
    assert failed["binding:vif_type"] == "binding_failed"
    assert failed["binding:vif_details"] == {}
    chan.register(host, datapath_type="netdev")
    # the agent's registration binds the port that failed
    rebound = get_port(client, failed["id"])
    assert rebound["binding:vif_type"] == "ovs"
    assert rebound["revision_number"] > failed["revision_number"]
    bound = port(client, net, **{"binding:host_id": host})
    assert bound["binding:vif_type"] == "ovs"
    # an agent that reports no integration bridge and no hybrid plugging: Neutron names none
    assert bound["binding:vif_details"] == {
        "port_filter": True, "connectivity": "l2", "ovs_hybrid_plug": False,
        "datapath_type": "netdev"}
    status, body = client.put("/ports/" + bound["id"], {"port": {"binding:host_id": ""}})
    assert body["port"]["binding:vif_type"] == "unbound"
    assert body["port"]["binding:vif_details"] == {}

    parent = port(client, net)
    trunk = client.create("trunk", port_id=parent["id"])
    status, body = client.put("/ports/" + parent["id"], {"port": {"binding:host_id": host}})
    assert status == 200
    assert body["port"]["binding:vif_details"]["bridge_name"] == "tbr-" + trunk["id"][:10]
    # a bound parent cannot become a trunk parent (the OVS driver's rule)
    other = port(client, net, **{"binding:host_id": host})
    status, body = client.post("/trunks", {"trunk": {"port_id": other["id"]}})
    assert status == 409 and error_type(body) == "ParentPortInUse"


# -- desired state

def test_host_state_with_trunk(client, chan, net, host):
    chan.register(host)
    net2 = client.create("network", name="channel-sub")
    client.create("subnet", network_id=net2["id"], cidr="10.51.0.0/24", ip_version=4,
                  enable_dhcp=False)
    parent = port(client, net, device_owner="compute:nova")
    subs = [port(client, net2), port(client, net2)]
    trunk = client.create("trunk", port_id=parent["id"], sub_ports=[
        {"port_id": s["id"], "segmentation_type": "vlan", "segmentation_id": i + 10}
        for i, s in enumerate(subs)])
    client.put("/ports/" + parent["id"], {"port": {"binding:host_id": host}})
    port(client, net, **{"binding:host_id": "elsewhere-" + host})

    state = chan.state(host)
    assert state["host"] == host and isinstance(state["revision"], int)
    assert "dhcp" not in state
    assert set(state["networks"]) == {net["id"], net2["id"]}
    assert state["networks"][net["id"]] == {
        "id": net["id"], "network_type": "vxlan", "physical_network": None,
        "segmentation_id": net["provider:segmentation_id"], "mtu": 1450,
        "admin_state_up": True}
    ports = {p["id"]: p for p in state["ports"]}
    assert set(ports) == {parent["id"]} | {s["id"] for s in subs}
    assert ports[parent["id"]] == {
        "id": parent["id"], "network_id": net["id"], "mac_address": parent["mac_address"],
        "admin_state_up": True, "device_owner": "compute:nova", "status": "DOWN",
        "fixed_ips": parent["fixed_ips"]}
    assert ports[subs[0]["id"]]["device_owner"] == "trunk:subport"
    assert state["trunks"] == [{
        "id": trunk["id"], "port_id": parent["id"], "admin_state_up": True, "status": "DOWN",
        "bridge_name": "tbr-" + trunk["id"][:10],
        "sub_ports": [{"port_id": s["id"], "segmentation_type": "vlan",
                       "segmentation_id": i + 10, "mac_address": s["mac_address"],
                       "network_id": net2["id"]} for i, s in enumerate(subs)]}]

    full = chan.state(host, dhcp=1)
    dhcp = full["dhcp"]
    assert net["id"] in dhcp and net2["id"] not in dhcp
    assert dhcp[net["id"]]["network"] == state["networks"][net["id"]]
    assert [s["cidr"] for s in dhcp[net["id"]]["subnets"]] == ["10.50.0.0/24"]
    assert set(dhcp[net["id"]]["subnets"][0]) == {
        "id", "cidr", "ip_version", "gateway_ip", "enable_dhcp", "dns_nameservers",
        "host_routes", "ipv6_address_mode"}
    listed = {p["id"]: p for p in dhcp[net["id"]]["ports"]}
    assert listed[parent["id"]] == {"id": parent["id"], "mac_address": parent["mac_address"],
                                    "fixed_ips": parent["fixed_ips"],
                                    "device_owner": "compute:nova"}
    assert set(full["networks"]) >= {net["id"], net2["id"]}
    assert chan.state("nobody-" + host)["ports"] == []


# -- watch

def _watch_while(chan, host, since, timeout, action, delay=0.3, **params):
    """Watch, run ``action`` in a thread after ``delay``; (answer, seconds after action)."""
    done = {}

    def act():
        action()
        done["at"] = time.monotonic()

    timer = threading.Timer(delay, act)
    timer.start()
    try:
        status, body = chan.get("/watch", since=since, host=host, timeout=timeout, **params)
    finally:
        timer.join()
    return status, body, time.monotonic() - done["at"]


def test_watch_wakes_on_relevant_write(client, chan, net, host):
    since = chan.state(host)["revision"]
    status, body, after = _watch_while(
        chan, host, since, 10, lambda: port(client, net, **{"binding:host_id": host}))
    assert status == 200 and body["revision"] > since
    assert after < 1.0


def test_watch_times_out_without_relevant_write(client, chan, net, host):
    since = chan.state(host)["revision"]
    started = time.monotonic()
    status, body, _ = _watch_while(
        chan, host, since, 1.5,
        lambda: port(client, net, **{"binding:host_id": "other-" + host}))
    assert status == 200 and body == {"revision": since}
    assert 1.4 <= time.monotonic() - started < 3


@pytest.mark.parametrize("timeout", ["nan", "inf", "-1", "soon"])
def test_watch_refuses_a_timeout_that_is_not_a_finite_number(server, host, timeout):
    r = requests.get(server.url + "/agent/v1/watch",
                     params={"since": 0, "host": host, "timeout": timeout}, timeout=5)
    assert r.status_code == 400 and r.json()["NeutronError"]["type"] == "InvalidInput"


def test_watch_dhcp_sees_every_port(client, chan, net, host):
    since = chan.state(host)["revision"]
    status, body, after = _watch_while(
        chan, host, since, 10,
        lambda: port(client, net, **{"binding:host_id": "other-" + host}), dhcp=1)
    assert status == 200 and body["revision"] > since and after < 1.0


def test_network_and_subnet_changes_wake_the_hosts_with_ports_on_them(client, chan, host):
    net = client.create("network", name="w")
    port(client, net, **{"binding:host_id": host})
    other, dhcp_host = "other-" + host, "dhcp-" + host
    changes = [
        lambda: client.put("/networks/" + net["id"], {"network": {"mtu": 1400}}),
        lambda: client.create("subnet", network_id=net["id"], cidr="10.51.0.0/24",
                              ip_version=4),
        lambda: client.put("/networks/" + net["id"], {"network": {"admin_state_up": False}})]
    for change in changes:
        since = chan.state(host)["revision"]
        # a host without a port on the network sleeps through it (the feed's path) ...
        status, body, _ = _watch_while(chan, other, since, 1.5, change)
        assert status == 200 and body == {"revision": since}
        # ... the host with a port wakes (a new watch's query), and so does every DHCP agent
        assert chan.get("/watch", since=since, host=host, timeout=0)[1]["revision"] > since
        assert chan.get("/watch", since=since, host=dhcp_host, timeout=0,
                        dhcp=1)[1]["revision"] > since
        assert chan.get("/watch", since=since, host=other, timeout=0)[1] == {"revision": since}
    assert chan.state(host)["networks"][net["id"]]["mtu"] == 1400
    # a network nobody has a port on concerns no L2 agent; DHCP agents serve every network
    since = chan.state(host)["revision"]
    status, body, after = _watch_while(chan, dhcp_host, since, 10,
                                       lambda: client.create("network", name="w2"), dhcp=1)
    assert status == 200 and body["revision"] > since and after < 1.0
    assert chan.get("/watch", since=since, host=host, timeout=0)[1] == {"revision": since}


def test_security_group_changes_wake_no_watch(client, chan, host):
    """No agent enforces security groups yet: their writes (a group with its template rules,
    a rule, a template) wake neither L2 nor DHCP watches."""
    since = chan.state(host)["revision"]
    status, body = client.post("/security-groups", {"security_group": {"name": "quiet"}})
    assert status == 201, body
    group = body["security_group"]
    assert client.post("/security-group-rules", {"security_group_rule": {
        "security_group_id": group["id"], "direction": "ingress", "protocol": "tcp"}})[0] == 201
    assert client.delete("/security-groups/" + group["id"])[0] == 204
    assert chan.get("/watch", since=since, host=host, timeout=0)[1] == {"revision": since}
    assert chan.get("/watch", since=since, host=host, timeout=0, dhcp=1)[1] == {
        "revision": since}


def test_watch_answers_at_once_for_old_changes(client, chan, net, host):
    since = chan.state(host)["revision"]
    port(client, net, **{"binding:host_id": host})
    started = time.monotonic()
    status, body = chan.get("/watch", since=since, host=host, timeout=10)
    assert status == 200 and body["revision"] > since
    assert time.monotonic() - started < 1.0
    assert chan.get("/watch", since=-1, host=host)[0] == 400
    assert chan.get("/watch", since=0)[0] == 400


# -- status reports

def test_status_reports(client, chan, net, host):
    chan.register(host)
    other = "other-" + host
    chan.register(other)
    parent = port(client, net)
    sub = port(client, net)
    trunk = client.create("trunk", port_id=parent["id"], sub_ports=[
        {"port_id": sub["id"], "segmentation_type": "vlan", "segmentation_id": 5}])
    parent = client.put("/ports/" + parent["id"],
                        {"port": {"binding:host_id": host}})[1]["port"]
    since = chan.state(host)["revision"]

    # another host's agent cannot change them
    assert chan.report(other, {parent["id"]: "ACTIVE"}, {trunk["id"]: "ACTIVE"})[0] == 204
    assert get_port(client, parent["id"])["status"] == "DOWN"
    assert client.get("/trunks/" + trunk["id"])[1]["trunk"]["status"] == "DOWN"
    assert chan.get("/watch", since=since, host=host, timeout=0)[1] == {"revision": since}

    assert chan.report(host, {parent["id"]: "ACTIVE", sub["id"]: "ACTIVE"},
                       {trunk["id"]: "ACTIVE"})[0] == 204
    now = get_port(client, parent["id"])
    assert now["status"] == "ACTIVE" and now["revision_number"] > parent["revision_number"]
    assert get_port(client, sub["id"])["status"] == "ACTIVE"
    assert client.get("/trunks/" + trunk["id"])[1]["trunk"]["status"] == "ACTIVE"
    assert chan.get("/watch", since=since, host=host, timeout=0)[1]["revision"] > since
    state = chan.state(host)
    assert state["trunks"][0]["status"] == "ACTIVE"
    assert {p["status"] for p in state["ports"]} == {"ACTIVE"}
    for value in ("DEGRADED", "ERROR", "BUILD"):
        chan.report(host, trunks={trunk["id"]: value})
        assert client.get("/trunks/" + trunk["id"])[1]["trunk"]["status"] == value
    chan.report(host, trunks={trunk["id"]: "ACTIVE"})

    # adding subports forces DOWN; moving the parent forces trunk and ports DOWN
    extra = port(client, net)
    status, body = client.put("/trunks/%s/add_subports" % trunk["id"], {"sub_ports": [
        {"port_id": extra["id"], "segmentation_type": "vlan", "segmentation_id": 6}]})
    assert status == 200 and body["status"] == "DOWN"
    chan.report(host, trunks={trunk["id"]: "ACTIVE"})
    client.put("/ports/" + parent["id"], {"port": {"binding:host_id": other}})
    assert get_port(client, parent["id"])["status"] == "DOWN"
    assert get_port(client, sub["id"])["status"] == "DOWN"
    assert get_port(client, sub["id"])["binding:host_id"] == other
    assert client.get("/trunks/" + trunk["id"])[1]["trunk"]["status"] == "DOWN"

    # an admin-down port stays DOWN; bad statuses are refused
    down = port(client, net, admin_state_up=False, **{"binding:host_id": host})
    chan.report(host, {down["id"]: "ACTIVE"})
    assert get_port(client, down["id"])["status"] == "DOWN"
    assert chan.report(host, {down["id"]: "WIRED"})[0] == 400
    assert chan.report(host, trunks={trunk["id"]: "DOWN"})[0] == 400
    assert chan.post("/status", {"ports": {}})[0] == 400


# -- DHCP port

def test_dhcp_port_is_idempotent(client, chan, host):
    net = client.create("network", name="dhcp")
    s1 = client.create("subnet", network_id=net["id"], cidr="10.52.0.0/24", ip_version=4)
    body = {"host": host, "network_id": net["id"]}
    status, first = chan.post("/dhcp-port", body)
    assert status == 200, first
    p = first["port"]
    assert p["device_owner"] == "network:dhcp" and p["binding:host_id"] == host
    assert p["device_id"] == "dhcp%s-%s" % (uuid.uuid5(uuid.NAMESPACE_DNS, host), net["id"])
    assert p["fixed_ips"] == [{"subnet_id": s1["id"], "ip_address": "10.52.0.2"}]
    assert chan.post("/dhcp-port", body)[1]["port"]["id"] == p["id"]

    s2 = client.create("subnet", network_id=net["id"], cidr="10.53.0.0/24", ip_version=4)
    client.create("subnet", network_id=net["id"], cidr="10.54.0.0/24", ip_version=4,
                  enable_dhcp=False)
    again = chan.post("/dhcp-port", body)[1]["port"]
    assert again["id"] == p["id"]
    assert sorted(again["fixed_ips"], key=lambda f: f["ip_address"]) == [
        {"subnet_id": s1["id"], "ip_address": "10.52.0.2"},
        {"subnet_id": s2["id"], "ip_address": "10.53.0.2"}]
    ports = client.get("/ports", params={"network_id": net["id"]})[1]["ports"]
    assert [x["id"] for x in ports] == [p["id"]]
    other = chan.post("/dhcp-port", {"host": "other-" + host, "network_id": net["id"]})[1]
    assert other["port"]["id"] != p["id"]
    assert sorted(f["ip_address"] for f in other["port"]["fixed_ips"]) == [
        "10.52.0.3", "10.53.0.3"]
    status, body = chan.post("/dhcp-port", {"host": host, "network_id": str(uuid.uuid4())})
    assert status == 404 and error_type(body) == "NetworkNotFound"


# -- the change log's horizon (these prune the log, so they come last)

def test_watch_410_on_a_pruned_since(chan, server, host):
    since = chan.state(host)["revision"]
    db = db_engine.Database(server.db_url)
    try:
        db.write(lambda txn: changelog.prune(txn.conn, txn.revision - 1))
    finally:
        db.dispose()
    status, body = chan.get("/watch", since=since - 1, host=host, timeout=1)
    assert status == 410 and error_type(body) == "ChangesPruned"
    now = chan.state(host)["revision"]
    assert chan.get("/watch", since=now, host=host, timeout=0) == (200, {"revision": now})


def test_change_log_is_pruned_now_and_then(tmp_path):
    db = db_engine.Database("sqlite:///%s/log.db" % tmp_path, keep_changes=5, prune_every=10)
    try:
        migrate.upgrade(db.engine)
        for _ in range(25):
            db.write(lambda txn: txn.record("network", "n", "update"))
        with db.read() as conn:
            revisions = sorted(r.revision for r in conn.execute(schema.changes.select()))
            assert changelog.horizon(conn) == 15
        assert revisions == list(range(16, 26))
    finally:
        db.dispose()


def test_a_commit_wakes_only_the_watches_it_concerns(tmp_path):
    """A thousand open watches must not all wake for a change of one host: the notifier wakes
    the watches of the hosts the new rows name (DHCP agents for any port), all of them for a
    row for everyone."""
    db = db_engine.Database("sqlite:///%s/wake.db" % tmp_path)
    notifier = Notifier()
    feed = Feed(db, notifier)
    notifier.sort = feed.sort
    db.on_commit.append(notifier.notify)

    async def scenario():
        migrate.upgrade(db.engine)
        db.write(lambda txn: txn.record("port", "p0", "update", ["h-a"]))
        feed.sort()                             # the feed's copy is current

        async def round_(record):
            woke = set()

            async def waiter(name, keys):
                await notifier.wait(2.0, notifier.generation, keys)
                if time.monotonic() - t0 < 1.5:
                    woke.add(name)
            t0 = time.monotonic()
            tasks = [asyncio.ensure_future(waiter(name, keys)) for name, keys in (
                ("a", [host_key("h-a")]), ("b", [host_key("h-b")]),
                ("dhcp-c", [host_key("h-c"), DHCP_KEY]))]
            await asyncio.sleep(0.1)
            db.write(record)
            await asyncio.gather(*tasks)
            return woke

        assert await round_(lambda txn: txn.record("trunk", "t", "update", ["h-a"])) == {"a"}
        assert await round_(lambda txn: txn.record("port", "p", "update", ["h-b"])) == {
            "b", "dhcp-c"}
        assert await round_(lambda txn: txn.record("trunk", "t", "delete")) == {
            "a", "b", "dhcp-c"}
        assert await round_(lambda txn: None) == set()     # no change row: nobody

    try:
        asyncio.run(scenario())
    finally:
        db.dispose()


def test_agent_client_keeps_its_connection_alive(server, host):
    """An agent's heartbeats, state fetches and watches go over one kept TCP connection per
    thread, not one connection per call (the server's connection setups for 1000 agents)."""
    client = ChannelClient(server.url, host)

    def local_port():
        (conn,) = client._local.conns.values()
        return conn.sock.getsockname()[1]

    client.register("Open vSwitch agent", "trunkline-agent", {})
    port = local_port()
    revision = client.state()["revision"]
    assert client.watch(revision, timeout=0) == revision
    assert client.state()["revision"] == revision and local_port() == port


@pytest.mark.parametrize("retention", [None, "0"])
def test_agents_dead_longer_than_the_retention_are_deleted(backend, db_url_factory, retention):
    extra = ["--agent-down-time", "2"] + (["--agent-retention", retention] if retention else [])
    srv = Server(db_url_factory(backend), extra=extra)
    try:
        ch = Channel(srv.url)
        old = ch.register("gone-%s" % uuid.uuid4().hex[:6])
        recent = ch.register("away-%s" % uuid.uuid4().hex[:6])
        now = datetime.datetime.now(datetime.timezone.utc)
        set_heartbeat(srv, old["id"], (now - datetime.timedelta(days=15)).strftime(
            "%Y-%m-%d %H:%M:%S"))
        set_heartbeat(srv, recent["id"], (now - datetime.timedelta(days=13)).strftime(
            "%Y-%m-%d %H:%M:%S"))

        def ids():
            return {a["id"] for a in requests.get(srv.url + "/v2.0/agents",
                                                  timeout=10).json()["agents"]}
        if retention == "0":        # kept forever, as Neutron
            time.sleep(4)
            assert {old["id"], recent["id"]} <= ids()
        else:                       # the default: 14 days
            wait_for(lambda: old["id"] not in ids(), 15, what="the 15-day-dead agent deleted")
            assert recent["id"] in ids()
            again = ch.register(old["host"])        # a host back registers anew
            assert again["id"] != old["id"] and again["id"] in ids()
    finally:
        srv.stop()
