"""A live migration of a trunk parent between two Open vSwitch lab hosts, as Nova drives it
through binding-extended: the destination's binding is created INACTIVE and the VM plugged
there (its trunk bridge on the destination) while it still runs on the source, and the
destination's agent wires nothing of it; activation moves the port and its subports, the
destination's agent wires the trunk and traffic on the subport's VLAN resumes from there."""
import time
import uuid

from helpers.multihost import (multihost, needs_multihost, ip_of, static_vm,  # noqa: F401
                               vxlan_net)
from helpers.server import wait_for
from trunkline.lab import neutron as neutron_api
from trunkline.lab import vm as labvm
from trunkline.lab.state import LabState


def _patches(mh, host):
    out = mh.ovs(host).vsctl("--bare", "--columns=name", "list", "Interface")
    return sorted(n for n in out.split() if n[:4] in ("tpi-", "tpt-", "spi-", "spt-"))


def _arrive(mh, name, source_vm, host):
    """The migrated guest on HOST, plugged as os-vif plugs it on the destination before the
    move (same port, MAC and tap name; the trunk bridge of the binding's vif_details), without
    any API call; recorded in the lab state so the fixture removes it."""
    agent = labvm.l2_agent(neutron_api.Neutron(mh.url), host)
    ovsdb, host_ns, int_br, dp = labvm.agent_settings(agent)
    vm = dict(source_vm, name=name, host=host, vm_uuid=source_vm["vm_uuid"],
              vm_netns=labvm.netns_name(name), host_netns=host_ns, ovsdb=ovsdb,
              integration_bridge=int_br, datapath_type=dp)
    with LabState(mh.lab_dir).edit() as data:
        data["vms"][name] = vm
    labvm.plug(vm)
    return vm


@needs_multihost
def test_live_migration_of_a_trunk_parent(multihost):
    mh = multihost
    for h in ("h1", "h2", "h3"):
        mh.add_host(h)
    net0 = vxlan_net(mh, "lm0", "10.76.0.0/24")
    net1 = vxlan_net(mh, "lm1", "10.77.0.0/24")
    parent = mh.create("port", network_id=net0["id"], name="parent")
    sub1 = mh.create("port", network_id=net1["id"], name="sub1")
    trunk = mh.create("trunk", port_id=parent["id"], sub_ports=[
        {"port_id": sub1["id"], "segmentation_type": "vlan", "segmentation_id": 1}])
    peer_port = mh.create("port", network_id=net1["id"], name="peer1")
    vm1 = static_vm(mh, "src", parent, "h1")
    labvm.add_vm_vlan(vm1, 1, mac=sub1["mac_address"], state_dir=mh.lab_dir)
    mh.vm_exec(vm1, "ip", "addr", "add", ip_of(sub1) + "/24", "dev", "eth0.1", check=True)
    static_vm(mh, "peer", peer_port, "h3")
    wait_for(lambda: mh.get("trunk", trunk["id"])["status"] == "ACTIVE", 30, "the trunk")
    for p in (parent, sub1, peer_port):
        mh.wait_port(p["id"])
    assert mh.ping(vm1, ip_of(peer_port), dev="eth0.1", count=2, wait=2)

    # pre-live-migration: the destination's binding, INACTIVE; the guest plugged there
    status, body = mh.api("POST", "/ports/%s/bindings" % parent["id"], {"binding": {
        "host": "h2", "vnic_type": "normal", "profile": {"migrating_to": "h2"}}})
    assert status == 201 and body["binding"]["status"] == "INACTIVE", body
    assert body["binding"]["vif_details"]["bridge_name"] == "tbr-" + trunk["id"][:10]
    source = LabState(mh.lab_dir).vm(vm1)
    dest = "%s-dst-%s" % (mh.tag, uuid.uuid4().hex[:4])
    _arrive(mh, dest, source, "h2")
    assert trunk["id"] not in {t["id"] for t in mh.state("h2")["trunks"]}
    # h2's agent sees the trunk bridge with the VM on it (its monitor wakes it), yet wires
    # nothing of it
    time.sleep(2)
    assert _patches(mh, "h2") == []
    assert mh.get("port", parent["id"])["status"] == "ACTIVE"
    assert mh.get("port", parent["id"])["binding:host_id"] == "h1"
    assert mh.ping(vm1, ip_of(peer_port), dev="eth0.1", count=1, wait=2)

    # the move: the source guest stops, the destination binding is activated
    labvm.unplug(source)
    status, body = mh.api("PUT", "/ports/%s/bindings/h2/activate" % parent["id"])
    assert status == 200 and body["binding"]["status"] == "ACTIVE", body
    assert mh.get("port", sub1["id"])["binding:host_id"] == "h2"
    wait_for(lambda: mh.get("trunk", trunk["id"])["status"] == "ACTIVE", 30, "the trunk on h2")
    for p in (parent, sub1):
        mh.wait_port(p["id"])
    assert len(_patches(mh, "h2")) == 4
    wait_for(lambda: _patches(mh, "h1") == [], 10, "h1's trunk patches to go")
    labvm.add_vm_vlan(dest, 1, mac=sub1["mac_address"], state_dir=mh.lab_dir)
    mh.vm_exec(dest, "ip", "addr", "add", ip_of(parent) + "/24", "dev", "eth0", check=True)
    mh.vm_exec(dest, "ip", "addr", "add", ip_of(sub1) + "/24", "dev", "eth0.1", check=True)
    assert wait_for(lambda: mh.ping(dest, ip_of(peer_port), dev="eth0.1", count=1, wait=1),
                    20, "traffic on VLAN 1 from h2")
    # the source's binding is kept INACTIVE until Nova deletes it
    status, body = mh.api("GET", "/ports/%s/bindings" % parent["id"])
    assert {b["host"]: b["status"] for b in body["bindings"]} == {"h2": "ACTIVE",
                                                                   "h1": "INACTIVE"}
    assert mh.api("DELETE", "/ports/%s/bindings/h1" % parent["id"])[0] == 204
