"""Subnets: IPv4 and IPv6 defaults (gateway, allocation pools), DNS servers and host routes,
updates and revisions, overlap refusal, and delete refused while ports hold addresses."""
import uuid

import pytest

from helpers.api import error_type

# The peer's subnet keys minus router:external and service_types (extensions trunkline does
# not implement).
SUBNET_KEYS = {
    "allocation_pools", "cidr", "created_at", "description", "dns_nameservers", "enable_dhcp",
    "gateway_ip", "host_routes", "id", "ip_version", "ipv6_address_mode", "ipv6_ra_mode",
    "name", "network_id", "project_id", "revision_number", "router:external", "subnetpool_id",
    "tags", "tenant_id", "updated_at"}


@pytest.fixture
def net(client):
    return client.create("network", name="subnets-" + uuid.uuid4().hex[:6])


def subnet(client, net, cidr, version=4, **attrs):
    return client.create("subnet", network_id=net["id"], cidr=cidr, ip_version=version, **attrs)


def test_ipv4_defaults_and_shape(client, net):
    sub = subnet(client, net, "10.0.0.0/24")
    assert set(sub) == SUBNET_KEYS
    assert sub["gateway_ip"] == "10.0.0.1"
    assert sub["allocation_pools"] == [{"start": "10.0.0.2", "end": "10.0.0.254"}]
    assert sub["enable_dhcp"] is True and sub["ipv6_ra_mode"] is None
    assert sub["dns_nameservers"] == [] and sub["host_routes"] == []
    assert sub["subnetpool_id"] is None and sub["revision_number"] == 0
    assert sub["router:external"] is False
    shown = client.get("/networks/" + net["id"])[1]["network"]
    assert shown["subnets"] == [sub["id"]]
    assert shown["revision_number"] == net["revision_number"] + 1


def test_ipv4_small_and_no_gateway(client, net):
    sub = subnet(client, net, "10.0.1.0/30")
    assert sub["allocation_pools"] == [{"start": "10.0.1.2", "end": "10.0.1.2"}]
    sub = subnet(client, net, "10.0.2.0/24", gateway_ip=None)
    assert sub["gateway_ip"] is None
    assert sub["allocation_pools"] == [{"start": "10.0.2.1", "end": "10.0.2.254"}]
    sub = subnet(client, net, "10.0.3.0/24", gateway_ip="10.0.3.254")
    assert sub["allocation_pools"] == [{"start": "10.0.3.1", "end": "10.0.3.253"}]
    status, body = client.post("/subnets", {"subnet": {
        "network_id": net["id"], "cidr": "10.0.4.0/31", "ip_version": 4}})
    assert status == 400 and error_type(body) == "InvalidInput"


def test_ipv4_explicit_pools_routes_dns(client, net):
    sub = subnet(client, net, "10.1.0.0/24",
                 allocation_pools=[{"start": "10.1.0.100", "end": "10.1.0.110"}],
                 dns_nameservers=["8.8.8.8", "1.1.1.1"],
                 host_routes=[{"destination": "10.6.0.0/16", "nexthop": "10.1.0.5"}])
    assert sub["allocation_pools"] == [{"start": "10.1.0.100", "end": "10.1.0.110"}]
    assert sub["dns_nameservers"] == ["8.8.8.8", "1.1.1.1"]
    assert sub["host_routes"] == [{"destination": "10.6.0.0/16", "nexthop": "10.1.0.5"}]
    port = client.create("port", network_id=net["id"])
    ip = port["fixed_ips"][0]["ip_address"]
    assert 100 <= int(ip.rsplit(".", 1)[1]) <= 110


def test_ipv6_defaults(client, net):
    sub = subnet(client, net, "2001:db8:1::/64", version=6)
    assert sub["gateway_ip"] == "2001:db8:1::"
    assert sub["allocation_pools"] == [{"start": "2001:db8:1::1",
                                        "end": "2001:db8:1:0:ffff:ffff:ffff:ffff"}]
    sub = subnet(client, net, "2001:db8:2::/64", version=6, gateway_ip="2001:db8:2::1")
    assert sub["allocation_pools"] == [{"start": "2001:db8:2::2",
                                        "end": "2001:db8:2:0:ffff:ffff:ffff:ffff"}]


def test_ipv6_slaac_eui64(client, net):
    v4 = subnet(client, net, "10.2.0.0/24")
    v6 = subnet(client, net, "2001:db8:3::/64", version=6, ipv6_ra_mode="slaac",
                ipv6_address_mode="slaac")
    assert v6["ipv6_ra_mode"] == "slaac" and v6["ipv6_address_mode"] == "slaac"
    port = client.create("port", network_id=net["id"], mac_address="fa:16:3e:12:34:56")
    by_subnet = {f["subnet_id"]: f["ip_address"] for f in port["fixed_ips"]}
    assert by_subnet[v6["id"]] == "2001:db8:3:0:f816:3eff:fe12:3456"
    assert v4["id"] in by_subnet


def test_mismatched_version_and_overlap(client, net):
    status, body = client.post("/subnets", {"subnet": {
        "network_id": net["id"], "cidr": "10.3.0.0/24", "ip_version": 6}})
    assert status == 400
    subnet(client, net, "10.3.0.0/24")
    status, body = client.post("/subnets", {"subnet": {
        "network_id": net["id"], "cidr": "10.3.0.128/25", "ip_version": 4}})
    assert status == 400 and error_type(body) == "InvalidInput"


def test_update_revision_and_lists(client, net):
    sub = subnet(client, net, "10.4.0.0/24")
    status, body = client.put("/subnets/" + sub["id"], {"subnet": {
        "name": "renamed", "dns_nameservers": ["9.9.9.9"],
        "host_routes": [{"destination": "0.0.0.0/0", "nexthop": "10.4.0.1"}]}})
    assert status == 200, body
    new = body["subnet"]
    assert new["revision_number"] == sub["revision_number"] + 1
    assert new["dns_nameservers"] == ["9.9.9.9"] and new["name"] == "renamed"
    status, body = client.put("/subnets/" + sub["id"], {"subnet": {"cidr": "10.9.0.0/24"}})
    assert status == 400
    status, body = client.put("/subnets/" + sub["id"], {"subnet": {"name": "x"}},
                              headers={"If-Match": "revision_number=0"})
    assert status == 412


def test_filters_and_sorting(client, net):
    a = subnet(client, net, "10.5.0.0/24", name="b-sub")
    b = subnet(client, net, "2001:db8:5::/64", version=6, name="a-sub")
    status, body = client.get("/subnets", params={"network_id": net["id"], "ip_version": 6})
    assert [s["id"] for s in body["subnets"]] == [b["id"]]
    status, body = client.get("/subnets", params={"network_id": net["id"], "sort_key": "name",
                                                  "sort_dir": "asc"})
    assert [s["id"] for s in body["subnets"]] == [b["id"], a["id"]]
    status, body = client.get("/subnets", params={"network_id": net["id"],
                                                  "enable_dhcp": "false"})
    assert body["subnets"] == []


def test_filter_by_the_networks_shared(client, net):
    """``shared`` filters subnets by their network's (neutron-tempest-plugin's
    test_filtering_shared_subnets); it is never part of a subnet's body."""
    shared_net = client.create("network", name="shared-" + uuid.uuid4().hex[:6], shared=True)
    private = subnet(client, net, "10.7.0.0/24")
    shared = subnet(client, shared_net, "10.7.1.0/24")
    assert "shared" not in shared
    for value, want, not_want in (("true", shared, private), ("False", private, shared)):
        status, body = client.get("/subnets", params={"shared": value})
        assert status == 200, body
        ids = [s["id"] for s in body["subnets"]]
        assert want["id"] in ids and not_want["id"] not in ids
    status, body = client.post("/subnets", {"subnet": {
        "network_id": net["id"], "cidr": "10.7.2.0/24", "ip_version": 4, "shared": True}})
    assert status == 400 and error_type(body) == "HTTPBadRequest"


def test_router_external_follows_the_network(client, net):
    """subnet-external-network: a subnet shows and filters by its network's router:external,
    which it cannot set itself."""
    public = client.create("network", name="pub-" + uuid.uuid4().hex[:6],
                           **{"router:external": True})
    private = subnet(client, net, "10.8.0.0/24")
    external = subnet(client, public, "10.8.1.0/24")
    assert (private["router:external"], external["router:external"]) == (False, True)
    for value, want, not_want in (("True", external, private), ("false", private, external)):
        status, body = client.get("/subnets", params={"router:external": value,
                                                       "fields": "id"})
        assert status == 200, body
        ids = [s["id"] for s in body["subnets"]]
        assert want["id"] in ids and not_want["id"] not in ids
    status, body = client.get("/subnets/" + external["id"], params={"fields": "router:external"})
    assert body["subnet"] == {"router:external": True}, body
    status, body = client.put("/subnets/" + private["id"],
                              {"subnet": {"router:external": True}})
    assert status == 400 and error_type(body) == "HTTPBadRequest"


def test_delete_refused_while_port_holds_address(client, net):
    sub = subnet(client, net, "10.6.0.0/24")
    dhcp = client.create("port", network_id=net["id"], device_owner="network:dhcp")
    port = client.create("port", network_id=net["id"])
    status, body = client.delete("/subnets/" + sub["id"])
    assert status == 409 and error_type(body) == "SubnetInUse"
    assert client.delete("/ports/" + port["id"])[0] == 204
    assert client.delete("/subnets/" + sub["id"])[0] == 204
    assert client.get("/subnets/" + sub["id"])[0] == 404
    assert client.get("/ports/" + dhcp["id"])[1]["port"]["fixed_ips"] == []
    assert client.get("/networks/" + net["id"])[1]["network"]["subnets"] == []


@pytest.mark.parametrize("mode", ["slaac", "dhcpv6-stateless"])
def test_delete_auto_address_subnet_with_ports(client, net, mode):
    """Neutron deletes an IPv6 SLAAC/stateless subnet under ports, removing their addresses
    from it (tempest's test_create_delete_slaac_subnet_with_ports)."""
    sub = subnet(client, net, "2001:db8:6::/64", version=6, ipv6_ra_mode=mode,
                 ipv6_address_mode=mode)
    kept = subnet(client, net, "10.6.1.0/24")
    port = client.create("port", network_id=net["id"])
    assert {ip["subnet_id"] for ip in port["fixed_ips"]} == {sub["id"], kept["id"]}
    assert client.delete("/subnets/" + sub["id"])[0] == 204
    assert client.get("/subnets/" + sub["id"])[0] == 404
    shown = client.get("/ports/" + port["id"])[1]["port"]
    assert [ip["subnet_id"] for ip in shown["fixed_ips"]] == [kept["id"]]
    assert shown["revision_number"] > port["revision_number"]
    status, body = client.delete("/networks/" + net["id"])
    assert status == 409 and error_type(body) == "NetworkInUse"


def test_delete_missing(client):
    status, body = client.delete("/subnets/" + str(uuid.uuid4()))
    assert status == 404 and error_type(body) == "SubnetNotFound"


def test_bulk_create_all_or_nothing(client, net):
    status, body = client.post("/subnets", {"subnets": [
        {"network_id": net["id"], "cidr": "10.7.0.0/24", "ip_version": 4},
        {"network_id": net["id"], "cidr": "10.7.0.0/25", "ip_version": 4}]})
    assert status == 400, body
    assert client.get("/subnets", params={"network_id": net["id"]})[1]["subnets"] == []
    status, body = client.post("/subnets", {"subnets": [
        {"network_id": net["id"], "cidr": "10.7.0.0/24", "ip_version": 4},
        {"network_id": net["id"], "cidr": "10.8.0.0/24", "ip_version": 4}]})
    assert status == 201 and len(body["subnets"]) == 2
