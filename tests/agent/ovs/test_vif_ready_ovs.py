"""A port is reported ACTIVE only once its VM's interface is there: os-vif adds the Interface row
before the hypervisor makes the tap (ofport -1, error "No such device"); until the tap exists
the agent lays the wiring but reports the port (a trunk's parent and subports too) DOWN and no
trunk status, then ACTIVE as soon as the switch monitor sees the tap open. Private OVS, netdev
datapath, in a test namespace."""
import threading
import time

from helpers.dataplane import lab, needs_root_ovs, sh, wait_for  # noqa: F401
from test_wiring_ovs import _trunk_setup, net, port

from trunkline.agent.ovs import Wiring
from trunkline.agent.ovs.driver import OvsDriver

pytestmark = needs_root_ovs


def _iface(lab, name):
    return {r["name"]: r for r in lab.rows("Interface", ["name", "ofport", "error"])}.get(name)


def _plug_without_device(lab, bridge, tap, port_id, mac, new_bridge=False):
    """What os-vif does for a VM whose tap the hypervisor makes later: the bridge (for a trunk)
    and the port with its external_ids in one transaction; the device does not exist yet."""
    args = []
    if new_bridge:
        args += ["--", "--may-exist", "add-br", bridge,
                 "--", "set", "Bridge", bridge, "datapath_type=netdev"]
    args += ["--", "--may-exist", "add-port", bridge, tap, "--", "set", "Interface", tap,
             "external_ids:iface-id=" + port_id, "external_ids:attached-mac=" + mac,
             "external_ids:iface-status=active", "external_ids:vm-uuid=vm-1"]
    lab.vsctl(*args)


def _make_tap(lab, tap):
    """The hypervisor creates the VM's tap (QEMU opens /dev/net/tun)."""
    sh("ip", "tuntap", "add", "dev", tap, "mode", "tap", netns=lab.sw)
    lab.cleanups.append(lambda: sh("ip", "link", "del", tap, netns=lab.sw, check=False))
    sh("ip", "link", "set", tap, "up", netns=lab.sw)


def test_plain_port_down_until_its_tap_exists(lab):
    nid, netd = net(101)
    p = port(nid, 1)
    desired = {"revision": 1, "host": "h", "networks": {nid: netd}, "ports": [p], "trunks": []}
    w = Wiring(lab.db, rundir=lab.rundir)
    w.reconcile(desired)
    tap = ("tap" + p["id"])[:14]
    _plug_without_device(lab, "br-int", tap, p["id"], p["mac_address"])
    row = _iface(lab, tap)
    assert row["ofport"] == -1 and "No such device" in row["error"]

    st = w.reconcile(desired)
    assert st["ports"] == {p["id"]: "DOWN"}
    assert lab.ports()[tap]["tag"] == 1          # wired all the same: its local VLAN
    assert w.reconcile(desired)["ports"] == {p["id"]: "DOWN"}

    _make_tap(lab, tap)
    assert wait_for(lambda: (_iface(lab, tap)["ofport"] or 0) > 0, 5)
    assert w.reconcile(desired)["ports"] == {p["id"]: "ACTIVE"}


def test_trunk_down_until_the_parent_tap_exists_then_active_promptly(lab):
    desired, parent, subs, tbr = _trunk_setup(lab)
    trunk_id = desired["trunks"][0]["id"]
    drv = OvsDriver(ovsdb_target=lab.db, ovs_rundir=lab.rundir, datapath_type="netdev")
    drv.reconcile(desired, [])                  # br-int
    wake, stopping = threading.Event(), threading.Event()
    for watcher in drv.watchers():
        threading.Thread(target=watcher, args=(wake, stopping), daemon=True).start()
    try:
        assert wait_for(lambda: drv.wiring.watched, 5)
        tap = ("tap" + parent["id"])[:14]
        _plug_without_device(lab, tbr, tap, parent["id"], parent["mac_address"],
                             new_bridge=True)
        assert wait_for(wake.is_set, 5)
        wake.clear()
        st = drv.reconcile(desired, [])
        members = [parent["id"]] + [s["port_id"] for s in subs]
        # the patches are laid, yet nothing is up: no trunk status, every member DOWN
        names = set(lab.ports())
        for pid in members:
            assert {n + pid[:11] for n in (("tpi-", "tpt-") if pid == parent["id"]
                                           else ("spi-", "spt-"))} <= names
        assert st == {"ports": {pid: "DOWN" for pid in members}, "trunks": {}}
        assert _iface(lab, tap)["ofport"] == -1
        # a pass woken by its own patch ports, or a later one, says the same
        time.sleep(0.3)
        wake.clear()
        assert drv.reconcile(desired, []) == st

        t0 = time.monotonic()
        _make_tap(lab, tap)
        assert wait_for(wake.is_set, 5)          # the monitor saw the tap open
        woke = time.monotonic() - t0
        st = drv.reconcile(desired, [])
        took = time.monotonic() - t0
        assert st == {"ports": {pid: "ACTIVE" for pid in members},
                      "trunks": {trunk_id: "ACTIVE"}}
        print("\ntap created -> agent woken %.3f s, -> ACTIVE %.3f s" % (woke, took))
        assert took < 2.0
    finally:
        stopping.set()
