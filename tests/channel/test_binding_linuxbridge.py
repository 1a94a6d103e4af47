"""Binding on Linux bridge hosts, through the API on SQLite and PostgreSQL: a port on a host whose
live L2 agent is a "Linux bridge agent" binds `bridge` with Neutron's Linux bridge vif_details;
one bound before the agent came binds when it registers; a trunk may be created and deleted on
a bound Linux bridge parent (Neutron's LB trunk driver can_trunk_bound_port), not on a bound
Open vSwitch parent."""
import uuid

import requests

LB, OVS = "Linux bridge agent", "Open vSwitch agent"


def register(server, host, agent_type):
    r = requests.post(server.url + "/agent/v1/agents", json={
        "host": host, "agent_type": agent_type, "binary": "test",
        "configurations": {"tunnel_ip": None}}, timeout=10)
    assert r.status_code in (200, 201), r.text


def test_bind_rebind_and_trunks_on_linuxbridge_hosts(server, client):
    lb_host, ovs_host = "lb-" + uuid.uuid4().hex[:8], "ovs-" + uuid.uuid4().hex[:8]
    net = client.create("network", name="lbbind")
    early = client.create("port", network_id=net["id"], **{"binding:host_id": lb_host})
    assert early["binding:vif_type"] == "binding_failed"

    register(server, lb_host, LB)
    status, body = client.get("/ports/" + early["id"])
    assert (body["port"]["binding:vif_type"], body["port"]["binding:vif_details"]) == \
        ("bridge", {"port_filter": True, "connectivity": "l2"})
    parent = client.create("port", network_id=net["id"], **{"binding:host_id": lb_host})
    assert parent["binding:vif_type"] == "bridge"
    trunk = client.create("trunk", port_id=parent["id"])
    assert client.delete("/trunks/" + trunk["id"])[0] == 204

    register(server, ovs_host, OVS)
    ovs_parent = client.create("port", network_id=net["id"], **{"binding:host_id": ovs_host})
    assert ovs_parent["binding:vif_type"] == "ovs"
    status, body = client.post("/trunks", {"trunk": {"port_id": ovs_parent["id"]}})
    assert status == 409 and body["NeutronError"]["type"] == "ParentPortInUse"
