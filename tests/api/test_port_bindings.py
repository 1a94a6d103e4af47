"""binding-extended as Nova's live migration uses it, on SQLite and PostgreSQL: bind the
destination INACTIVE (the source stays the port's binding and the only host that wires it),
update it, activate it (the port moves: DOWN, the destination's agent gets it, a trunk parent's
subports follow, the source's binding is kept INACTIVE), delete the source's; and Neutron's
errors for each operation."""
import uuid

import pytest

from helpers.api import error_type
from helpers.channel import Channel, get_port, set_heartbeat


@pytest.fixture(scope="module")
def chan(server):
    return Channel(server.url)


@pytest.fixture
def hosts(chan):
    tag = uuid.uuid4().hex[:6]
    src, dst = "src-" + tag, "dst-" + tag
    chan.register(src, datapath_type="system")
    chan.register(dst, datapath_type="netdev")
    return src, dst


@pytest.fixture
def net(client):
    net = client.create("network", name="pb-" + uuid.uuid4().hex[:6])
    client.create("subnet", network_id=net["id"], cidr="10.31.0.0/24", ip_version=4)
    return net


def vm_port(client, net, host, **attrs):
    return client.create("port", network_id=net["id"], device_owner="compute:nova",
                         device_id=str(uuid.uuid4()), **dict({"binding:host_id": host}, **attrs))


def bindings(client, port_id, query=""):
    status, body = client.get("/ports/%s/bindings%s" % (port_id, query))
    assert status == 200, body
    return {b["host"]: b for b in body["bindings"]}


def state_ports(chan, host):
    return {p["id"] for p in chan.state(host)["ports"]}


def test_live_migration_sequence(client, chan, hosts, net):
    src, dst = hosts
    p = vm_port(client, net, src)
    pid = p["id"]
    assert p["binding:vif_type"] == "ovs"
    [active] = bindings(client, pid).values()
    assert active == {"host": src, "status": "ACTIVE", "vif_type": "ovs", "vnic_type": "normal",
                      "profile": {}, "vif_details": p["binding:vif_details"]}

    # Nova's pre-live-migration: bind the destination
    status, body = client.post("/ports/%s/bindings" % pid, {"binding": {
        "host": dst, "vnic_type": "normal", "profile": {"migrating_to": dst}}})
    assert status == 201, body
    b = body["binding"]
    assert b["host"] == dst and b["status"] == "INACTIVE" and b["vif_type"] == "ovs"
    assert b["profile"] == {"migrating_to": dst}
    assert b["vif_details"]["datapath_type"] == "netdev"        # the destination's agent
    assert get_port(client, pid)["binding:host_id"] == src     # the port has not moved
    assert pid in state_ports(chan, src) and pid not in state_ports(chan, dst)
    got = bindings(client, pid)
    assert {h: x["status"] for h, x in got.items()} == {src: "ACTIVE", dst: "INACTIVE"}
    assert client.get("/ports/%s/bindings/%s" % (pid, dst))[1]["binding"] == b
    assert list(bindings(client, pid, "?status=INACTIVE")) == [dst]
    assert list(bindings(client, pid, "?host=" + src)) == [src]
    status, body = client.get("/ports/%s/bindings?fields=host&fields=status" % pid)
    assert sorted(body["bindings"], key=lambda x: x["host"]) == sorted(
        [{"host": src, "status": "ACTIVE"}, {"host": dst, "status": "INACTIVE"}],
        key=lambda x: x["host"])

    # an update of the inactive binding
    status, body = client.put("/ports/%s/bindings/%s" % (pid, dst),
                              {"binding": {"profile": {"migrating_to": dst, "x": "1"}}})
    assert status == 200 and body["binding"]["profile"] == {"migrating_to": dst, "x": "1"}
    assert body["binding"]["status"] == "INACTIVE"

    # post-live-migration: activate the destination
    chan.report(src, ports={pid: "ACTIVE"})
    assert get_port(client, pid)["status"] == "ACTIVE"
    status, body = client.put("/ports/%s/bindings/%s/activate" % (pid, dst))
    assert status == 200, body
    assert body["binding"]["host"] == dst and body["binding"]["status"] == "ACTIVE"
    port = get_port(client, pid)
    assert port["binding:host_id"] == dst and port["status"] == "DOWN"
    assert port["binding:profile"] == {"migrating_to": dst, "x": "1"}
    assert port["binding:vif_details"]["datapath_type"] == "netdev"
    assert pid in state_ports(chan, dst) and pid not in state_ports(chan, src)
    got = bindings(client, pid)
    assert {h: x["status"] for h, x in got.items()} == {src: "INACTIVE", dst: "ACTIVE"}
    assert got[src]["vif_details"]["datapath_type"] == "system"

    # Nova deletes the source's binding
    assert client.delete("/ports/%s/bindings/%s" % (pid, src))[0] == 204
    assert list(bindings(client, pid)) == [dst]
    status, body = client.delete("/ports/%s/bindings/%s" % (pid, src))
    assert status == 404 and error_type(body) == "PortBindingNotFound"
    # the port's deletion takes its inactive bindings along
    client.post("/ports/%s/bindings" % pid, {"binding": {"host": src}})
    assert client.delete("/ports/" + pid)[0] == 204
    assert client.get("/ports/%s/bindings" % pid)[0] == 404


def test_errors(client, chan, hosts, net):
    src, dst = hosts
    pid = vm_port(client, net, src)["id"]
    url = "/ports/%s/bindings" % pid

    def err(status, body):
        return status, error_type(body)

    assert err(*client.post(url, {"binding": {"host": src}})) == (409, "PortBindingAlreadyExists")
    assert client.post(url, {"binding": {"host": dst}})[0] == 201
    assert err(*client.post(url, {"binding": {"host": dst}})) == (409, "PortBindingAlreadyExists")
    status, body = client.post(url, {"binding": {"host": "nowhere-" + uuid.uuid4().hex[:6]}})
    assert status == 500 and error_type(body) == "PortBindingError"
    assert "could not be created or updated" in body["NeutronError"]["message"]
    assert err(*client.post(url, {"binding": {}})) == (400, "HTTPBadRequest")
    assert err(*client.post(url, {"binding": {"host": dst + "x", "vnic_type": "bogus"}})) \
        == (400, "HTTPBadRequest")
    assert err(*client.post(url, {"binding": {"host": dst + "x", "status": "ACTIVE"}})) \
        == (400, "HTTPBadRequest")
    assert err(*client.put(url + "/" + dst, {"binding": {"host": src}})) == (400, "HTTPBadRequest")
    assert err(*client.get(url + "/nowhere")) == (404, "PortBindingNotFound")
    assert err(*client.put(url + "/nowhere", {"binding": {"profile": {}}})) \
        == (404, "PortBindingNotFound")
    assert err(*client.put(url + "/%s/activate" % src)) == (409, "PortBindingAlreadyActive")
    assert err(*client.put(url + "/nowhere/activate")) == (404, "PortBindingNotFound")
    assert client.put(url, {"binding": {}})[0] == 405
    assert client.get(url + "/%s/activate" % dst)[0] == 405
    assert err(*client.get("/ports/%s/bindings" % uuid.uuid4())) == (404, "PortNotFound")
    # only compute ports
    other = client.create("port", network_id=net["id"], device_owner="network:dhcp")
    status, body = client.get("/ports/%s/bindings" % other["id"])
    assert status == 400 and error_type(body) == "BadRequest"
    assert "Operation only valid on compute ports" in body["NeutronError"]["message"]
    assert "binding-extended" in {e["alias"] for e in client.get("/extensions")[1]["extensions"]}


def test_activation_fails_when_the_destination_agent_is_gone(client, chan, server, net):
    tag = uuid.uuid4().hex[:6]
    src, dst = "src-" + tag, "dst-" + tag
    chan.register(src)
    gone = chan.register(dst)
    pid = vm_port(client, net, src)["id"]
    assert client.post("/ports/%s/bindings" % pid, {"binding": {"host": dst}})[0] == 201
    set_heartbeat(server, gone["id"], "2001-01-01 00:00:00")
    before = get_port(client, pid)
    status, body = client.put("/ports/%s/bindings/%s/activate" % (pid, dst))
    assert status == 500 and error_type(body) == "PortBindingError"
    assert get_port(client, pid) == before           # nothing half-applied
    assert {h: b["status"] for h, b in bindings(client, pid).items()} == {
        src: "ACTIVE", dst: "INACTIVE"}


def test_trunk_parent_subports_follow_on_activate(client, chan, hosts, net):
    src, dst = hosts
    parent = vm_port(client, net, "")
    sub_net = client.create("network")
    client.create("subnet", network_id=sub_net["id"], cidr="10.32.0.0/24", ip_version=4)
    sub = client.create("port", network_id=sub_net["id"])
    trunk = client.create("trunk", port_id=parent["id"], sub_ports=[
        {"port_id": sub["id"], "segmentation_type": "vlan", "segmentation_id": 5}])
    assert client.put("/ports/" + parent["id"], {"port": {"binding:host_id": src}})[0] == 200
    assert get_port(client, sub["id"])["binding:host_id"] == src
    status, body = client.post("/ports/%s/bindings" % parent["id"],
                               {"binding": {"host": dst}})
    assert status == 201
    tbr = "tbr-" + trunk["id"][:10]
    assert body["binding"]["vif_details"]["bridge_name"] == tbr      # as the active would be
    # not wired on the destination before activation: the trunk is not in its state
    assert trunk["id"] not in {t["id"] for t in chan.state(dst)["trunks"]}
    assert client.put("/ports/%s/bindings/%s/activate" % (parent["id"], dst))[0] == 200
    assert get_port(client, sub["id"])["binding:host_id"] == dst
    assert trunk["id"] in {t["id"] for t in chan.state(dst)["trunks"]}
    assert trunk["id"] not in {t["id"] for t in chan.state(src)["trunks"]}
    assert client.get("/trunks/" + trunk["id"])[1]["trunk"]["status"] == "DOWN"
