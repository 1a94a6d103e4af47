"""`lab vm create --plug os-vif`: the real os-vif library plugs the seed's trunk parent as Nova's
libvirt driver calls it (os-vif makes the OVS port on ``tbr-`` with its external_ids, the lab
then makes the device), against a real stack; the trunk goes ACTIVE, the VM leases on eth0 and
on the subport's VLAN, and `lab vm del` has os-vif unplug it: port and ``tbr-`` gone, nothing
left."""
import pytest

from helpers.dataplane import needs_root_ovs
from helpers.e2e import Env
from helpers.server import running_stack, wait_for
from trunkline.lab import vm as labvm

pytest.importorskip("os_vif")
pytestmark = needs_root_ovs


@pytest.fixture(scope="module")
def env():
    with running_stack(Env, "tl-osvif") as e:
        for name, cidr in (("net0", "10.0.4.0/24"), ("net1", "10.0.5.0/24")):
            e.nets[name] = e.create("network", name=name)["id"]
            e.create("subnet", network_id=e.nets[name], cidr=cidr, ip_version=4)
        e.ports["parent"] = e.create("port", network_id=e.nets["net0"], name="parent")
        e.ports["sub1"] = e.create("port", network_id=e.nets["net1"], name="sub1")
        e.trunk = e.create("trunk", port_id=e.ports["parent"]["id"], sub_ports=[
            {"port_id": e.ports["sub1"]["id"], "segmentation_type": "vlan",
             "segmentation_id": 1}])["id"]
        yield e


def test_os_vif_plugs_the_trunk_parent(env):
    rec = labvm.create_vm(env.stack.url, env.vm, env.ports["parent"]["id"],
                          host=env.stack.host, state_dir=env.lab_dir, plug_with="os-vif")
    assert rec["plug"] == "os-vif" and rec["ovsdb_connection"] == "tcp:127.0.0.1:6640"
    tbr = rec["bridge"]
    assert tbr.startswith("tbr-") and tbr in env.bridges()
    ids = env.vsctl("get", "Interface", rec["tap"], "external_ids")
    assert env.ports["parent"]["id"] in ids and rec["vm_uuid"] in ids    # os-vif's row
    env.wait_trunk("ACTIVE", timeout=60)
    for name in ("parent", "sub1"):
        wait_for(lambda: env.port(env.ports[name]["id"])["status"] == "ACTIVE", 30,
                 what=name + " ACTIVE")
    assert env.lease("eth0") == env.ports["parent"]["fixed_ips"][0]["ip_address"]
    labvm.add_vm_vlan(env.vm, 1, mac=env.ports["sub1"]["mac_address"], state_dir=env.lab_dir)
    assert env.lease("eth0.1") == env.ports["sub1"]["fixed_ips"][0]["ip_address"]

    assert labvm.delete_vm(env.vm, state_dir=env.lab_dir) == []
    assert tbr not in env.bridges()
    assert rec["tap"] not in env.vsctl("--columns=name", "list", "Interface")
    assert not labvm.netns_exists(rec["vm_netns"])
    assert env.port(env.ports["parent"]["id"])["binding:host_id"] == ""
