"""The agent's OVS wiring against a private OVS (netdev datapath) in a test namespace: OVSDB rows,
restart stability, isolation by local VLAN, trunk patch pairs carrying tagged frames, cleanup."""
import json
import os
import subprocess
import sys
import threading
import time
import uuid

import pytest

from helpers.dataplane import lab, needs_root_ovs, ping, wait_for  # noqa: F401
from trunkline.agent.ovs import Wiring
from trunkline.names import trunk_bridge as tbr_name

pytestmark = needs_root_ovs


def uid():
    return str(uuid.uuid4())


def mac(i):
    return "fa:16:3e:%02x:%02x:%02x" % (i >> 16 & 255, i >> 8 & 255, i & 255)


def net(seg):
    n = uid()
    return n, {"id": n, "network_type": "vxlan", "physical_network": None,
               "segmentation_id": seg, "mtu": 1450, "admin_state_up": True}


def port(net_id, i):
    return {"id": uid(), "network_id": net_id, "mac_address": mac(i), "admin_state_up": True,
            "device_owner": "compute:nova", "status": "DOWN", "fixed_ips": []}


def test_vif_tags_isolation_restart(lab):
    (na, neta), (nb, netb) = net(101), net(102)
    p1, p2, p3 = port(na, 1), port(na, 2), port(nb, 3)
    desired = {"revision": 1, "host": "h", "networks": {na: neta, nb: netb},
               "ports": [p1, p2, p3], "trunks": []}
    w = Wiring(lab.db, rundir=lab.rundir)
    st = w.reconcile(desired)           # creates br-int; nothing plugged yet
    assert set(st["ports"].values()) == {"DOWN"}
    vms = []
    for i, p in enumerate((p1, p2, p3), 1):
        vm = lab.ns("vm%d" % i)
        lab.plug_vm("br-int", vm, p["id"], p["mac_address"], "10.77.0.%d/24" % i)
        vms.append(vm)
    st = w.reconcile(desired)
    assert st["ports"] == {p1["id"]: "ACTIVE", p2["id"]: "ACTIVE", p3["id"]: "ACTIVE"}
    rows = lab.ports()
    t1, t2, t3 = (rows[("tap" + p["id"])[:14]]["tag"] for p in (p1, p2, p3))
    assert t1 == t2 and t1 != t3 and {t1, t3} <= set(range(1, 4095))
    oc = rows[("tap" + p1["id"])[:14]]["other_config"]
    assert oc == {"net_uuid": na, "network_type": "vxlan", "segmentation_id": "101",
                  "tag": str(t1)}
    assert ping(vms[0], "10.77.0.2")
    assert not ping(vms[0], "10.77.0.3", timeout=1)

    # agent restart: a new Wiring on the same OVS changes nothing and keeps the tags
    w2 = Wiring(lab.db, rundir=lab.rundir)
    assert w2.reconcile(desired) == st
    assert w2.last_timing["ops"] == 0 and not w2.last_timing["flows_added"]
    assert lab.ports() == rows

    # ovs-vswitchd restart loses the flows: the next pass re-adds them, traffic flows again
    lab.ovs.restart_vswitchd()
    wait_for(lambda: os.path.exists(lab.rundir + "/br-int.mgmt"), 5)
    time.sleep(0.3)
    w2.reconcile(desired)
    assert w2.last_timing["flows_added"]
    assert wait_for(lambda: ping(vms[0], "10.77.0.2"), 5)

    # a port no longer bound here: dead VLAN, its network's VLAN fields cleared
    desired2 = dict(desired, ports=[p1, p3])
    st = w2.reconcile(desired2)
    row = lab.ports()[("tap" + p2["id"])[:14]]
    assert row["tag"] == 4095 and "net_uuid" not in row["other_config"]
    # the datapath's cached flows for the old VLAN go with ovs-vswitchd's next revalidation,
    # a moment after the transaction is applied; from then on nothing gets through
    assert wait_for(lambda: not ping(vms[0], "10.77.0.2", timeout=1), 5)
    assert not ping(vms[0], "10.77.0.2", count=3, timeout=1)
    flows = lab.ovs.ofctl("dump-flows", lab.ovs.mgmt("br-int"))
    assert "dl_vlan=4095 actions=drop" in flows and "priority=0 actions=NORMAL" in flows


def _trunk_setup(lab, nsub=2):
    (n0, net0) = net(200)
    subnets = [net(300 + i) for i in range(nsub)]
    parent = port(n0, 100)
    trunk_id = uid()
    tbr = tbr_name(trunk_id)
    subs = []
    for i, (nid, _) in enumerate(subnets):
        p = port(nid, 200 + i)
        subs.append({"port_id": p["id"], "segmentation_type": "vlan", "segmentation_id": i + 1,
                     "mac_address": p["mac_address"], "network_id": nid, "_port": p})
    desired = {"revision": 1, "host": "h",
               "networks": dict([(n0, net0)] + subnets),
               "ports": [parent] + [s["_port"] for s in subs],
               "trunks": [{"id": trunk_id, "port_id": parent["id"], "admin_state_up": True,
                           "status": "DOWN", "bridge_name": tbr,
                           "sub_ports": [{k: v for k, v in s.items() if k != "_port"}
                                         for s in subs]}]}
    return desired, parent, subs, tbr


def settled(w, desired, timeout=10.0):
    """Passes until ovs-vswitchd has opened the patches the first one laid (the agent's switch
    monitor starts that second pass): its statuses."""
    deadline = time.monotonic() + timeout
    while True:
        st = w.reconcile(desired)
        if set(st["ports"].values()) == {"ACTIVE"} or time.monotonic() > deadline:
            return st
        time.sleep(0.05)


def test_trunk_patch_ports_restart_and_removal(lab):
    desired, parent, subs, tbr = _trunk_setup(lab)
    w = Wiring(lab.db, rundir=lab.rundir)
    w.reconcile(desired)          # br-int
    st = w.reconcile(desired)     # no tbr yet: nothing wired, no trunk status
    assert st["trunks"] == {} and set(st["ports"].values()) == {"DOWN"}
    lab.add_bridge(tbr)
    vm = lab.ns("tvm")
    lab.plug_vm(tbr, vm, parent["id"], parent["mac_address"])
    st = w.reconcile(desired)       # patches laid: reported once ovs-vswitchd opened them
    trunk_id = desired["trunks"][0]["id"]
    assert st["trunks"] == {} and set(st["ports"].values()) == {"DOWN"}
    st = settled(w, desired)
    assert st["trunks"] == {trunk_id: "ACTIVE"}
    assert set(st["ports"].values()) == {"ACTIVE"}
    rows = lab.ports()
    pid = parent["id"]
    tpi, tpt = "tpi-" + pid[:11], "tpt-" + pid[:11]
    assert rows[tpi]["bridge"] == "br-int" and rows[tpt]["bridge"] == tbr
    assert rows[tpi]["iface"]["type"] == "patch" and rows[tpi]["iface"]["options"] == {"peer": tpt}
    assert rows[tpt]["iface"]["options"] == {"peer": tpi}
    assert rows[tpt]["tag"] == 0 and rows[tpt]["vlan_mode"] == "access"
    assert rows[tpi]["other_config"]["net_uuid"] == parent["network_id"]
    for r in (rows[tpi], rows[tpt]):
        assert r["iface"]["external_ids"] == {"iface-id": pid, "attached-mac": parent["mac_address"],
                                              "iface-status": "active"}
    vif = rows[("tap" + pid)[:14]]["iface"]["external_ids"]
    assert vif["trunk_id"] == trunk_id and vif["bridge_name"] == tbr
    assert json.loads(vif["subport_ids"]) == sorted(s["port_id"] for s in subs)
    lvlans = set()
    for s in subs:
        spi, spt = "spi-" + s["port_id"][:11], "spt-" + s["port_id"][:11]
        assert rows[spt]["bridge"] == tbr and rows[spi]["bridge"] == "br-int"
        assert rows[spt]["tag"] == s["segmentation_id"] and rows[spt]["vlan_mode"] == "access"
        assert rows[spi]["iface"]["options"] == {"peer": spt}
        assert rows[spi]["other_config"]["net_uuid"] == s["network_id"]
        assert rows[spi]["iface"]["external_ids"]["iface-id"] == s["port_id"]
        lvlans.add(rows[spi]["tag"])
    assert len(lvlans) == len(subs) and rows[tpi]["tag"] not in lvlans

    w2 = Wiring(lab.db, rundir=lab.rundir)        # agent restart
    assert w2.reconcile(desired) == st and w2.last_timing["ops"] == 0
    assert lab.ports() == rows

    # a segmentation id change updates spt in place
    desired["trunks"][0]["sub_ports"][0]["segmentation_id"] = 42
    w2.reconcile(desired)
    assert lab.ports()["spt-" + subs[0]["port_id"][:11]]["tag"] == 42

    # remove a subport: its pair goes, the rest stays
    gone = desired["trunks"][0]["sub_ports"].pop(1)
    desired["ports"] = [p for p in desired["ports"] if p["id"] != gone["port_id"]]
    w2.reconcile(desired)
    names = set(lab.ports())
    assert "spi-" + gone["port_id"][:11] not in names and "spt-" + gone["port_id"][:11] not in names
    assert "spi-" + subs[0]["port_id"][:11] in names

    # the trunk goes: all its patch ports go, the tbr (VM still on it) stays
    w2.reconcile(dict(desired, trunks=[]))
    names = set(lab.ports())
    assert not [n for n in names if n[:4] in ("tpi-", "tpt-", "spi-", "spt-")]
    assert tbr in names

    # trunk back, then the VM leaves: the tbr and every patch port are deleted
    w2.reconcile(desired)
    lab.vsctl("del-port", tbr, ("tap" + pid)[:14])
    w2.reconcile(desired)
    bridges = {r["name"] for r in lab.rows("Bridge", ["name"])}
    assert bridges == {"br-int"}
    assert not [n for n in lab.ports() if n[:4] in ("tpi-", "tpt-", "spi-", "spt-")]


RECV = r"""
import socket, sys, time
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x88b5))
s.bind(("eth0", 0)); s.settimeout(float(sys.argv[1]))
print("ready", flush=True)
got = set()
try:
    while True:
        data = s.recv(2000)
        if data[12:14] == b"\x88\xb5":
            got.add(data[14:30].rstrip(b"\0").decode(errors="replace"))
except socket.timeout:
    pass
print(" ".join(sorted(got)))
"""

SEND = r"""
import socket, struct, sys
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind(("eth0", 0))
for arg in sys.argv[1:]:
    vid, marker = arg.split(":")
    hdr = b"\xff" * 6 + bytes.fromhex(sys.argv[0] if False else "fa163e0000aa")
    tag = struct.pack("!HH", 0x8100, int(vid)) if int(vid) else b""
    frame = hdr + tag + b"\x88\xb5" + marker.encode().ljust(46, b"\0")
    for _ in range(3):
        s.send(frame)
"""


def test_trunk_carries_tagged_frames(lab):
    desired, parent, subs, tbr = _trunk_setup(lab)
    w = Wiring(lab.db, rundir=lab.rundir)
    w.reconcile(desired)
    lab.add_bridge(tbr)
    tvm = lab.ns("tvm")
    lab.plug_vm(tbr, tvm, parent["id"], parent["mac_address"])
    # one "VM" on br-int per network: parent's network and each subport network
    nets = [parent["network_id"]] + [s["network_id"] for s in subs]
    rx = []
    for i, nid in enumerate(nets):
        p = port(nid, 300 + i)
        desired["ports"].append(p)
        vm = lab.ns("rx%d" % i)
        lab.plug_vm("br-int", vm, p["id"], p["mac_address"])
        rx.append(vm)
    st = settled(w, desired)
    assert set(st["ports"].values()) == {"ACTIVE"}
    procs = [subprocess.Popen(["ip", "netns", "exec", vm, sys.executable, "-c", RECV, "1.5"],
                              stdout=subprocess.PIPE, text=True) for vm in rx]
    try:
        for p in procs:
            assert p.stdout.readline().strip() == "ready"
        # untagged -> parent network; vlan 1 -> subport 1's network; vlan 2 -> subport 2's;
        # vlan 9 is not a subport: dropped by tbr/spt access ports
        subprocess.run(["ip", "netns", "exec", tvm, sys.executable, "-c", SEND,
                        "0:untagged", "1:vlan1", "2:vlan2", "9:vlan9"], check=True)
        outs = [p.communicate(timeout=10)[0].strip() for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    assert outs == ["untagged", "vlan1", "vlan2"]


@pytest.mark.parametrize("n", [int(x) for x in os.environ.get("TRUNKLINE_SCALE", "500").split(",")])
def test_trunk_scale(lab, n):
    """n subports wired in one pass (one OVSDB transaction); timing printed with -s."""
    trunk_id = uid()
    tbr = tbr_name(trunk_id)
    nid, netd = net(500)
    parent = port(nid, 1)
    subs, ports = [], [parent]
    for i in range(n):
        p = port(nid, 1000 + i)
        ports.append(p)
        subs.append({"port_id": p["id"], "segmentation_type": "vlan", "segmentation_id": i + 1,
                     "mac_address": p["mac_address"], "network_id": nid})
    desired = {"revision": 1, "host": "h", "networks": {nid: netd}, "ports": ports,
               "trunks": [{"id": trunk_id, "port_id": parent["id"], "bridge_name": tbr,
                           "sub_ports": subs}]}
    w = Wiring(lab.db, rundir=lab.rundir)
    w.reconcile(desired)
    lab.add_bridge(tbr)
    lab.plug_vm(tbr, lab.ns("tvm"), parent["id"], parent["mac_address"])
    t = time.monotonic()
    st = w.reconcile(desired)
    took = time.monotonic() - t
    timing = dict(w.last_timing)
    assert st["trunks"] == {trunk_id: "ACTIVE"} or settled(w, desired)["trunks"] == {
        trunk_id: "ACTIVE"}
    t = time.monotonic()
    w.reconcile(desired)
    again = time.monotonic() - t
    assert w.last_timing["ops"] == 0
    print("\n%d subports: wired in %.2f s (%s); idle pass %.3f s (%s)" % (
        n, took, ", ".join("%s %.3g" % kv for kv in sorted(timing.items())), again,
        ", ".join("%s %.3g" % kv for kv in sorted(w.last_timing.items()))))
    rows = lab.ports()
    assert sum(1 for k in rows if k.startswith(("spi-", "spt-"))) == 2 * n


def test_flows_only_pass_and_what_makes_a_pass_full(lab):
    """With its OVSDB monitor running, a pass where only remote MACs changed writes br-tun's
    flows and reads nothing else; a VM plugged, an ovs-vswitchd restart or a changed local
    port makes the next pass read OVSDB again."""
    from trunkline.agent.ovs.driver import OvsDriver
    na, neta = net(101)
    p1, p2 = port(na, 1), port(na, 2)

    def desired(*remote_macs, ports=(p1, p2)):
        entries = [{"mac_address": m, "ip_address": None} for m in remote_macs]
        return {"revision": 1, "host": "h", "networks": {na: neta}, "ports": list(ports),
                "trunks": [], "tunnels": {na: {"network_type": "vxlan", "segmentation_id": 101,
                                                "vteps": {"192.0.2.2": entries}}}}

    def l2pop_macs():
        out = lab.ovs.ofctl("dump-flows", lab.ovs.mgmt("br-tun"), "table=20")
        return sorted(l.split("dl_dst=")[1].split()[0] for l in out.splitlines()
                      if "dl_dst=" in l)

    drv = OvsDriver(ovsdb_target=lab.db, ovs_rundir=lab.rundir, datapath_type="netdev",
                    tunnel_ip="192.0.2.1")
    drv.reconcile(desired(mac(10)), [])     # creates the bridges and ports (no monitor yet)
    assert not drv.wiring.last_timing.get("flows_only")
    wake, stopping = threading.Event(), threading.Event()
    for watcher in drv.watchers():
        threading.Thread(target=watcher, args=(wake, stopping), daemon=True).start()
    try:
        assert wait_for(lambda: drv.wiring.watched, 5)
        lab.plug_vm("br-int", lab.ns("vm1"), p1["id"], p1["mac_address"])
        assert wait_for(lambda: drv.reconcile(desired(mac(10)), [])["ports"][p1["id"]]
                        == "ACTIVE", 5)
        # once the monitor's last news is in, a pass without change is flows-only
        assert wait_for(lambda: drv.reconcile(desired(mac(10)), []) and
                        drv.wiring.last_timing.get("flows_only"), 5)
        st = {"ports": {p1["id"]: "ACTIVE", p2["id"]: "DOWN"}, "trunks": {}}

        # a remote port appears, another goes: br-tun's flows only
        assert drv.reconcile(desired(mac(11), mac(12)), []) == st
        assert drv.wiring.last_timing.get("flows_only")
        assert l2pop_macs() == [mac(11), mac(12)]
        # a local port's status moving is no OVSDB input either
        assert drv.reconcile(desired(mac(11), ports=(dict(p1, status="ACTIVE"), p2)), []) == st
        assert drv.wiring.last_timing.get("flows_only") and l2pop_macs() == [mac(11)]

        # a VM plugged: the monitor says so and a pass wires it, well before the periodic
        # full pass
        lab.plug_vm("br-int", lab.ns("vm2"), p2["id"], p2["mac_address"])
        assert wait_for(lambda: drv.reconcile(desired(mac(11)), [])["ports"][p2["id"]]
                        == "ACTIVE", 5)

        # a local port gone from the desired state: a full pass (it goes dead)
        drv.reconcile(desired(mac(11), ports=(p1,)), [])
        assert not drv.wiring.last_timing.get("flows_only")
        assert lab.ports()[("tap" + p2["id"])[:14]]["tag"] == 4095

        # ovs-vswitchd restarted: a full pass re-adds br-int's and br-tun's flows
        drv.reconcile(desired(mac(11), ports=(p1,)), [])
        lab.ovs.restart_vswitchd()
        wait_for(lambda: os.path.exists(lab.rundir + "/br-int.mgmt"), 5)
        time.sleep(0.3)
        drv.reconcile(desired(mac(11), mac(13), ports=(p1,)), [])
        assert not drv.wiring.last_timing.get("flows_only")
        assert drv.wiring.last_timing["flows_added"]
        assert l2pop_macs() == [mac(11), mac(13)]
    finally:
        stopping.set()


def test_flowset_sends_the_difference_and_replaces_all_after_a_restart(lab):
    """ovs/flows.py: a changed action on the same match is re-added, a flow gone is deleted
    strictly, others' flows (another cookie) stay; after ovs-vswitchd restarts, all is re-added."""
    from trunkline.agent.ovs.flows import FlowSet
    lab.add_bridge("br-fs")
    lab.vsctl("set", "Bridge", "br-fs", "protocols=OpenFlow10,OpenFlow13")
    lab.ovs.ofctl("add-flow", lab.ovs.mgmt("br-fs"), "cookie=0x99,table=5,priority=1,actions=drop")
    fs = FlowSet(lab.rundir, "br-fs", "0x7c1a00ff")

    def ours():
        out = lab.ovs.ofctl("dump-flows", "--no-stats", "--no-names", lab.ovs.mgmt("br-fs"))
        return sorted(l.strip() for l in out.splitlines() if "cookie=" in l)

    a = ["table=20,priority=2,dl_vlan=1,dl_dst=fa:16:3e:00:00:01,actions=output:1",
         "table=20,priority=2,dl_vlan=1,dl_dst=fa:16:3e:00:00:02,actions=output:2",
         "table=22,priority=1,dl_vlan=1,actions=output:1"]
    assert fs.sync(a) and not fs.sync(list(reversed(a)))
    b = [a[0], "table=20,priority=2,dl_vlan=1,dl_dst=fa:16:3e:00:00:03,actions=output:2",
         "table=22,priority=1,dl_vlan=1,actions=output:1,output:2"]
    assert fs.sync(b)
    want = ["cookie=0x7c1a00ff, table=20, priority=2,dl_vlan=1,dl_dst=fa:16:3e:00:00:01 "
            "actions=output:1",
            "cookie=0x7c1a00ff, table=20, priority=2,dl_vlan=1,dl_dst=fa:16:3e:00:00:03 "
            "actions=output:2",
            "cookie=0x7c1a00ff, table=22, priority=1,dl_vlan=1 actions=output:1,output:2",
            "cookie=0x99, table=5, priority=1 actions=drop"]
    assert ours() == want
    lab.ovs.restart_vswitchd()
    wait_for(lambda: os.path.exists(lab.rundir + "/br-fs.mgmt"), 5)
    time.sleep(0.3)
    assert ours() == []
    assert fs.sync(b) and ours() == want[:3]
