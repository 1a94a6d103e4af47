"""The trunk contract (neutron_tempest_plugin api/test_trunk.py and test_trunk_negative.py):
create/show/list/update/delete, add/remove/get subports and their bodies, revision_number,
trunk_details on the parent, subport binding to the parent's host, ``inherit`` on VLAN
provider networks, MTU rules, disabled trunks, VLAN id limits and the port deletion guard."""
import time
import uuid

import pytest

from helpers.api import error_type

TRUNK_KEYS = {"admin_state_up", "created_at", "description", "id", "name", "port_id",
              "project_id", "revision_number", "status", "sub_ports", "tags", "tenant_id",
              "updated_at"}


@pytest.fixture(scope="module")
def net(client):
    net = client.create("network", name="trunks")
    client.create("subnet", network_id=net["id"], cidr="10.40.0.0/20", ip_version=4)
    return net


@pytest.fixture
def new_port(client, net):
    return lambda **attrs: client.create("port", network_id=net["id"], **attrs)


def vlan(port, seg_id):
    return {"port_id": port["id"], "segmentation_type": "vlan", "segmentation_id": seg_id}


def add(client, trunk, subports):
    return client.put("/trunks/%s/add_subports" % trunk["id"], {"sub_ports": subports})


def remove(client, trunk, subports):
    return client.put("/trunks/%s/remove_subports" % trunk["id"], {"sub_ports": subports})


def show(client, trunk):
    status, body = client.get("/trunks/" + trunk["id"])
    assert status == 200, body
    return body["trunk"]


@pytest.mark.parametrize("sub_ports", [None, []])
def test_create_without_subports(client, new_port, sub_ports):
    parent = new_port()
    attrs = {"port_id": parent["id"]}
    if sub_ports is not None:
        attrs["sub_ports"] = sub_ports
    trunk = client.create("trunk", **attrs)
    assert set(trunk) == TRUNK_KEYS
    assert trunk["status"] == "DOWN" and trunk["revision_number"] == 0
    assert trunk["sub_ports"] == [] and trunk["admin_state_up"] is True
    assert trunk["name"] == "" and trunk["description"] == "" and trunk["tags"] == []
    assert trunk["project_id"] == trunk["tenant_id"]
    assert show(client, trunk) == trunk


def test_create_with_subports_and_details(client, new_port):
    parent, sp1, sp2 = new_port(), new_port(), new_port()
    subports = [vlan(sp1, 2), vlan(sp2, 4)]
    trunk = client.create("trunk", port_id=parent["id"], sub_ports=subports, name="t",
                          description="foo description")
    assert trunk["sub_ports"] == subports and trunk["revision_number"] == 0
    assert trunk["description"] == "foo description"
    status, body = client.get("/trunks/%s/get_subports" % trunk["id"])
    assert status == 200 and body == {"sub_ports": subports}
    details = client.get("/ports/" + parent["id"])[1]["port"]["trunk_details"]
    assert details == {"trunk_id": trunk["id"], "sub_ports": [
        dict(vlan(sp1, 2), mac_address=sp1["mac_address"]),
        dict(vlan(sp2, 4), mac_address=sp2["mac_address"])]}
    assert "trunk_details" not in client.get("/ports/" + sp1["id"])[1]["port"]
    listed = client.get("/ports", params={"id": parent["id"]})[1]["ports"][0]
    assert listed["trunk_details"] == details


def test_update_and_list(client, new_port):
    trunk = client.create("trunk", port_id=new_port()["id"])
    other = client.create("trunk", port_id=new_port()["id"])
    status, body = client.put("/trunks/" + trunk["id"], {"trunk": {
        "name": "foo", "admin_state_up": False, "description": "d"}})
    assert status == 200
    updated = body["trunk"]
    assert updated["name"] == "foo" and updated["admin_state_up"] is False
    assert updated["revision_number"] > trunk["revision_number"]
    assert updated["status"] == "DOWN"
    status, body = client.put("/trunks/" + trunk["id"], {"trunk": {"description": ""}})
    assert body["trunk"]["description"] == ""
    status, body = client.put("/trunks/" + trunk["id"], {"trunk": {"port_id": other["port_id"]}})
    assert status == 400
    status, body = client.put("/trunks/" + trunk["id"], {"trunk": {"name": "bar"}},
                              headers={"If-Match": "revision_number=0"})
    assert status == 412
    status, body = client.get("/trunks", params=[("id", trunk["id"]), ("id", other["id"])])
    assert {t["id"]: t for t in body["trunks"]} == {
        trunk["id"]: show(client, trunk), other["id"]: other}
    status, body = client.get("/trunks", params={"port_id": other["port_id"]})
    assert [t["id"] for t in body["trunks"]] == [other["id"]]
    status, body = client.get("/trunks", params={"admin_state_up": "false",
                                                 "id": [trunk["id"], other["id"]]})
    assert [t["id"] for t in body["trunks"]] == [trunk["id"]]
    client.put("/trunks/" + trunk["id"], {"trunk": {"admin_state_up": True}})


def test_add_remove_subports(client, new_port):
    trunk = client.create("trunk", port_id=new_port()["id"])
    sp1, sp2 = new_port(), new_port()
    status, body = add(client, trunk, [vlan(sp1, 2)])
    assert status == 200
    assert "trunk" not in body and body["id"] == trunk["id"]   # the bare trunk dict
    assert body["sub_ports"] == [vlan(sp1, 2)]
    assert body["revision_number"] == trunk["revision_number"]
    status, body = add(client, trunk, [vlan(sp2, 4)])
    assert body["sub_ports"] == [vlan(sp1, 2), vlan(sp2, 4)]
    assert show(client, trunk)["sub_ports"] == [vlan(sp1, 2), vlan(sp2, 4)]
    status, body = remove(client, trunk, [vlan(sp2, 4)])
    assert status == 200 and "trunk" not in body
    assert body["sub_ports"] == [vlan(sp1, 2)]
    assert body["revision_number"] == trunk["revision_number"]
    status, body = remove(client, trunk, [{"port_id": sp1["id"]}])
    assert body["sub_ports"] == []
    status, body = remove(client, trunk, [{"port_id": sp1["id"]}])
    assert status == 404 and error_type(body) == "SubPortNotFound"
    assert client.get("/trunks/%s/get_subports" % trunk["id"])[1] == {"sub_ports": []}


def test_subport_refusals(client, new_port):
    parent, sp, busy = new_port(), new_port(), new_port(device_id="vm-1")
    trunk = client.create("trunk", port_id=parent["id"], sub_ports=[vlan(sp, 10)])
    other = client.create("trunk", port_id=new_port()["id"])
    status, body = add(client, other, [vlan(sp, 11)])
    assert status == 409 and error_type(body) == "TrunkPortInUse"
    status, body = add(client, trunk, [vlan(new_port(), 10)])
    assert status == 409 and error_type(body) == "DuplicateSubPort"
    status, body = add(client, trunk, [vlan(parent, 12)])
    assert status == 409 and error_type(body) == "ParentPortInUse"
    status, body = add(client, trunk, [vlan(busy, 12)])
    assert status == 409 and error_type(body) == "PortInUse"
    status, body = add(client, trunk, [{"port_id": str(uuid.uuid4()),
                                        "segmentation_type": "vlan", "segmentation_id": 12}])
    assert status == 404 and error_type(body) == "PortNotFound"
    status, body = client.post("/trunks", {"trunk": {"port_id": parent["id"]}})
    assert status == 409 and error_type(body) == "ParentPortInUse"
    status, body = client.post("/trunks", {"trunk": {"port_id": sp["id"]}})
    assert status == 409 and error_type(body) == "TrunkPortInUse"
    status, body = client.post("/trunks", {"trunk": {"port_id": str(uuid.uuid4())}})
    assert status == 404 and error_type(body) == "PortNotFound"
    status, body = add(client, trunk, [{"port_id": new_port()["id"]}])
    assert status == 400
    assert show(client, trunk)["sub_ports"] == [vlan(sp, 10)]


@pytest.mark.parametrize("seg_id,ok", [(0, False), (1, True), (4094, True), (4095, False),
                                       ("x", False)])
def test_vlan_id_limits(client, new_port, seg_id, ok):
    trunk = client.create("trunk", port_id=new_port()["id"])
    status, body = add(client, trunk, [{"port_id": new_port()["id"],
                                        "segmentation_type": "vlan",
                                        "segmentation_id": seg_id}])
    assert status == (200 if ok else 400), body
    status, body = add(client, trunk, [{"port_id": new_port()["id"],
                                        "segmentation_type": "vxlan", "segmentation_id": 5}])
    assert status == 400 and error_type(body) == "InvalidInput"


def test_disabled_trunk_refusals(client, new_port):
    sp = new_port()
    trunk = client.create("trunk", port_id=new_port()["id"], sub_ports=[vlan(sp, 7)],
                          admin_state_up=False)
    status, body = add(client, trunk, [vlan(new_port(), 8)])
    assert status == 409 and error_type(body) == "TrunkDisabled"
    status, body = remove(client, trunk, [{"port_id": sp["id"]}])
    assert status == 409 and error_type(body) == "TrunkDisabled"
    status, body = client.delete("/trunks/" + trunk["id"])
    assert status == 409 and error_type(body) == "TrunkDisabled"
    client.put("/trunks/" + trunk["id"], {"trunk": {"admin_state_up": True}})
    assert client.delete("/trunks/" + trunk["id"])[0] == 204


def test_delete_ports_in_trunk_refused(client, new_port):
    parent, sp = new_port(), new_port()
    trunk = client.create("trunk", port_id=parent["id"], sub_ports=[vlan(sp, 3)])
    status, body = client.delete("/ports/" + parent["id"])
    assert status == 409 and error_type(body) == "PortInUseAsTrunkParent"
    status, body = client.delete("/ports/" + sp["id"])
    assert status == 409 and error_type(body) == "PortInUseAsSubPort"
    assert client.delete("/trunks/" + trunk["id"])[0] == 204
    assert client.get("/trunks/" + trunk["id"])[0] == 404
    assert client.delete("/trunks/" + trunk["id"])[0] == 404
    assert "trunk_details" not in client.get("/ports/" + parent["id"])[1]["port"]
    assert client.delete("/ports/" + sp["id"])[0] == 204
    assert client.delete("/ports/" + parent["id"])[0] == 204


def test_subports_follow_parent_host(client, new_port):
    parent, sp1, sp2 = new_port(), new_port(), new_port()
    trunk = client.create("trunk", port_id=parent["id"], sub_ports=[vlan(sp1, 20)])
    assert client.get("/ports/" + sp1["id"])[1]["port"]["binding:host_id"] == ""
    status, body = client.put("/ports/" + parent["id"], {"port": {
        "binding:host_id": "compute-1", "device_id": "vm-" + parent["id"]}})
    assert status == 200, body
    add(client, trunk, [vlan(sp2, 21)])
    for sp in (sp1, sp2):
        port = client.get("/ports/" + sp["id"])[1]["port"]
        assert port["binding:host_id"] == "compute-1", port
        assert port["device_owner"] == "trunk:subport"
    # a bound parent can neither become a trunk nor lose its trunk (Open vSwitch rules)
    bound = new_port(**{"binding:host_id": "compute-1"})
    status, body = client.post("/trunks", {"trunk": {"port_id": bound["id"]}})
    assert status == 409 and error_type(body) == "ParentPortInUse"
    status, body = client.delete("/trunks/" + trunk["id"])
    assert status == 409 and error_type(body) == "TrunkInUse"


def test_nova_unbind_frees_the_trunk(client, new_port):
    """Nova's unbind on server delete (binding:host_id null, as neutron-lib has no validator
    for it) unbinds the parent, and the trunk can be deleted afterwards."""
    parent, sp = new_port(), new_port()
    trunk = client.create("trunk", port_id=parent["id"], sub_ports=[vlan(sp, 30)])
    status, body = client.put("/ports/" + parent["id"], {"port": {
        "binding:host_id": "compute-1", "device_id": str(uuid.uuid4()),
        "device_owner": "compute:nova"}})
    assert status == 200, body
    assert client.delete("/trunks/" + trunk["id"])[0] == 409
    status, body = client.put("/ports/" + parent["id"], {"port": {
        "device_id": "", "device_owner": "", "binding:host_id": None, "binding:profile": {}}})
    assert status == 200, body
    port = body["port"]
    assert (port["binding:host_id"], port["binding:vif_type"], port["device_id"]) == \
        ("", "unbound", ""), port
    assert show(client, trunk)["status"] == "DOWN"   # Neutron's trunk plugin, on an unbind
    assert client.delete("/trunks/" + trunk["id"])[0] == 204
    status, body = client.post("/ports", {"port": {"network_id": parent["network_id"],
                                                   "binding:host_id": None}})
    assert status == 201 and body["port"]["binding:host_id"] == "", body


def test_inherit_on_vlan_provider_networks(client):
    base = 1000 + uuid.uuid4().int % 2000
    nets = [client.create("network", **{"provider:network_type": "vlan",
                                        "provider:physical_network": "physnet1",
                                        "provider:segmentation_id": base + i})
            for i in range(3)]
    parent = client.create("port", network_id=nets[0]["id"])
    sp1 = client.create("port", network_id=nets[1]["id"])
    sp2 = client.create("port", network_id=nets[2]["id"])
    trunk = client.create("trunk", port_id=parent["id"], sub_ports=[
        {"port_id": sp1["id"], "segmentation_type": "inherit"},
        {"port_id": sp2["id"], "segmentation_type": "inherit"}])
    assert trunk["sub_ports"] == [vlan(sp1, base + 1), vlan(sp2, base + 2)]
    vx = client.create("port", network_id=client.create("network")["id"])
    status, body = add(client, trunk, [{"port_id": vx["id"], "segmentation_type": "inherit"}])
    assert status == 400 and error_type(body) == "InvalidInput"


def test_mtu_rules(client):
    vx = client.create("network", **{"provider:network_type": "vxlan"})
    gre = client.create("network", **{"provider:network_type": "gre"})
    assert (vx["mtu"], gre["mtu"]) == (1450, 1458)
    small = [client.create("port", network_id=vx["id"]) for _ in range(3)]
    large = [client.create("port", network_id=gre["id"]) for _ in range(2)]
    client.create("trunk", port_id=large[0]["id"], sub_ports=[vlan(small[0], 2)])
    client.create("trunk", port_id=small[1]["id"], sub_ports=[vlan(small[2], 2)])
    status, body = client.post("/trunks", {"trunk": {"port_id": client.create(
        "port", network_id=vx["id"])["id"], "sub_ports": [vlan(large[1], 2)]}})
    assert status == 409 and error_type(body) == "SubPortMtuGreaterThanTrunkPortMtu"


def test_add_remove_change_updated_at_only(client, new_port):
    trunk = client.create("trunk", port_id=new_port()["id"])
    time.sleep(1.1)
    status, body = add(client, trunk, [vlan(new_port(), 30)])
    assert body["revision_number"] == trunk["revision_number"]
    assert body["updated_at"] > trunk["updated_at"]
    assert body["created_at"] == trunk["created_at"]


def test_tags_and_sorting(client, new_port):
    run = uuid.uuid4().hex[:8]
    trunks = [client.create("trunk", port_id=new_port()["id"], name="%s-%d" % (run, i))
              for i in range(3)]
    assert client.put("/trunks/%s/tags/%s" % (trunks[1]["id"], run))[0] == 201
    status, body = client.get("/trunks", params={"tags": run})
    assert [t["id"] for t in body["trunks"]] == [trunks[1]["id"]]
    assert body["trunks"][0]["tags"] == [run]
    ids = [t["id"] for t in trunks]
    status, body = client.get("/trunks", params={"id": ids, "sort_key": "name",
                                                 "sort_dir": "desc"})
    assert [t["id"] for t in body["trunks"]] == ids[::-1]
    status, body = client.get("/trunks", params={"id": ids, "sort_key": "name",
                                                 "sort_dir": "asc", "limit": 2})
    assert [t["id"] for t in body["trunks"]] == ids[:2]
    status, body = client.get("/trunks", params={"id": ids, "sort_key": "name",
                                                 "sort_dir": "asc", "limit": 2,
                                                 "marker": ids[1]})
    assert [t["id"] for t in body["trunks"]] == ids[2:]


def test_openstacksdk(server):
    import openstack
    conn = openstack.connection.Connection(auth_type="none", endpoint_override=server.url,
                                           network_endpoint_override=server.url)
    net = conn.network.create_network(name="sdk-trunks")
    parent = conn.network.create_port(network_id=net.id)
    sub = conn.network.create_port(network_id=net.id)
    trunk = conn.network.create_trunk(port_id=parent.id, name="sdk")
    conn.network.add_trunk_subports(trunk, [vlan(sub, 100)])
    assert conn.network.get_trunk_subports(trunk)["sub_ports"] == [vlan(sub, 100)]
    conn.network.delete_trunk_subports(trunk, [{"port_id": sub.id}])
    assert conn.network.get_trunk(trunk.id).sub_ports == []
    conn.network.delete_trunk(trunk)
    assert conn.network.find_trunk("sdk") is None
