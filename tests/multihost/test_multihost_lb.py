"""Lab hosts running the Linux bridge agent (tests/helpers/multihost.py): two Linux bridge hosts over
VXLAN (DHCP served across hosts, VM↔VM ping, an agent restart without a write or a lost ping,
L2 population FDB entries that follow the ports, a trunk's VLANs served from the other host),
two Linux bridge hosts over multicast VXLAN without L2 population,
an Open vSwitch host and a Linux bridge host on one VXLAN network (DHCP from either kind, ping
both ways, ARP responders on both), and flat/VLAN provider networks."""
import re
import signal
import subprocess
import time

import pytest

from helpers.server import wait_for
from helpers.multihost import (multihost, needs_multihost, ip_of, provider_nets,  # noqa: F401
                       static_vm, vxlan_net)
from trunkline.agent import netns as nsutil
from trunkline.lab import vm as labvm

FLOOD = "00:00:00:00:00:00"


def fdb(mh, host, vni, permanent=False):
    """{(mac, dst)} of the vxlan-<VNI> device's forwarding entries on HOST (``permanent``:
    only those written, not learnt)."""
    out = nsutil.run(["bridge", "fdb", "show", "dev", "vxlan-%d" % vni],
                     netns=mh.host(host)["netns"], check=False)
    entries = set()
    for line in out.splitlines():
        words = line.split()
        if "dst" in words and (not permanent or "permanent" in words):
            entries.add((words[0], words[words.index("dst") + 1]))
    return entries


def dhcp_port(mh, net_id):
    return wait_for(lambda: [p for p in mh.api("GET", "/ports?device_owner=network:dhcp"
                                               "&network_id=" + net_id)[1]["ports"]
                             if p["status"] == "ACTIVE"], 30, "the DHCP port")[0]


@needs_multihost
def test_two_linuxbridge_hosts_over_vxlan(multihost):
    mh = multihost
    h1 = mh.add_host("h1", driver="linuxbridge")
    h2 = mh.add_host("h2", driver="linuxbridge", dhcp=True)
    net = vxlan_net(mh, "net0", "10.74.0.0/24")
    vni = net["provider:segmentation_id"]
    p1 = mh.create("port", network_id=net["id"], name="p1")
    p2 = mh.create("port", network_id=net["id"], name="p2")
    vm1, vm2 = mh.vm("vm1", p1["id"], "h1"), mh.vm("vm2", p2["id"], "h2")
    mh.wait_port(p1["id"])
    mh.wait_port(p2["id"])
    dhcp = dhcp_port(mh, net["id"])
    # h1: flood entry towards h2, per-MAC entries for p2 and the DHCP port
    want = {(FLOOD, h2["tunnel_ip"]), (p2["mac_address"], h2["tunnel_ip"]),
            (dhcp["mac_address"], h2["tunnel_ip"])}
    wait_for(lambda: want <= fdb(mh, "h1", vni), 10, "h1's l2pop FDB entries")
    assert (FLOOD, h1["tunnel_ip"]) in fdb(mh, "h2", vni)

    leased = []
    lines = mh.sniff("h1", "udp port 4789", seconds=0.5,
                     during=lambda: leased.append(mh.lease(vm1)))
    assert leased == [ip_of(p1)]
    assert any("VXLAN" in l and "vni %d" % vni in l for l in lines), lines[:10]
    assert mh.lease(vm2) == ip_of(p2)
    assert mh.ping(vm1, ip_of(p2), count=3)
    assert mh.ping(vm2, ip_of(p1), count=1)

    # h1's agent restarts under a running ping: its first pass writes nothing, no echo is lost
    entries = fdb(mh, "h1", vni)
    mark = len(mh.agent_log("h1"))
    ping = subprocess.Popen(labvm.exec_argv(vm1, ["ping", "-n", "-i", "0.05", ip_of(p2)],
                                            state_dir=mh.lab_dir),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        time.sleep(0.5)
        mh.restart_agent("h1")
        wait_for(lambda: "reconciled" in mh.agent_log("h1")[mark:], 20, "h1's first pass")
        time.sleep(1.0)
    finally:
        ping.send_signal(signal.SIGINT)
        out = ping.communicate(timeout=10)[0]
    first = [l for l in mh.agent_log("h1")[mark:].splitlines() if "reconciled" in l][0]
    assert "(0 netlink writes" in first, first
    m = re.search(r"(\d+) packets transmitted, (\d+) received", out)
    assert m and int(m.group(1)) > 20 and m.group(1) == m.group(2), out
    assert fdb(mh, "h1", vni) == entries

    # p2's VM goes and its port is deleted: h1 forgets its MAC, keeps h2's flood
    # entry (the DHCP port is still there)
    labvm.delete_vm(vm2, state_dir=mh.lab_dir)
    mh.api("DELETE", "/ports/" + p2["id"], ok=204)
    wait_for(lambda: (p2["mac_address"], h2["tunnel_ip"]) not in fdb(mh, "h1", vni), 10,
             "h1's entry for p2 to go")
    assert (FLOOD, h2["tunnel_ip"]) in fdb(mh, "h1", vni)


@needs_multihost
def test_two_linuxbridge_hosts_over_vxlan_multicast(multihost):
    """Without L2 population (the seed's VXLAN): broadcast goes to the multicast group over the
    underlay, the devices learn each other's MACs, and no L2 population entry is written."""
    mh = multihost
    group = "239.1.0.0/16"
    h1 = mh.add_host("m1", driver="linuxbridge", vxlan_group=group)
    h2 = mh.add_host("m2", driver="linuxbridge", dhcp=True, vxlan_group=group)
    net = vxlan_net(mh, "mnet", "10.77.0.0/24")
    vni = net["provider:segmentation_id"]
    mcast = "239.1.%d.%d" % ((vni >> 8) & 0xFF, vni & 0xFF)     # the range's base + VNI
    agents = mh.api("GET", "/agents?agent_type=Linux+bridge+agent")[1]["agents"]
    assert {a["host"]: a["configurations"]["l2_population"] for a in agents
            if a["host"] in ("m1", "m2")} == {"m1": False, "m2": False}
    p1 = mh.create("port", network_id=net["id"], name="p1")
    p2 = mh.create("port", network_id=net["id"], name="p2")
    vm1, vm2 = mh.vm("mvm1", p1["id"], "m1"), mh.vm("mvm2", p2["id"], "m2")
    mh.wait_port(p1["id"])
    mh.wait_port(p2["id"])
    dev = nsutil.run(["ip", "-d", "link", "show", "vxlan-%d" % vni], netns=h1["netns"])
    assert "group %s" % mcast in dev and "nolearning" not in dev, dev
    assert fdb(mh, "m1", vni, permanent=True) == {(FLOOD, mcast)}   # nothing populated

    leased = []
    lines = mh.sniff("m1", "udp port 4789", seconds=0.5,
                     during=lambda: leased.append(mh.lease(vm1)))
    assert leased == [ip_of(p1)]
    assert any("> %s.4789" % mcast in l for l in lines), lines[:10]
    assert mh.lease(vm2) == ip_of(p2)
    assert mh.ping(vm1, ip_of(p2), count=3)
    assert mh.ping(vm2, ip_of(p1), count=1)
    # learnt, not populated: m1 knows p2's MAC behind m2 now
    assert (p2["mac_address"], h2["tunnel_ip"]) in fdb(mh, "m1", vni)
    assert (p1["mac_address"], h1["tunnel_ip"]) in fdb(mh, "m2", vni)


@needs_multihost
def test_trunk_vlans_served_from_the_other_linuxbridge_host(multihost):
    mh = multihost
    mh.add_host("h1", driver="linuxbridge")
    mh.add_host("h2", driver="linuxbridge", dhcp=True)
    net0 = vxlan_net(mh, "tnet0", "10.75.0.0/24")
    net1 = vxlan_net(mh, "tnet1", "10.75.1.0/24")
    parent = mh.create("port", network_id=net0["id"], name="parent")
    sub = mh.create("port", network_id=net1["id"], name="sub")
    vm = mh.vm("tvm", parent["id"], "h1")
    mh.wait_port(parent["id"])
    trunk = mh.create("trunk", port_id=parent["id"], sub_ports=[
        {"port_id": sub["id"], "segmentation_type": "vlan", "segmentation_id": 7}])
    wait_for(lambda: mh.get("trunk", trunk["id"])["status"] == "ACTIVE", 30, "trunk ACTIVE")
    mh.wait_port(sub["id"])
    labvm.add_vm_vlan(vm, 7, mac=sub["mac_address"], state_dir=mh.lab_dir)
    assert mh.lease(vm, "eth0.7") == ip_of(sub)
    assert mh.lease(vm) == ip_of(parent)


@needs_multihost
@pytest.mark.parametrize("dhcp_on", ["ovs", "linuxbridge"])
def test_ovs_and_linuxbridge_hosts_share_a_vxlan_network(multihost, dhcp_on):
    """Each VM's lease comes from the other kind of host: DHCP runs on one host only."""
    mh = multihost
    ovs = mh.add_host("h1", driver="ovs", dhcp=dhcp_on == "ovs")
    mh.add_host("h2", driver="linuxbridge", dhcp=dhcp_on == "linuxbridge")
    net = vxlan_net(mh, "mixed", "10.76.0.0/24")
    vni = net["provider:segmentation_id"]
    p1 = mh.create("port", network_id=net["id"], name="p1")
    p2 = mh.create("port", network_id=net["id"], name="p2")
    vm1, vm2 = mh.vm("ovm", p1["id"], "h1"), mh.vm("lvm", p2["id"], "h2")
    assert mh.get("port", p1["id"])["binding:vif_type"] == "ovs"
    assert mh.get("port", p2["id"])["binding:vif_type"] == "bridge"
    mh.wait_port(p1["id"])
    mh.wait_port(p2["id"])
    wait_for(lambda: {(FLOOD, ovs["tunnel_ip"]), (p1["mac_address"], ovs["tunnel_ip"])}
             <= fdb(mh, "h2", vni), 10, "the Linux bridge host's entries for the OVS host")
    client = vm2 if dhcp_on == "ovs" else vm1
    leased = []
    lines = mh.sniff("h1", "udp port 4789", seconds=0.5,
                     during=lambda: leased.append(mh.lease(client)))
    assert leased == [ip_of(p2 if client == vm2 else p1)]
    assert any("VXLAN" in l and "vni %d" % vni in l for l in lines), lines[:10]
    mh.vm_exec(vm1 if client == vm2 else vm2, "ip", "addr", "add",
               ip_of(p1 if client == vm2 else p2) + "/24", "dev", "eth0", check=True)
    assert mh.ping(vm1, ip_of(p2), count=3, wait=2)
    assert mh.ping(vm2, ip_of(p1), count=3, wait=2)


@needs_multihost
@pytest.mark.parametrize("peer", ["linuxbridge", "ovs"])
def test_flat_and_vlan_provider_networks(multihost, peer):
    """A Linux bridge host puts eth2 (flat) and eth2.100 (vlan 100) into the networks' brq; VMs
    reach a VM on a peer host (Linux bridge or Open vSwitch) over the physical network, the
    VLAN network tagged 100 on the wire, the flat one untagged."""
    mh = multihost
    mh.add_host("h1", driver="linuxbridge", physnet="physnet1")
    mh.add_host("h2", driver=peer, physnet="physnet1")
    flat, vlan = provider_nets(mh, "10.78.0.0/24", "10.79.0.0/24")
    ports, vms = {}, {}
    for net, kind in ((flat, "f"), (vlan, "v")):
        for h in ("h1", "h2"):
            ports[kind + h] = mh.create("port", network_id=net["id"], name=kind + h)
            vms[kind + h] = static_vm(mh, kind + h, ports[kind + h], h)
    for p in ports.values():
        mh.wait_port(p["id"])
    links = nsutil.links(mh.host("h1")["netns"])
    assert links["eth2"].get("master") == "brq" + flat["id"][:11]
    assert links["eth2.100"].get("master") == "brq" + vlan["id"][:11]
    lines = mh.sniff("h1", "icmp or (vlan and icmp)", seconds=0.3, nic="ph_dev", during=lambda:
                     mh.ping(vms["fh1"], ip_of(ports["fh2"]), count=2, wait=2))
    assert any(ip_of(ports["fh2"]) in l and "vlan" not in l for l in lines), lines[:6]
    lines = mh.sniff("h1", "icmp or (vlan and icmp)", seconds=0.3, nic="ph_dev", during=lambda:
                     mh.ping(vms["vh1"], ip_of(ports["vh2"]), count=2, wait=2))
    assert any("vlan 100" in l and ip_of(ports["vh2"]) in l for l in lines), lines[:6]
    assert mh.ping(vms["fh2"], ip_of(ports["fh1"]), count=1, wait=2)
    assert mh.ping(vms["vh2"], ip_of(ports["vh1"]), count=1, wait=2)
    # the VLAN network gone from h1: its subinterface goes, eth2 stays in the flat bridge
    for k in ("vh1", "vh2"):
        labvm.delete_vm(vms[k], state_dir=mh.lab_dir)
        mh.api("DELETE", "/ports/" + ports[k]["id"], ok=204)
    wait_for(lambda: "eth2.100" not in nsutil.links(mh.host("h1")["netns"]), 10,
             "eth2.100 to go")
    assert mh.ping(vms["fh1"], ip_of(ports["fh2"]), count=1, wait=2)


@needs_multihost
def test_arp_responders_on_both_kinds(multihost):
    """With --arp-responder on both hosts each answers ARP for the other's ports itself (the
    Linux bridge host's vxlan device in proxy mode with a permanent neighbour entry), and the
    VMs reach each other."""
    mh = multihost
    ovs = mh.add_host("h1", driver="ovs", arp_responder=True)
    lb = mh.add_host("h2", driver="linuxbridge", arp_responder=True)
    net = vxlan_net(mh, "arp", "10.80.0.0/24")
    vni = net["provider:segmentation_id"]
    p1 = mh.create("port", network_id=net["id"], name="p1")
    p2 = mh.create("port", network_id=net["id"], name="p2")
    vm1, vm2 = static_vm(mh, "a1", p1, "h1"), static_vm(mh, "a2", p2, "h2")
    mh.wait_port(p1["id"])
    mh.wait_port(p2["id"])
    neigh = lambda: nsutil.ip(["neigh", "show", "dev", "vxlan-%d" % vni, "nud", "permanent"],
                              netns=lb["netns"])
    wait_for(lambda: "%s lladdr %s" % (ip_of(p1), p1["mac_address"]) in neigh(), 10,
             "the Linux bridge host's neighbour entry for the OVS host's port")
    assert (FLOOD, ovs["tunnel_ip"]) in fdb(mh, "h2", vni)
    assert mh.ping(vm1, ip_of(p2), count=2, wait=2)
    assert mh.ping(vm2, ip_of(p1), count=2, wait=2)
