"""Ports: defaults and shape, MACs, IPAM (DHCP first free, no duplicates, explicit fixed_ips,
updates), revisions and If-Match, filters incl. ``fixed_ips=ip_address=``, bulk create."""
import ipaddress
import re
import uuid

import pytest

from helpers.api import error_type

# The peer's port keys.
PORT_KEYS = {
    "admin_state_up", "allowed_address_pairs", "binding:host_id", "binding:profile",
    "binding:vif_details", "binding:vif_type", "binding:vnic_type", "created_at", "description",
    "device_id", "device_owner", "extra_dhcp_opts", "fixed_ips", "id", "mac_address", "name",
    "network_id", "port_security_enabled", "project_id", "revision_number", "security_groups",
    "status", "tags", "tenant_id", "updated_at"}
MAC = re.compile(r"^fa:16:3e(:[0-9a-f]{2}){3}$")


@pytest.fixture
def net(client):
    net = client.create("network", name="ports-" + uuid.uuid4().hex[:6])
    net["subnet"] = client.create("subnet", network_id=net["id"], cidr="10.20.0.0/24",
                                  ip_version=4)
    return net


def port(client, net, **attrs):
    return client.create("port", network_id=net["id"], **attrs)


def test_defaults_and_shape(client, net):
    p = port(client, net)
    assert set(p) == PORT_KEYS
    assert p["status"] == "DOWN" and p["admin_state_up"] is True
    assert p["device_id"] == "" and p["device_owner"] == "" and p["binding:host_id"] == ""
    assert p["binding:vif_type"] == "unbound" and p["binding:vif_details"] == {}
    assert p["binding:vnic_type"] == "normal" and p["binding:profile"] == {}
    assert p["allowed_address_pairs"] == [] and p["port_security_enabled"] is True
    assert p["extra_dhcp_opts"] == []
    assert p["revision_number"] == 1 and p["project_id"] == p["tenant_id"]
    assert MAC.match(p["mac_address"])
    [fixed] = p["fixed_ips"]
    assert fixed["subnet_id"] == net["subnet"]["id"]
    assert ipaddress.ip_address(fixed["ip_address"]) in ipaddress.ip_network("10.20.0.0/24")


def test_macs_unique_and_explicit(client, net):
    macs = {port(client, net)["mac_address"] for _ in range(10)}
    assert len(macs) == 10 and all(MAC.match(m) for m in macs)
    p = port(client, net, mac_address="FA:16:3E:AA:BB:CC")
    assert p["mac_address"] == "fa:16:3e:aa:bb:cc"
    status, body = client.post("/ports", {"port": {"network_id": net["id"],
                                                   "mac_address": "fa:16:3e:aa:bb:cc"}})
    assert status == 409 and error_type(body) == "MacAddressInUse"
    other = client.create("network")
    assert client.create("port", network_id=other["id"],
                         mac_address="fa:16:3e:aa:bb:cc")["mac_address"] == "fa:16:3e:aa:bb:cc"


def test_dhcp_port_gets_first_free(client, net):
    dhcp = port(client, net, device_owner="network:dhcp")
    assert dhcp["fixed_ips"][0]["ip_address"] == "10.20.0.2"
    port(client, net, fixed_ips=[{"ip_address": "10.20.0.3"}])
    dhcp2 = port(client, net, device_owner="network:dhcp")
    assert dhcp2["fixed_ips"][0]["ip_address"] == "10.20.0.4"


def test_no_duplicate_addresses(client):
    net = client.create("network")
    client.create("subnet", network_id=net["id"], cidr="10.21.0.0/28", ip_version=4)
    ips = [client.create("port", network_id=net["id"])["fixed_ips"][0]["ip_address"]
           for _ in range(13)]
    assert len(set(ips)) == 13
    status, body = client.post("/ports", {"port": {"network_id": net["id"]}})
    assert status == 409 and error_type(body) == "IpAddressGenerationFailure"


def test_fixed_ips_requests(client, net):
    sid = net["subnet"]["id"]
    p = port(client, net, fixed_ips=[{"subnet_id": sid, "ip_address": "10.20.0.50"}])
    assert p["fixed_ips"] == [{"subnet_id": sid, "ip_address": "10.20.0.50"}]
    p = port(client, net, fixed_ips=[{"ip_address": "10.20.0.51"}])
    assert p["fixed_ips"] == [{"subnet_id": sid, "ip_address": "10.20.0.51"}]
    p = port(client, net, fixed_ips=[{"subnet_id": sid}])
    assert p["fixed_ips"][0]["subnet_id"] == sid
    status, body = client.post("/ports", {"port": {"network_id": net["id"], "fixed_ips": [
        {"ip_address": "10.20.0.50"}]}})
    assert status == 409 and error_type(body) == "IpAddressAlreadyAllocated"
    status, body = client.post("/ports", {"port": {"network_id": net["id"], "fixed_ips": [
        {"subnet_id": sid, "ip_address": "10.20.0.255"}]}})
    assert status == 400 and error_type(body) == "InvalidIpForSubnet"
    status, body = client.post("/ports", {"port": {"network_id": net["id"], "fixed_ips": [
        {"ip_address": "10.99.0.5"}]}})
    assert status == 400 and error_type(body) == "InvalidIpForNetwork"
    p = port(client, net, fixed_ips=[])
    assert p["fixed_ips"] == []


def test_update_fixed_ips(client, net):
    sid = net["subnet"]["id"]
    p = port(client, net, fixed_ips=[{"ip_address": "10.20.0.60"}])
    status, body = client.put("/ports/" + p["id"], {"port": {"fixed_ips": [
        {"subnet_id": sid, "ip_address": "10.20.0.61"}]}})
    assert status == 200 and body["port"]["fixed_ips"] == [
        {"subnet_id": sid, "ip_address": "10.20.0.61"}]
    assert body["port"]["revision_number"] == p["revision_number"] + 1
    # the released address is free again, the new one is taken
    port(client, net, fixed_ips=[{"ip_address": "10.20.0.60"}])
    status, body = client.post("/ports", {"port": {"network_id": net["id"], "fixed_ips": [
        {"ip_address": "10.20.0.61"}]}})
    assert status == 409
    # a bare subnet_id keeps the address already held there
    status, body = client.put("/ports/" + p["id"], {"port": {"fixed_ips": [{"subnet_id": sid}]}})
    assert body["port"]["fixed_ips"] == [{"subnet_id": sid, "ip_address": "10.20.0.61"}]
    status, body = client.put("/ports/" + p["id"], {"port": {"fixed_ips": []}})
    assert status == 200 and body["port"]["fixed_ips"] == []


def test_update_revision_if_match_and_binding(client, net):
    p = port(client, net)
    status, body = client.put("/ports/" + p["id"], {"port": {"name": "x"}},
                              headers={"If-Match": "revision_number=99"})
    assert status == 412 and error_type(body) == "RevisionNumberConstraintFailed"
    status, body = client.put("/ports/" + p["id"], {"port": {"name": "x", "device_id": "vm1"}},
                              headers={"If-Match": "revision_number=1"})
    assert status == 200 and body["port"]["revision_number"] == 2
    assert body["port"]["updated_at"] >= p["updated_at"]
    status, body = client.put("/ports/" + p["id"], {"port": {"binding:host_id": "host-a"}})
    assert status == 200 and body["port"]["binding:host_id"] == "host-a"
    assert body["port"]["revision_number"] > 2  # Neutron's binding attempts bump it by 3
    status, body = client.put("/ports/" + p["id"], {"port": {"network_id": net["id"]}})
    assert status == 400


def test_filters(client, net):
    run = uuid.uuid4().hex[:8]
    a = port(client, net, name=run, device_id="vm-" + run,
             fixed_ips=[{"ip_address": "10.20.0.70"}])
    b = port(client, net, name=run, admin_state_up=False)

    def ids(**params):
        status, body = client.get("/ports", params=params)
        assert status == 200, body
        return [p["id"] for p in body["ports"]]

    assert ids(fixed_ips="ip_address=10.20.0.70", network_id=net["id"]) == [a["id"]]
    assert ids(fixed_ips="subnet_id=%s" % net["subnet"]["id"], name=run,
               sort_key="id", sort_dir="asc") == sorted([a["id"], b["id"]])
    assert ids(device_id="vm-" + run) == [a["id"]]
    assert ids(name=run, admin_state_up="false") == [b["id"]]
    assert ids(network_id=net["id"], device_owner="network:dhcp") == []
    assert sorted(ids(name=run, fields="id")) == sorted([a["id"], b["id"]])


def test_address_pairs_need_port_security(client, net):
    """409 AddressPairAndPortSecurityRequired, as Neutron 29 answers, for pairs on a port
    without port security: on create, on update, and turning port security off under pairs
    (neutron-tempest-plugin's PortSecTest.test_allowed_address_pairs)."""
    pairs = [{"ip_address": "10.20.0.200", "mac_address": "fa:16:3e:00:00:01"}]
    status, body = client.post("/ports", {"port": {
        "network_id": net["id"], "port_security_enabled": False, "allowed_address_pairs": pairs}})
    assert status == 409 and error_type(body) == "AddressPairAndPortSecurityRequired"
    assert body["NeutronError"]["message"] == ("Port Security must be enabled in order to "
                                               "have allowed address pairs on a port.")
    insecure = port(client, net, port_security_enabled=False)
    status, body = client.put("/ports/" + insecure["id"],
                              {"port": {"allowed_address_pairs": pairs}})
    assert status == 409 and error_type(body) == "AddressPairAndPortSecurityRequired"
    assert client.put("/ports/" + insecure["id"],
                      {"port": {"allowed_address_pairs": []}})[0] == 200
    paired = port(client, net, allowed_address_pairs=pairs)
    status, body = client.put("/ports/" + paired["id"], {"port": {"port_security_enabled": False}})
    assert status == 409 and error_type(body) == "AddressPairAndPortSecurityRequired"
    shown = client.get("/ports/" + paired["id"])[1]["port"]
    assert shown["port_security_enabled"] is True
    assert shown["revision_number"] == paired["revision_number"]
    # (its default security group goes too: Neutron refuses port security off under groups)
    status, body = client.put("/ports/" + paired["id"], {"port": {
        "port_security_enabled": False, "allowed_address_pairs": [], "security_groups": []}})
    assert status == 200 and body["port"]["port_security_enabled"] is False


def test_bulk_create_all_or_nothing(client, net):
    run = uuid.uuid4().hex[:8]
    status, body = client.post("/ports", {"ports": [
        {"network_id": net["id"], "name": run},
        {"network_id": net["id"], "name": run, "fixed_ips": [{"ip_address": "10.20.0.99"}]},
        {"network_id": net["id"], "name": run, "fixed_ips": [{"ip_address": "10.20.0.99"}]}]})
    assert status == 409 and error_type(body) == "IpAddressAlreadyAllocated"
    assert client.get("/ports", params={"name": run})[1]["ports"] == []
    status, body = client.post("/ports", {"ports": [
        {"network_id": net["id"], "name": run}, {"network_id": net["id"], "name": run}]})
    assert status == 201 and len(body["ports"]) == 2
    assert all(set(p) == PORT_KEYS for p in body["ports"])


def test_delete(client, net):
    p = port(client, net, fixed_ips=[{"ip_address": "10.20.0.80"}])
    assert client.delete("/ports/" + p["id"])[0] == 204
    status, body = client.get("/ports/" + p["id"])
    assert status == 404 and error_type(body) == "PortNotFound"
    assert client.delete("/ports/" + p["id"])[0] == 404
    port(client, net, fixed_ips=[{"ip_address": "10.20.0.80"}])


def test_openstacksdk(server):
    import openstack
    conn = openstack.connection.Connection(auth_type="none", endpoint_override=server.url,
                                           network_endpoint_override=server.url)
    net = conn.network.create_network(name="sdk-ports")
    sub = conn.network.create_subnet(network_id=net.id, cidr="10.30.0.0/24", ip_version=4)
    p = conn.network.create_port(network_id=net.id, fixed_ips=[{"subnet_id": sub.id}])
    assert p.fixed_ips[0]["subnet_id"] == sub.id and p.mac_address.startswith("fa:16:3e")
    p = conn.network.update_port(p, name="renamed")
    assert p.name == "renamed" and p.revision_number == 2
    assert [x.id for x in conn.network.ports(network_id=net.id)] == [p.id]
