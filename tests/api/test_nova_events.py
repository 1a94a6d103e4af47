"""Events to Nova (services/nova/) against the real Keystone the suite runs and a fake Nova
(helpers/nova.py) that checks every request as Nova's API does: a Keystone token with the
service role, microversion 2.1, the body valid against nova's own schema. The compute
endpoint is found in Keystone's catalog (the ``internal`` one of RegionOne; the public one
points at a closed port, so the endpoint options are exercised too). Port statuses change the
way agents change them, through the agent channel's status report."""
import os
import time
import uuid

import pytest

from helpers import keystone as ks
from helpers import nova as fake_nova
from helpers.api import Client
from helpers.channel import Channel
from helpers.server import Server, wait_for
from trunkline.stack import free_port

pytestmark = [
    pytest.mark.skipif(not ks.available(), reason="no .venv-keystone: run scripts/install.sh"),
    pytest.mark.skipif(not fake_nova.available(), reason="no nova wheel schema: run "
                       "scripts/install.sh"),
]
INTERVAL = 2.0          # Neutron's default send_events_interval
HOST = "nova-compute-1"


@pytest.fixture(scope="module")
def keystone():
    k = ks.Keystone()
    k.add_user("nova", "service", "service")
    yield k
    k.stop()


@pytest.fixture(scope="module")
def nova(keystone):
    fake = fake_nova.FakeNova(keystone)
    closed = "http://127.0.0.1:%d/v2.1" % free_port()
    keystone.add_endpoints("compute", "nova", {"internal": fake.url, "public": closed})
    keystone.add_endpoints("compute", "nova-down", {"internal": closed}, region="RegionTwo")
    yield fake
    fake.stop()


def _nova_args(keystone, region):
    return ["--nova-auth-url", keystone.url, "--nova-username", "nova", "--nova-project",
            "service", "--nova-region", region, "--nova-endpoint-type", "internal",
            "--send-events-interval", str(INTERVAL), "--log-level", "info"]


def _server(tmp_path_factory, keystone, region, db_url=None):
    db_url = db_url or "sqlite:///%s" % (tmp_path_factory.mktemp("novadb") / "trunkline.db")
    os.environ["TRUNKLINE_NOVA_PASSWORD"] = ks.PASSWORD     # not on the command line
    try:
        return Server(db_url, extra=_nova_args(keystone, region))
    finally:
        del os.environ["TRUNKLINE_NOVA_PASSWORD"]


@pytest.fixture(scope="module")
def server(tmp_path_factory, keystone, nova):
    srv = _server(tmp_path_factory, keystone, "RegionOne")
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def client(server):
    return Client(server.url)


@pytest.fixture(scope="module")
def chan(server):
    c = Channel(server.url)
    c.register(HOST, datapath_type="netdev")
    return c


@pytest.fixture(scope="module")
def net(client):
    return client.create("network", name="nova-events")["id"]


def _vm_port(client, nova, net, known=True, **attrs):
    """A port of an instance bound to HOST (as Nova leaves it), the instance known to Nova."""
    server_uuid = str(uuid.uuid4())
    if known:
        nova.servers.add(server_uuid)
    values = dict(network_id=net, device_id=server_uuid, device_owner="compute:nova",
                  **{"binding:host_id": HOST})
    values.update(attrs)
    return client.create("port", **values)


def _report(chan, statuses):
    status, body = chan.report(HOST, ports=statuses)
    assert status == 204, body


def _quiet(nova, tag, seconds=INTERVAL + 1.0):
    """Nothing about ``tag`` reaches Nova within a batch interval and then some."""
    time.sleep(seconds)
    return nova.events(tag=tag) == []


def _requests_with(nova, tag):
    return [(status, body) for status, _, body, _ in nova.requests if tag.encode() in body]


def test_active_gives_vif_plugged_completed_within_one_batch(client, chan, nova, net):
    port = _vm_port(client, nova, net)
    assert _quiet(nova, port["id"], 0.5)     # created bound: no event yet
    reported = time.monotonic()
    _report(chan, {port["id"]: "ACTIVE"})
    events = nova.wait_events(tag=port["id"])
    latency = nova.received[-1][0] - reported
    print("\nport ACTIVE -> network-vif-plugged at Nova: %.2f s" % latency)
    assert latency < INTERVAL + 0.5
    assert events == [{"name": "network-vif-plugged", "server_uuid": port["device_id"],
                       "status": "completed", "tag": port["id"]}]
    _report(chan, {port["id"]: "ACTIVE"})    # no transition: no second event
    time.sleep(INTERVAL + 0.5)
    assert len(nova.events(tag=port["id"])) == 1
    assert nova.invalid == []


def test_error_gives_vif_plugged_failed(client, chan, nova, net):
    port = _vm_port(client, nova, net)
    _report(chan, {port["id"]: "BUILD"})
    _report(chan, {port["id"]: "ERROR"})
    assert nova.wait_events(tag=port["id"]) == [{
        "name": "network-vif-plugged", "server_uuid": port["device_id"], "status": "failed",
        "tag": port["id"]}]


def test_active_to_down_gives_vif_unplugged(client, chan, nova, net):
    port = _vm_port(client, nova, net)
    _report(chan, {port["id"]: "ACTIVE"})
    nova.wait_events(tag=port["id"])
    _report(chan, {port["id"]: "DOWN"})
    assert nova.wait_events(name="network-vif-unplugged", tag=port["id"]) == [{
        "name": "network-vif-unplugged", "server_uuid": port["device_id"],
        "status": "completed", "tag": port["id"]}]


def test_events_of_one_interval_go_in_one_request(client, chan, nova, net):
    ports = [_vm_port(client, nova, net) for _ in range(3)]
    before = len(nova.requests)
    for p in ports:
        _report(chan, {p["id"]: "ACTIVE"})
    for p in ports:
        nova.wait_events(tag=p["id"])
    carrying = [r for r in nova.requests[before:] if ports[0]["id"].encode() in r[2]]
    assert len(carrying) == 1
    assert all(p["id"].encode() in carrying[0][2] for p in ports)


def test_event_latency_is_bounded_by_the_interval(client, chan, nova, net):
    """Ports going ACTIVE at random moments: each event reaches Nova within one interval
    (the batch's first event waits the whole interval, later ones less)."""
    ports = [_vm_port(client, nova, net) for _ in range(10)]
    reported = {}
    for i, p in enumerate(ports):
        time.sleep(0.17 * (i % 4))
        reported[p["id"]] = time.monotonic()
        _report(chan, {p["id"]: "ACTIVE"})
    wait_for(lambda: all(nova.events(tag=p["id"]) for p in ports), timeout=INTERVAL + 5,
             what="every port's network-vif-plugged")
    arrived = {e["tag"]: t for t, e in nova.received if e["tag"] in reported}
    latencies = sorted(arrived[pid] - reported[pid] for pid in reported)
    print("\nport ACTIVE -> event at Nova over %d ports: p50 %.2f s, max %.2f s"
          % (len(latencies), latencies[len(latencies) // 2], latencies[-1]))
    assert latencies[-1] < INTERVAL + 0.5


def test_api_update_gives_network_changed(client, chan, nova, net):
    port = _vm_port(client, nova, net)
    status, body = client.put("/ports/" + port["id"], {"port": {"name": "renamed"}})
    assert status == 200, body
    assert nova.wait_events(tag=port["id"]) == [{
        "name": "network-changed", "server_uuid": port["device_id"], "tag": port["id"]}]
    # a port that is no instance's (no UUID device_id; a DHCP port) gives nothing
    other = client.create("port", network_id=net, device_id="not-a-uuid",
                          device_owner="compute:nova")
    dhcp = client.create("port", network_id=net, device_id=str(uuid.uuid4()),
                         device_owner="network:dhcp")
    for p in (other, dhcp):
        assert client.put("/ports/" + p["id"], {"port": {"name": "x"}})[0] == 200
    assert _quiet(nova, other["id"]) and nova.events(tag=dhcp["id"]) == []


def test_delete_gives_vif_deleted(client, chan, nova, net):
    port = _vm_port(client, nova, net)
    assert client.delete("/ports/" + port["id"])[0] == 204
    assert nova.wait_events(tag=port["id"]) == [{
        "name": "network-vif-deleted", "server_uuid": port["device_id"], "tag": port["id"]}]


def test_trunk_subports_get_no_events(client, chan, nova, net):
    """Nova's order: trunk on an unbound parent, then the parent bound to the instance (the
    subports follow it to the host as trunk:subport); only the parent's events reach Nova."""
    parent = client.create("port", network_id=net)
    sub_net = client.create("network", name="nova-events-sub")["id"]
    sub = client.create("port", network_id=sub_net)
    status, body = client.post("/trunks", {"trunk": {"port_id": parent["id"], "sub_ports": [
        {"port_id": sub["id"], "segmentation_type": "vlan", "segmentation_id": 101}]}})
    assert status == 201, body
    server_uuid = str(uuid.uuid4())
    nova.servers.add(server_uuid)
    status, body = client.put("/ports/" + parent["id"], {"port": {
        "device_id": server_uuid, "device_owner": "compute:nova", "binding:host_id": HOST}})
    assert status == 200, body
    sub_now = client.get("/ports/" + sub["id"])[1]["port"]
    assert sub_now["device_owner"] == "trunk:subport" and sub_now["binding:host_id"] == HOST
    _report(chan, {parent["id"]: "ACTIVE", sub["id"]: "ACTIVE"})
    wait_for(lambda: len(nova.events(tag=parent["id"])) == 2, timeout=INTERVAL + 5,
             what="the parent's network-changed and network-vif-plugged")
    assert sorted(e["name"] for e in nova.events(tag=parent["id"])) == [
        "network-changed", "network-vif-plugged"]
    assert _quiet(nova, sub["id"], 1.0)
    assert client.get("/ports/" + sub["id"])[1]["port"]["status"] == "ACTIVE"


def test_nova_500_then_200_delivers_once(client, chan, nova, net):
    port = _vm_port(client, nova, net)
    nova.fail_next(500)
    _report(chan, {port["id"]: "ACTIVE"})
    nova.wait_events(timeout=INTERVAL + 5, tag=port["id"])
    time.sleep(INTERVAL + 0.5)
    assert len(nova.events(tag=port["id"])) == 1
    assert [s for s, _ in _requests_with(nova, port["id"])] == [500, 200]


def test_207_final_codes_are_not_retried_5xx_ones_are(client, chan, nova, net):
    known = _vm_port(client, nova, net)
    gone = _vm_port(client, nova, net, known=False)     # Nova answers 404 for this event
    _report(chan, {known["id"]: "ACTIVE", gone["id"]: "ACTIVE"})
    nova.wait_events(tag=known["id"])
    time.sleep(3.5)                 # longer than the first retry's back-off
    assert [s for s, _ in _requests_with(nova, gone["id"])] == [207]
    # every event of a 207 answered 500: sent again, delivered once
    again = _vm_port(client, nova, net)
    nova.fail_next("207-500")
    _report(chan, {again["id"]: "ACTIVE"})
    nova.wait_events(timeout=INTERVAL + 5, tag=again["id"])
    assert [s for s, _ in _requests_with(nova, again["id"])] == [207, 200]
    assert len(nova.events(tag=again["id"])) == 1


def test_401_reauthenticates_and_sends_at_once(client, chan, nova, net):
    port = _vm_port(client, nova, net)
    nova.fail_next(401)
    _report(chan, {port["id"]: "ACTIVE"})
    nova.wait_events(timeout=INTERVAL + 5, tag=port["id"])
    sent = [r for r in nova.requests if port["id"].encode() in r[2]]
    assert [r[0] for r in sent] == [401, 200]
    assert sent[0][1]["X-Auth-Token"] != sent[1][1]["X-Auth-Token"]   # a new token
    print("\n401 -> new token -> sent again after %.2f s" % (sent[1][3] - sent[0][3]))
    assert len(nova.events(tag=port["id"])) == 1


def test_every_request_was_authenticated_and_schema_valid(nova):
    assert nova.requests and nova.invalid == []
    assert all(r[0] != 403 for r in nova.requests)


def test_nova_down_keeps_the_api_fast(tmp_path_factory, keystone, nova):
    """RegionTwo's compute endpoint is a closed port: events queue and are retried; the API
    answers as fast as ever and the server stays up."""
    srv = _server(tmp_path_factory, keystone, "RegionTwo")
    try:
        api, ch = Client(srv.url), Channel(srv.url)
        ch.register(HOST, datapath_type="netdev")
        network = api.create("network", name="down")["id"]
        slowest = 0.0
        for _ in range(15):
            started = time.monotonic()
            port = _vm_port(api, nova, network)
            assert ch.report(HOST, ports={port["id"]: "ACTIVE"})[0] == 204
            assert api.put("/ports/" + port["id"], {"port": {"name": "n"}})[0] == 200
            slowest = max(slowest, time.monotonic() - started)
        print("\nNova down: slowest create+report+update %.3f s" % slowest)
        assert slowest < 1.0
        wait_for(lambda: "retrying" in srv.output(), timeout=INTERVAL + 10,
                 what="the notifier logging its retries")
        assert srv.proc.poll() is None and api.get("/ports")[0] == 200
        assert nova.events(tag=port["id"]) == []
    finally:
        srv.stop()


@pytest.mark.postgres
def test_events_after_commit_on_postgresql(tmp_path_factory, db_url_factory, keystone, nova):
    srv = _server(tmp_path_factory, keystone, "RegionOne", db_url_factory("postgresql"))
    try:
        api, ch = Client(srv.url), Channel(srv.url)
        ch.register(HOST, datapath_type="netdev")
        port = _vm_port(api, nova, api.create("network", name="pg")["id"])
        assert ch.report(HOST, ports={port["id"]: "ACTIVE"})[0] == 204
        assert api.delete("/ports/" + port["id"])[0] == 204
        wait_for(lambda: len(nova.events(tag=port["id"])) == 2, timeout=INTERVAL + 5,
                 what="network-vif-plugged and network-vif-deleted")
        assert [e["name"] for e in nova.events(tag=port["id"])] == [
            "network-vif-plugged", "network-vif-deleted"]
    finally:
        srv.stop()
