"""Networks: defaults and shape, MTU, provider segments, VNI allocation, revisions and If-Match,
timestamps, tags, fields/filters/sorting, and Neutron's pagination walked in both directions
(what neutron_tempest_plugin's BaseSearchCriteriaTest checks)."""
import re
import uuid

import pytest

from helpers.api import Client, error_type
from helpers.server import Server

# The peer's network keys minus the extensions trunkline deliberately does not implement
# (availability zones, address scopes, auto-allocated topology's is_default).
NETWORK_KEYS = {
    "admin_state_up", "created_at", "description", "id", "mtu", "name", "port_security_enabled",
    "project_id", "provider:network_type", "provider:physical_network",
    "provider:segmentation_id", "revision_number", "router:external", "shared", "status",
    "subnets", "tags", "tenant_id", "updated_at"}
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def test_defaults_and_shape(client):
    net = client.create("network", name="shape")
    assert set(net) == NETWORK_KEYS
    assert net["status"] == "ACTIVE" and net["admin_state_up"] is True
    assert net["shared"] is False and net["router:external"] is False
    assert net["port_security_enabled"] is True
    assert net["subnets"] == [] and net["tags"] == [] and net["description"] == ""
    assert net["project_id"] == net["tenant_id"]
    assert net["revision_number"] == 1
    assert TIMESTAMP.match(net["created_at"]) and TIMESTAMP.match(net["updated_at"])
    assert net["provider:network_type"] == "vxlan"
    assert net["provider:physical_network"] is None
    assert net["mtu"] == 1450


def test_show_list_fields(client):
    net = client.create("network", name="fields-" + uuid.uuid4().hex[:6])
    status, body = client.get("/networks/" + net["id"], params={"fields": ["id", "name"]})
    assert status == 200 and body == {"network": {"id": net["id"], "name": net["name"]}}
    status, body = client.get("/networks", params={"name": net["name"], "fields": ["id", "mtu"]})
    assert body == {"networks": [{"id": net["id"], "mtu": 1450}]}


def test_vni_allocation_unique(client):
    vnis = [client.create("network")["provider:segmentation_id"] for _ in range(5)]
    assert len(set(vnis)) == 5 and all(1 <= v <= 2 ** 24 - 1 for v in vnis)


def test_mtu_limits(client):
    net = client.create("network", mtu=1400)
    assert net["mtu"] == 1400
    status, body = client.post("/networks", {"network": {"mtu": 1451}})
    assert status == 400, body
    status, body = client.put("/networks/" + net["id"], {"network": {"mtu": 1450}})
    assert status == 200 and body["network"]["mtu"] == 1450


def test_mtu_below_what_subnets_need(client):
    """409 NetworkMTUSubnetConflict, as Neutron 29: no IPv4 subnet below MTU 68, no IPv6 one
    below 1280, and no MTU update below what the network's subnets need
    (neutron-tempest-plugin's test_*_mtu_below_minimum_ipv4/ipv6)."""
    def sub(net, cidr, version):
        return client.post("/subnets", {"subnet": {"network_id": net["id"], "cidr": cidr,
                                                   "ip_version": version}})
    low = client.create("network", mtu=67)
    status, body = sub(low, "10.30.0.0/24", 4)
    assert status == 409 and error_type(body) == "NetworkMTUSubnetConflict"
    assert body["NeutronError"]["message"] == (
        "MTU of %s is not valid, subnet requires a minimum of 68" % low["id"])
    net = client.create("network", mtu=1279)
    assert sub(net, "10.30.1.0/24", 4)[0] == 201
    status, body = sub(net, "2001:db8:30::/64", 6)
    assert status == 409 and error_type(body) == "NetworkMTUSubnetConflict"
    assert client.get("/subnets", params={"network_id": net["id"], "ip_version": 6})[1] == {
        "subnets": []}
    status, body = client.put("/networks/" + net["id"], {"network": {"mtu": 67}})
    assert status == 409 and error_type(body) == "NetworkMTUSubnetConflict"
    net = client.create("network", mtu=1280)
    assert sub(net, "2001:db8:31::/64", 6)[0] == 201
    status, body = client.put("/networks/" + net["id"], {"network": {"mtu": 1279}})
    assert status == 409 and body["NeutronError"]["message"].endswith("minimum of 1280")
    shown = client.get("/networks/" + net["id"])[1]["network"]
    assert shown["mtu"] == 1280 and shown["revision_number"] == net["revision_number"] + 1


def test_network_vlan_ranges_option(backend, db_url_factory):
    """``--network-vlan-ranges`` (ML2's network_vlan_ranges): a VLAN network given a physnet
    but no segmentation_id gets the first free id of that physnet's ranges, 503
    NoNetworkAvailable when they are used up or the physnet has none; unnamed physnets are
    refused (neutron-tempest-plugin's test_list_network_filter_provider_attributes)."""
    srv = Server(db_url_factory(backend),
                 extra=["--network-vlan-ranges", "physnet1:100:101,physnet2"])
    try:
        c = Client(srv.url)

        def vlan_net(physnet, **attrs):
            return c.post("/networks", {"network": dict(attrs, **{
                "provider:network_type": "vlan", "provider:physical_network": physnet})})
        ids = [vlan_net("physnet1")[1]["network"]["provider:segmentation_id"] for _ in "ab"]
        assert ids == [100, 101]
        for physnet in ("physnet1", "physnet2"):
            status, body = vlan_net(physnet)
            assert status == 503 and error_type(body) == "NoNetworkAvailable"
        status, body = vlan_net("physnet2", **{"provider:segmentation_id": 5})
        assert status == 201 and body["network"]["provider:segmentation_id"] == 5
        status, body = vlan_net("physnet3", **{"provider:segmentation_id": 5})
        assert status == 400 and error_type(body) == "InvalidInput"
    finally:
        srv.stop()


def test_provider_vlan_and_conflict(client):
    seg = 100 + uuid.uuid4().int % 3000
    net = client.create("network", **{"provider:network_type": "vlan",
                                      "provider:physical_network": "physnet1",
                                      "provider:segmentation_id": seg})
    assert net["provider:network_type"] == "vlan"
    assert net["provider:physical_network"] == "physnet1"
    assert net["provider:segmentation_id"] == seg
    assert net["mtu"] == 1500
    status, body = client.post("/networks", {"network": {
        "provider:network_type": "vlan", "provider:physical_network": "physnet1",
        "provider:segmentation_id": seg}})
    assert status == 409 and error_type(body) == "VlanIdInUse"
    status, body = client.post("/networks", {"network": {
        "provider:network_type": "vlan", "provider:physical_network": "physnet1",
        "provider:segmentation_id": 4095}})
    assert status == 400 and error_type(body) == "InvalidInput"


def test_provider_flat_and_vxlan(client):
    physnet = "flat" + uuid.uuid4().hex[:6]
    net = client.create("network", **{"provider:network_type": "flat",
                                      "provider:physical_network": physnet})
    assert net["provider:segmentation_id"] is None
    assert net["provider:physical_network"] == physnet
    status, body = client.post("/networks", {"network": {
        "provider:network_type": "flat", "provider:physical_network": physnet}})
    assert status == 409, body
    vni = 100000 + uuid.uuid4().int % 100000
    net = client.create("network", **{"provider:network_type": "vxlan",
                                      "provider:segmentation_id": vni})
    assert net["provider:segmentation_id"] == vni and net["mtu"] == 1450
    status, body = client.post("/networks", {"network": {
        "provider:network_type": "vxlan", "provider:segmentation_id": vni}})
    assert status == 409 and error_type(body) == "TunnelIdInUse"


def test_update_bumps_revision_and_if_match(client):
    net = client.create("network", name="rev")
    status, body = client.put("/networks/" + net["id"], {"network": {"name": "rev2"}})
    assert status == 200
    assert body["network"]["revision_number"] == net["revision_number"] + 1
    assert body["network"]["updated_at"] >= net["updated_at"]
    status, body = client.put("/networks/" + net["id"], {"network": {"name": "rev3"}},
                              headers={"If-Match": "revision_number=%d" % net["revision_number"]})
    assert status == 412 and error_type(body) == "RevisionNumberConstraintFailed"
    rev = net["revision_number"] + 1
    status, body = client.put("/networks/" + net["id"], {"network": {"name": "rev3"}},
                              headers={"If-Match": "revision_number=%d" % rev})
    assert status == 200 and body["network"]["name"] == "rev3"
    status, _ = client.delete("/networks/" + net["id"],
                              headers={"If-Match": "revision_number=%d" % rev})
    assert status == 412
    status, _ = client.delete("/networks/" + net["id"],
                              headers={"If-Match": "revision_number=%d" % (rev + 1)})
    assert status == 204
    assert client.get("/networks/" + net["id"])[0] == 404


def test_tags_api(client):
    net = client.create("network")
    path = "/networks/%s/tags" % net["id"]
    assert client.put(path + "/red")[0] == 201
    assert client.put(path + "/red")[0] == 201
    assert client.get(path + "/red")[0] == 204
    status, body = client.get(path + "/blue")
    assert status == 404 and error_type(body) == "TagNotFound"
    status, body = client.put(path, {"tags": ["b", "a"]})
    assert status == 200 and sorted(body["tags"]) == ["a", "b"]
    status, body = client.get(path)
    assert status == 200 and sorted(body["tags"]) == ["a", "b"]
    shown = client.get("/networks/" + net["id"])[1]["network"]
    assert sorted(shown["tags"]) == ["a", "b"]
    assert shown["revision_number"] > net["revision_number"]
    assert client.delete(path + "/a")[0] == 204
    assert client.delete(path + "/a")[0] == 404
    assert client.delete(path)[0] == 204
    assert client.get(path)[1] == {"tags": []}
    assert client.put(path, {"tags": ["t%d" % i for i in range(51)]})[0] == 400


def test_tag_filters(client):
    run = uuid.uuid4().hex[:8]
    nets = {}
    for name, tags in (("ab", ["a", "b"]), ("a", ["a"]), ("b", ["b"]), ("none", [])):
        nets[name] = client.create("network", name="%s-%s" % (run, name))["id"]
        if tags:
            client.put("/networks/%s/tags" % nets[name], {"tags": [run + t for t in tags]})

    def names(**params):
        status, body = client.get("/networks", params=params)
        assert status == 200, body
        return {n["name"].split("-")[1] for n in body["networks"]
                if n["name"].startswith(run)}

    a, b = run + "a", run + "b"
    assert names(tags=a + "," + b) == {"ab"}
    assert names(**{"tags-any": a + "," + b}) == {"ab", "a", "b"}
    assert names(**{"not-tags": a + "," + b}) == {"a", "b", "none"}
    assert names(**{"not-tags-any": a + "," + b}) == {"none"}
    assert names(tags=a, **{"not-tags": b}) == {"a"}


def test_boolean_and_list_filters(client):
    run = uuid.uuid4().hex[:8]
    up = client.create("network", name=run)
    down = client.create("network", name=run, admin_state_up=False)
    for value, expected in (("true", up), ("True", up), ("false", down), ("0", down)):
        status, body = client.get("/networks", params={"name": run, "admin_state_up": value})
        assert status == 200 and [n["id"] for n in body["networks"]] == [expected["id"]]
    status, body = client.get("/networks", params=[("id", up["id"]), ("id", down["id"])])
    assert {n["id"] for n in body["networks"]} == {up["id"], down["id"]}
    status, body = client.get("/networks", params={"name": run, "admin_state_up": "maybe"})
    assert status == 400
    status, body = client.get("/networks", params={"no_such_attr": "x"})
    assert status == 400


def test_bulk_create_all_or_nothing(client):
    run = uuid.uuid4().hex[:8]
    status, body = client.post("/networks", {"networks": [{"name": run}, {"name": run}]})
    assert status == 201 and len(body["networks"]) == 2
    assert all(set(n) == NETWORK_KEYS for n in body["networks"])
    status, body = client.post("/networks", {"networks": [
        {"name": run + "x"}, {"name": run + "x", "mtu": 9000}]})
    assert status == 400, body
    assert client.get("/networks", params={"name": run + "x"})[1]["networks"] == []


def test_delete_with_only_dhcp_port(client):
    net = client.create("network")
    sub = client.create("subnet", network_id=net["id"], cidr="10.1.0.0/24", ip_version=4)
    dhcp = client.create("port", network_id=net["id"], device_owner="network:dhcp")
    port = client.create("port", network_id=net["id"])
    status, body = client.delete("/networks/" + net["id"])
    assert status == 409 and error_type(body) == "NetworkInUse"
    assert client.delete("/ports/" + port["id"])[0] == 204
    assert client.delete("/networks/" + net["id"])[0] == 204
    for path in ("/networks/" + net["id"], "/subnets/" + sub["id"], "/ports/" + dhcp["id"]):
        assert client.get(path)[0] == 404


# -- sorting and pagination, as neutron_tempest_plugin's BaseSearchCriteriaTest walks them

NAMES = ("test1", "abc1", "test10", "123test", "test1")


@pytest.fixture(scope="module")
def search_project(client):
    project = uuid.uuid4().hex
    for name in NAMES:
        client.create("network", name=name, project_id=project)
    return {"project_id": project}


def _list(client, params):
    status, body = client.get("/networks", params=params)
    assert status == 200, body
    return body


def _follow(client, href):
    assert href.startswith(client.url + "/networks?")
    status, body = client.get(href[len(client.url):])
    assert status == 200, body
    return {link["rel"]: link["href"] for link in body.get("networks_links", [])}, body


@pytest.mark.parametrize("direction", ["asc", "desc"])
def test_sorts(client, search_project, direction):
    body = _list(client, dict(search_project, sort_key="name", sort_dir=direction))
    names = [n["name"] for n in body["networks"]]
    assert names == sorted(NAMES, reverse=direction == "desc")
    assert "networks_links" not in body


def test_limits(client, search_project):
    for limit in range(1, len(NAMES) + 1):
        assert len(_list(client, dict(search_project, limit=limit))["networks"]) == limit
    assert len(_list(client, dict(search_project, limit=0))["networks"]) == len(NAMES)


def test_pagination_with_marker(client, search_project):
    expected = _list(client, dict(search_project, sort_key="name", sort_dir="asc"))["networks"]
    got = []
    for _ in expected:
        params = dict(search_project, sort_key="name", sort_dir="asc", limit=1)
        if got:
            params["marker"] = got[-1]["id"]
        page = _list(client, params)["networks"]
        assert len(page) == 1
        got += page
    assert [n["id"] for n in got] == [n["id"] for n in expected]


def test_pagination_href_links_both_ways(client, search_project):
    expected = _list(client, dict(search_project, sort_key="name", sort_dir="asc"))["networks"]
    body = _list(client, dict(search_project, sort_key="name", sort_dir="asc", limit=1))
    links = {link["rel"]: link["href"] for link in body["networks_links"]}
    forward = list(body["networks"])
    for _ in expected[1:]:
        links, body = _follow(client, links["next"])
        assert len(body["networks"]) == 1
        forward += body["networks"]
    assert [n["id"] for n in forward] == [n["id"] for n in expected]
    links, body = _follow(client, links["next"])
    assert body["networks"] == [] and "next" not in links
    backward = []
    for _ in expected:
        links, body = _follow(client, links["previous"])
        assert len(body["networks"]) == 1
        backward += body["networks"]
    assert [n["id"] for n in reversed(backward)] == [n["id"] for n in expected]


@pytest.mark.parametrize("direction", ["asc", "desc"])
def test_pagination_page_reverse_with_href_links(client, search_project, direction):
    expected = _list(client, dict(search_project, sort_key="name",
                                  sort_dir=direction))["networks"]
    got, links = [], None
    for _ in range((len(expected) + 1) // 2):
        if links is None:
            body = _list(client, dict(search_project, sort_key="name", sort_dir=direction,
                                      limit=2, page_reverse="True"))
            links = {link["rel"]: link["href"] for link in body["networks_links"]}
        else:
            links, body = _follow(client, links["previous"])
        assert len(body["networks"]) <= 2
        got = body["networks"] + got
    assert [n["id"] for n in got] == [n["id"] for n in expected]


@pytest.mark.parametrize("direction", ["asc", "desc"])
def test_pagination_page_reverse(client, search_project, direction):
    params = dict(search_project, sort_key="name", sort_dir=direction, limit=3)
    first = _list(client, params)["networks"]
    body = _list(client, dict(params, limit=2, marker=first[-1]["id"], page_reverse="True"))
    assert [n["id"] for n in body["networks"]] == [n["id"] for n in first[:-1]]


def test_bad_marker_and_limit(client):
    assert client.get("/networks", params={"limit": -1})[0] == 400
    assert client.get("/networks", params={"limit": "x"})[0] == 400
    assert client.get("/networks", params={"sort_key": "name"})[0] == 400


def test_openstacksdk_roundtrip(server):
    import openstack
    conn = openstack.connection.Connection(auth_type="none", endpoint_override=server.url,
                                           network_endpoint_override=server.url)
    net = conn.network.create_network(name="sdk-net")
    assert net.mtu == 1450 and net.provider_network_type == "vxlan"
    conn.network.set_tags(net, ["sdk"])
    found = list(conn.network.networks(tags="sdk"))
    assert [n.id for n in found] == [net.id]
    conn.network.delete_network(net)
    assert conn.network.find_network("sdk-net") is None
