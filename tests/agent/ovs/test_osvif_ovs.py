"""The real os-vif library (its ``ovs`` plugin, as Nova's libvirt driver calls it) plugs a trunk
parent and a plain port through its default OVSDB connection, tcp:127.0.0.1:6640, which the
agent's default ``--ovsdb-manager`` opens on the switch. os-vif creates the port before the
hypervisor makes the tap (Nova's ``delegate_create``: ``create_port``), so the agent lays the
trunk's patches but reports nothing up until the tap exists; os-vif's unplug deletes ``tbr-``
and the agent takes its patch ports off br-int. os-vif runs inside the switch's namespace, where
port 6640 is that namespace's own."""
import json
import subprocess
import sys

import pytest

from helpers.dataplane import lab, needs_root_ovs, sh, wait_for  # noqa: F401
from test_wiring_ovs import _trunk_setup, net, port

from trunkline.agent.ovs import manager
from trunkline.agent.ovs.driver import OvsDriver

pytest.importorskip("os_vif")
pytestmark = needs_root_ovs

OSVIF = r"""
import json, sys
import os_vif
from os_vif.objects import instance_info, network, vif as osv
from oslo_config import cfg
from vif_plug_ovs import privsep

os_vif.initialize()
privsep.vif_plug.set_client_mode(False)     # root already: no privsep daemon through sudo
assert cfg.CONF.os_vif_ovs.ovsdb_connection == "tcp:127.0.0.1:6640"   # os-vif's default
inst = instance_info.InstanceInfo(uuid="0c3f7d0a-5b7e-4c38-9d8e-2f1a6b9c4e11", name="vm1")
for v in json.loads(sys.argv[2]):
    vif = osv.VIFOpenVSwitch(
        id=v["port_id"], address=v["mac"], vif_name=v["tap"], bridge_name=v["bridge"],
        plugin="ovs", has_traffic_filtering=True, preserve_on_delete=False,
        network=network.Network(id=v["network_id"], bridge=v["bridge"], mtu=1450),
        port_profile=osv.VIFPortProfileOpenVSwitch(
            interface_id=v["port_id"], datapath_type="netdev", create_port=True))
    (os_vif.plug if sys.argv[1] == "plug" else os_vif.unplug)(vif, inst)
"""


def osvif(lab, op, *plugs):
    """os-vif's plug or unplug of each (bridge, port) in the switch's namespace; the taps."""
    vifs = [{"bridge": bridge, "port_id": p["id"], "mac": p["mac_address"],
             "network_id": p["network_id"], "tap": ("tap" + p["id"])[:14]}
            for bridge, p in plugs]
    r = subprocess.run(["ip", "netns", "exec", lab.sw, sys.executable, "-c", OSVIF, op,
                        json.dumps(vifs)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr[-2000:]
    return [v["tap"] for v in vifs]


def make_tap(lab, tap):
    sh("ip", "tuntap", "add", "dev", tap, "mode", "tap", netns=lab.sw)
    sh("ip", "link", "set", tap, "up", netns=lab.sw)


def patches(lab):
    return sorted(n for n in lab.ports() if n[:4] in ("tpi-", "tpt-", "spi-", "spt-"))


def test_osvif_plugs_trunk_parent_and_plain_port_over_tcp(lab):
    desired, parent, subs, tbr = _trunk_setup(lab)
    trunk_id = desired["trunks"][0]["id"]
    nid, netd = net(400)
    plain = port(nid, 7)
    desired["networks"][nid] = netd
    desired["ports"].append(plain)
    members = [parent["id"]] + [s["port_id"] for s in subs]
    drv = OvsDriver(ovsdb_target=lab.db, ovs_rundir=lab.rundir, datapath_type="netdev",
                    ovsdb_manager=manager.DEFAULT)
    drv.reconcile(desired, [])                  # br-int, and the manager os-vif needs

    # (without the manager os-vif could not connect: the plug would fail)
    tap, ptap = osvif(lab, "plug", (tbr, parent), ("br-int", plain))
    vif = {r["name"]: r for r in lab.rows("Interface", ["name", "ofport", "external_ids"])}
    assert vif[tap]["ofport"] == -1 and vif[tap]["external_ids"]["iface-id"] == parent["id"]
    st = drv.reconcile(desired, [])
    assert len(patches(lab)) == 2 * len(members)
    assert st == {"ports": dict({pid: "DOWN" for pid in members}, **{plain["id"]: "DOWN"}),
                  "trunks": {}}

    make_tap(lab, tap)
    make_tap(lab, ptap)
    assert wait_for(lambda: drv.reconcile(desired, [])["trunks"] == {trunk_id: "ACTIVE"}, 5)
    st = drv.reconcile(desired, [])
    assert set(st["ports"].values()) == {"ACTIVE"} and len(st["ports"]) == len(members) + 1

    # os-vif's unplug deletes the trunk bridge itself; the agent clears br-int after it
    osvif(lab, "unplug", (tbr, parent), ("br-int", plain))
    assert tbr not in {r["name"] for r in lab.rows("Bridge", ["name"])}
    st = drv.reconcile(desired, [])
    assert set(st["ports"].values()) == {"DOWN"} and st["trunks"] == {}
    assert patches(lab) == []
    assert sorted(lab.ports()) == ["br-int"]
