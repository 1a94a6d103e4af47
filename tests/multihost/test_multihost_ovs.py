"""Lab hosts running the Open vSwitch agent, several per test (tests/helpers/multihost.py): the hosts
themselves (`trunkline lab host`), VXLAN/GRE overlays with L2 population between them (br-tun),
DHCP and trunk VLANs across hosts, ports moving, hosts leaving, agents restarting."""
import json
import os
import re
import signal
import subprocess
import sys
import time

from helpers.server import wait_for
from helpers.multihost import (multihost, needs_multihost, ip_of, provider_nets,  # noqa: F401
                       static_vm, vxlan_net)
from trunkline.agent import netns as nsutil

TRUNKLINE = os.path.join(os.path.dirname(sys.executable), "trunkline")


def lab_cli(mh, *args):
    r = subprocess.run([TRUNKLINE, "lab", *args, "--endpoint", mh.url,
                        "--state-dir", mh.lab_dir], capture_output=True, text=True, timeout=90)
    return r


@needs_multihost
def test_lab_host_commands(multihost):
    r = lab_cli(multihost, "host", "add", "h1", "--driver", "ovs")
    assert r.returncode == 0, r.stderr
    r = lab_cli(multihost, "host", "add", "h2", "--physnet", "physnet1",
                "--tunnel-types", "vxlan,gre")
    assert r.returncode == 0, r.stderr
    assert "VTEP 192.0.2.2" in r.stdout
    r = lab_cli(multihost, "host", "add", "h1")
    assert r.returncode == 1 and "already exists" in r.stderr
    hosts = json.loads(lab_cli(multihost, "host", "list", "-f", "json").stdout)
    assert [(h["name"], h["tunnel_ip"], h["agent_running"]) for h in hosts] == [
        ("h1", "192.0.2.1", True), ("h2", "192.0.2.2", True)]
    h2 = hosts[1]
    assert set(nsutil.links(h2["netns"])) >= {"eth1", "eth2", "br-phy"}
    assert "192.0.2.2/24" in nsutil.addresses("br-phy", netns=h2["netns"])
    agents = multihost.api("GET", "/agents?host=h2", ok=200)[1]["agents"]
    conf = agents[0]["configurations"]
    assert (conf["tunnel_ip"], conf["tunnel_types"], conf["l2_population"],
            conf["bridge_mappings"]) == ("192.0.2.2", ["vxlan", "gre"], True,
                                         {"physnet1": "br-eth2"})
    # the underlay carries traffic: h1's VTEP answers h2's
    assert subprocess.run(["ip", "netns", "exec", h2["netns"], "ping", "-c", "1", "-W", "2",
                           "192.0.2.1"], capture_output=True).returncode == 0

    pid = h2["agent_pid"]
    r = lab_cli(multihost, "host", "del", "h2")
    assert r.returncode == 0, r.stderr
    assert not nsutil.exists(h2["netns"]) and not os.path.exists(h2["rundir"])
    assert not os.path.exists("/proc/%d/cmdline" % pid) or b"h2" not in open(
        "/proc/%d/cmdline" % pid, "rb").read()
    assert [h["name"] for h in json.loads(
        lab_cli(multihost, "host", "list", "-f", "json").stdout)] == ["h1"]
    r = lab_cli(multihost, "down")
    assert r.returncode == 0 and "host h1" in r.stdout
    assert not nsutil.exists(hosts[0]["netns"]) and not nsutil.exists(hosts[0]["underlay_ns"])


def tun_flows(mh, host):
    """br-tun's flows, without the ones table 10 learnt (they come and go with traffic)."""
    out = mh.ovs(host).ofctl("dump-flows", "--no-stats", mh.ovs(host).mgmt("br-tun"))
    return "".join(l + "\n" for l in out.splitlines() if "hard_timeout" not in l)


@needs_multihost
def test_vxlan_dhcp_across_hosts_with_l2pop(multihost):
    mh = multihost
    mh.add_host("h1")
    mh.add_host("h2", dhcp=True)
    net = vxlan_net(mh, "net0", "10.70.0.0/24")
    vni = net["provider:segmentation_id"]
    p1 = mh.create("port", network_id=net["id"], name="p1")
    p2 = mh.create("port", network_id=net["id"], name="p2")
    vm1 = mh.vm("vm1", p1["id"], "h1")
    vm2 = mh.vm("vm2", p2["id"], "h2")
    mh.wait_port(p1["id"])
    mh.wait_port(p2["id"])
    # br-tun on h1: one vxlan port towards h2, l2pop entries for p2 and the DHCP port
    ports = mh.ovs("h1").vsctl("list-ports", "br-tun").split()
    assert sorted(ports) == ["patch-int", "vxlan-c0000202"]
    assert mh.ovs("h1").vsctl("get", "Interface", "vxlan-c0000202", "options").strip() == (
        '{df_default="true", key=flow, local_ip="192.0.2.1", remote_ip="192.0.2.2"}')
    dhcp_port = wait_for(lambda: [p for p in mh.api("GET", "/ports?device_owner=network:dhcp")[1]
                                  ["ports"] if p["status"] == "ACTIVE"], 30, "the DHCP port")[0]
    wait_for(lambda: p2["mac_address"] in tun_flows(mh, "h1")
             and dhcp_port["mac_address"] in tun_flows(mh, "h1"), 10, "h1's l2pop flows")
    leased = []
    lines = mh.sniff("h1", "udp port 4789", seconds=0.5,
                     during=lambda: leased.append(mh.lease(vm1)))
    assert leased == [p1["fixed_ips"][0]["ip_address"]]
    assert any("VXLAN" in l and "vni %d" % vni in l for l in lines), lines[:10]
    assert mh.lease(vm2) == p2["fixed_ips"][0]["ip_address"]
    assert mh.ping(vm1, p2["fixed_ips"][0]["ip_address"], count=3)


@needs_multihost
def test_gre_between_ovs_hosts_and_agent_restart_without_loss(multihost):
    mh = multihost
    for h in ("h1", "h2"):
        mh.add_host(h, tunnel_types=["vxlan", "gre"])
    net = vxlan_net(mh, "gre0", "10.71.0.0/24", ntype="gre")
    key = net["provider:segmentation_id"]
    p1 = mh.create("port", network_id=net["id"], name="p1")
    p2 = mh.create("port", network_id=net["id"], name="p2")
    vm1, vm2 = static_vm(mh, "g1", p1, "h1"), static_vm(mh, "g2", p2, "h2")
    mh.wait_port(p1["id"])
    mh.wait_port(p2["id"])
    wait_for(lambda: p2["mac_address"] in tun_flows(mh, "h1"), 10, "h1's l2pop flow for p2")
    assert "gre-c0000202" in mh.ovs("h1").vsctl("list-ports", "br-tun").split()
    lines = mh.sniff("h2", "ip proto 47", seconds=0.5,
                     during=lambda: mh.ping(vm1, ip_of(p2), count=3))
    assert any("GRE" in l and "key=%#x" % key in l for l in lines), lines[:10]
    assert mh.ping(vm1, ip_of(p2), count=2)

    # restart h1's agent under a running ping: not one echo lost, the same flows after
    flows_before = tun_flows(mh, "h1")
    out = os.path.join(mh.root, "ping.out")
    with open(out, "w") as f:
        ping = subprocess.Popen(["ip", "netns", "exec", mh.vm_netns(vm1), "ping", "-n", "-i",
                                 "0.05", ip_of(p2)], stdout=f, stderr=subprocess.STDOUT)
    try:
        time.sleep(0.5)
        old_pid = mh.host("h1")["agent_pid"]
        new = mh.restart_agent("h1")
        assert new["agent_pid"] != old_pid
        time.sleep(2.0)           # its first passes run while the ping goes on
    finally:
        ping.send_signal(signal.SIGINT)
        ping.wait(5)
    text = open(out).read()
    seqs = [int(s) for s in re.findall(r"icmp_seq=(\d+) ttl=", text)]
    assert len(seqs) > 30, text[-400:]
    assert not sorted(set(range(1, max(seqs) + 1)) - set(seqs)), text[-400:]
    assert tun_flows(mh, "h1") == flows_before

    # ovs-vswitchd on h1 restarts and keeps no flows: the agent puts br-tun's back by itself
    mh.ovs("h1").restart_vswitchd()
    wait_for(lambda: mh.ping(vm1, ip_of(p2), count=1, wait=1), 15,
             "GRE traffic after h1's ovs-vswitchd restart")
    assert tun_flows(mh, "h1") == flows_before


@needs_multihost
def test_three_hosts_no_flooding_port_move_and_host_removal(multihost):
    mh = multihost
    for h in ("h1", "h2", "h3"):
        mh.add_host(h)
    net_a = vxlan_net(mh, "neta", "10.72.0.0/24")
    net_b = vxlan_net(mh, "netb", "10.73.0.0/24")
    vni_a = net_a["provider:segmentation_id"]
    p1 = mh.create("port", network_id=net_a["id"], name="p1")
    p2 = mh.create("port", network_id=net_a["id"], name="p2")
    p3 = mh.create("port", network_id=net_b["id"], name="p3")
    vm1, vm2 = static_vm(mh, "a1", p1, "h1"), static_vm(mh, "a2", p2, "h2")
    static_vm(mh, "b3", p3, "h3")
    for p in (p1, p2, p3):
        mh.wait_port(p["id"])
    wait_for(lambda: p2["mac_address"] in tun_flows(mh, "h1"), 10, "h1's l2pop flow for p2")
    # h3 has no port on net A: no tunnel port towards it, and none of net A's broadcasts
    # (ARP for an unknown address floods) or unicasts reach its underlay link
    assert mh.ovs("h1").vsctl("list-ports", "br-tun").split() == ["patch-int", "vxlan-c0000202"]
    lines = mh.sniff("h3", "udp port 4789", seconds=0.5, during=lambda: (
        mh.ping(vm1, "10.72.0.250", count=2), mh.ping(vm1, ip_of(p2), count=2)))
    assert not any("vni %d" % vni_a in l for l in lines), lines[:10]
    # ... while h2's link carries them
    lines = mh.sniff("h2", "udp port 4789", seconds=0.5,
                     during=lambda: mh.ping(vm1, ip_of(p2), count=2))
    assert any("vni %d" % vni_a in l for l in lines), lines[:10]

    # p2 moves from h2 to h3 (the VM is re-created there, like a cold migration)
    from trunkline.lab import vm as labvm
    labvm.delete_vm(vm2, state_dir=mh.lab_dir)
    vm2 = static_vm(mh, "a2b", p2, "h3")
    mh.wait_port(p2["id"])
    wait_for(lambda: mh.ovs("h1").vsctl("list-ports", "br-tun").split()
             == ["patch-int", "vxlan-c0000203"] and p2["mac_address"] in tun_flows(mh, "h1"),
             10, "h1's tunnel and l2pop flow to follow p2 to h3")
    assert mh.ping(vm1, ip_of(p2), count=2, wait=2)
    assert mh.ping(vm2, ip_of(p1), count=1, wait=2)

    # h3 leaves: its VMs go with it, and so do h1's entries for it
    mh.del_host("h3")
    wait_for(lambda: mh.ovs("h1").vsctl("list-ports", "br-tun").split() == ["patch-int"],
             10, "h1's tunnel port to h3 to go")
    assert p2["mac_address"] not in tun_flows(mh, "h1")
    assert mh.state("h1")["tunnels"][net_a["id"]]["vteps"] == {}


@needs_multihost
def test_trunk_vlans_across_hosts(multihost):
    mh = multihost
    mh.add_host("h1")
    mh.add_host("h2")
    net0 = vxlan_net(mh, "tnet0", "10.74.0.0/24")
    net1 = vxlan_net(mh, "tnet1", "10.75.0.0/24")
    parent = mh.create("port", network_id=net0["id"], name="parent")
    sub1 = mh.create("port", network_id=net1["id"], name="sub1")
    trunk = mh.create("trunk", port_id=parent["id"], sub_ports=[
        {"port_id": sub1["id"], "segmentation_type": "vlan", "segmentation_id": 1}])
    other0 = mh.create("port", network_id=net0["id"], name="other0")
    other1 = mh.create("port", network_id=net1["id"], name="other1")
    vm1 = static_vm(mh, "t1", parent, "h1")
    from trunkline.lab import vm as labvm
    labvm.add_vm_vlan(vm1, 1, mac=sub1["mac_address"], state_dir=mh.lab_dir)
    mh.vm_exec(vm1, "ip", "addr", "add", ip_of(sub1) + "/24", "dev", "eth0.1", check=True)
    vm2 = static_vm(mh, "t2", other0, "h2")
    vm3 = static_vm(mh, "t3", other1, "h2")
    wait_for(lambda: mh.get("trunk", trunk["id"])["status"] == "ACTIVE", 30, "the trunk")
    for p in (sub1, other0, other1):
        mh.wait_port(p["id"])
    # the subport's MAC is announced from h1 on net1's VNI, the parent's on net0's
    h2_tunnels = mh.state("h2")["tunnels"]
    assert [e["mac_address"] for e in h2_tunnels[net1["id"]]["vteps"]["192.0.2.1"]] == [
        sub1["mac_address"]]
    assert [e["mac_address"] for e in h2_tunnels[net0["id"]]["vteps"]["192.0.2.1"]] == [
        parent["mac_address"]]
    assert mh.ping(vm1, ip_of(other1), dev="eth0.1", count=2, wait=2)
    assert mh.ping(vm3, ip_of(sub1), count=1, wait=2)
    assert mh.ping(vm1, ip_of(other0), dev="eth0", count=1, wait=2)
    assert mh.ping(vm2, ip_of(parent), count=1, wait=2)


@needs_multihost
def test_flat_and_vlan_provider_networks_across_hosts(multihost):
    mh = multihost
    mh.add_host("h1", physnet="physnet1")
    mh.add_host("h2", physnet="physnet1")
    flat, vlan = provider_nets(mh, "10.76.0.0/24", "10.77.0.0/24")
    ports = {}
    for net, name in ((flat, "f"), (vlan, "v")):
        for h in ("h1", "h2"):
            ports[name + h] = mh.create("port", network_id=net["id"], name=name + h)
    vms = {k: static_vm(mh, k, p, k[1:]) for k, p in ports.items()}
    for p in ports.values():
        mh.wait_port(p["id"])
    assert set(mh.ovs("h1").vsctl("list-ports", "br-eth2").split()) == {"eth2", "phy-br-eth2"}
    assert "int-br-eth2" in mh.ovs("h1").vsctl("list-ports", "br-int").split()
    # flat: untagged on the physical network; vlan: tagged with the provider VLAN 100
    lines = mh.sniff("h2", "icmp or (vlan and icmp)", seconds=0.3, nic="ph_dev", during=lambda:
                     mh.ping(vms["fh1"], ip_of(ports["fh2"]), count=2, wait=2))
    assert any(ip_of(ports["fh2"]) in l and "vlan" not in l for l in lines), lines[:6]
    assert mh.ping(vms["fh1"], ip_of(ports["fh2"]), count=1, wait=2)
    lines = mh.sniff("h2", "icmp or (vlan and icmp)", seconds=0.3, nic="ph_dev", during=lambda:
                     mh.ping(vms["vh2"], ip_of(ports["vh1"]), count=2, wait=2))
    assert any("vlan 100" in l and ip_of(ports["vh1"]) in l for l in lines), lines[:6]
    assert mh.ping(vms["vh2"], ip_of(ports["vh1"]), count=1, wait=2)
    # the two networks stay apart on the shared wire: the flat network's echoes arrive
    # untagged, none of them in VLAN 100 (the VLAN network's own chatter, e.g. its guests'
    # IPv6 router solicitations, may be tagged on the wire meanwhile)
    lines = mh.sniff("h1", "icmp or (vlan and icmp)", seconds=0.3, nic="ph_dev",
                     during=lambda: mh.ping(vms["fh2"], ip_of(ports["fh1"]), count=1))
    flat_echoes = [l for l in lines if ip_of(ports["fh1"]) in l]
    assert flat_echoes and not any("vlan" in l for l in flat_echoes), lines[:6]


@needs_multihost
def test_arp_responder_answers_locally(multihost):
    mh = multihost
    mh.add_host("h1", arp_responder=True)
    mh.add_host("h2", arp_responder=True)
    net = vxlan_net(mh, "arp0", "10.78.0.0/24")
    p1 = mh.create("port", network_id=net["id"], name="p1")
    p2 = mh.create("port", network_id=net["id"], name="p2")
    vm1, vm2 = static_vm(mh, "r1", p1, "h1"), static_vm(mh, "r2", p2, "h2")
    mh.wait_port(p1["id"])
    mh.wait_port(p2["id"])
    wait_for(lambda: "arp_tpa=%s" % ip_of(p2) in tun_flows(mh, "h1")
             and "arp_tpa=%s" % ip_of(p1) in tun_flows(mh, "h2"), 10, "ARP responder flows")
    pinged = []
    lines = mh.sniff("h1", "udp port 4789", seconds=0.5,
                     during=lambda: pinged.append(mh.ping(vm1, ip_of(p2), count=2, wait=2)))
    assert pinged == [True]
    # the echoes crossed the underlay, the ARP requests of both guests never did
    assert any("ICMP echo request" in l for l in lines), lines[:10]
    assert not any("ARP" in l for l in lines), [l for l in lines if "ARP" in l]
    neigh = mh.vm_exec(vm1, "ip", "neigh", "show", ip_of(p2), check=True).stdout
    assert p2["mac_address"] in neigh


@needs_multihost
def test_two_dhcp_hosts_serve_one_network(multihost):
    """Lab hosts share one kernel: each DHCP host has its own qdhcp-<net>-<host netns>
    namespace, so both serve the network side by side (as two network nodes would), neither
    removes the other's device, and a VM on a third host leases from them."""
    mh = multihost
    h1, h2 = mh.add_host("h1", dhcp=True), mh.add_host("h2", driver="linuxbridge", dhcp=True)
    mh.add_host("h3")
    net = vxlan_net(mh, "net0", "10.74.0.0/24")
    dhcp_ports = wait_for(lambda: (lambda ps: ps if len(ps) == 2 else None)(
        [p for p in mh.api("GET", "/ports?device_owner=network:dhcp&network_id="
                           + net["id"])[1]["ports"] if p["status"] == "ACTIVE"]),
        30, "two ACTIVE DHCP ports")
    assert sorted(p["binding:host_id"] for p in dhcp_ports) == ["h1", "h2"]
    namespaces = {h["name"]: "qdhcp-%s-%s" % (net["id"], h["netns"]) for h in (h1, h2)}
    for host in ("h1", "h2"):
        port = [p for p in dhcp_ports if p["binding:host_id"] == host][0]
        assert ("ns-" + port["id"])[:14] in nsutil.links(namespaces[host])
    p3 = mh.create("port", network_id=net["id"], name="p3")
    vm3 = mh.vm("vm3", p3["id"], "h3")
    mh.wait_port(p3["id"])
    assert mh.lease(vm3) == ip_of(p3)
    for host, ns in namespaces.items():      # still both there after passes on both hosts
        port = [p for p in dhcp_ports if p["binding:host_id"] == host][0]
        assert ("ns-" + port["id"])[:14] in nsutil.links(ns)
        assert mh.ping(vm3, ip_of(port)), "the DHCP port on %s does not answer" % host
