"""The agent's DHCP side: qdhcp namespace + veth + dnsmasq (Neutron's command line) serving real
dhclient through the private OVS; a port added later is served after SIGHUP with the same pid;
removal leaves no namespace, process, file or OVS port."""
import os
import pathlib
import subprocess
import uuid

from helpers.dataplane import lab, needs_root_ovs, ping, wait_for  # noqa: F401
from trunkline.agent import netns as nsutil
from trunkline.agent.dhcp import DhcpManager
from trunkline.agent.ovs import Wiring

pytestmark = needs_root_ovs

SCRIPT = """#!/bin/sh
case "$reason" in BOUND|RENEW|REBIND|REBOOT)
  ip addr add "$new_ip_address/$new_subnet_mask" dev "$interface"
  echo "$new_ip_address $new_interface_mtu $new_routers" > "%s" ;; esac
"""


def dhclient(lab, tmp_path, vm, name, timeout=15):
    """Real dhclient in `vm` (foreground, -d) with a private script, lease and pid files
    (nothing in /etc); stopped by its pid as soon as the lease is recorded."""
    out = tmp_path / ("%s.out" % name)
    script = tmp_path / ("%s.sh" % name)     # dhclient gives its script a fresh environment
    script.write_text(SCRIPT % out)
    script.chmod(0o755)
    p = subprocess.Popen(["ip", "netns", "exec", vm, "dhclient", "-d", "-1", "-sf", str(script),
                          "-pf", str(tmp_path / ("%s.pid" % name)),
                          "-lf", str(tmp_path / ("%s.leases" % name)), "eth0"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    lab.pids.append(p.pid)          # `ip netns exec` execs dhclient: same pid
    try:
        wait_for(lambda: out.exists() and out.read_text().strip(), timeout)
    finally:
        p.kill()
        p.wait()
    return out.read_text().split() if out.exists() else None


def test_dhcp_lease_hup_and_teardown(lab, tmp_path):
    net_id, sub_id = str(uuid.uuid4()), str(uuid.uuid4())
    network = {"id": net_id, "network_type": "vxlan", "physical_network": None,
               "segmentation_id": 9, "mtu": 1400, "admin_state_up": True}
    subnet = {"id": sub_id, "cidr": "10.88.0.0/24", "ip_version": 4, "gateway_ip": "10.88.0.1",
              "enable_dhcp": True, "dns_nameservers": [], "host_routes": [],
              "ipv6_address_mode": None}

    def mkport(ip, i, owner="compute:nova"):
        return {"id": str(uuid.uuid4()), "network_id": net_id, "admin_state_up": True,
                "mac_address": "fa:16:3e:88:00:%02x" % i, "device_owner": owner,
                "fixed_ips": [{"subnet_id": sub_id, "ip_address": ip}]}

    dport = mkport("10.88.0.2", 2, "network:dhcp")
    vm1p = mkport("10.88.0.7", 7)
    desired = {"revision": 1, "host": "h", "networks": {net_id: network},
               "ports": [dport, vm1p], "trunks": [],
               "dhcp": {net_id: {"network": network, "subnets": [subnet],
                                 "ports": [dport, vm1p]}}}
    lab.track_ns("qdhcp-" + net_id)
    state = lab.rundir + "/state"          # tmp_path is 0700: dnsmasq (nobody) could not read it
    mgr = DhcpManager(state, netns=lab.sw, datapath_type="netdev", log=True)
    lab.cleanups.append(mgr.teardown_all)
    w = Wiring(lab.db, rundir=lab.rundir)

    def one_pass(d):
        plugs = mgr.reconcile(d["dhcp"], {net_id: dport})
        return w.reconcile(d, plugs)

    st = one_pass(desired)
    assert st["ports"][dport["id"]] == "ACTIVE"
    tap = ("tap" + dport["id"])[:14]
    row = lab.ports()[tap]
    assert row["iface"]["external_ids"]["iface-id"] == dport["id"]
    assert row["other_config"]["net_uuid"] == net_id
    dev = ("ns-" + dport["id"])[:14]
    ns = "qdhcp-" + net_id
    assert nsutil.addresses(dev, ns) == ["10.88.0.2/24"]
    link = nsutil.links(ns)[dev]
    assert link["address"] == dport["mac_address"] and link["mtu"] == 1400
    conf = pathlib.Path(state) / "dhcp" / net_id
    assert sorted((conf / "host").read_text().splitlines()) == sorted(
        "%s,host-10-88-0-%s.openstacklocal,10.88.0.%s" % (p["mac_address"], n, n)
        for p, n in ((dport, 2), (vm1p, 7)))
    assert "10.88.0.7\thost-10-88-0-7.openstacklocal host-10-88-0-7" in \
        (conf / "addn_hosts").read_text().splitlines()
    # bootstrapped `0 <mac> <ip> * *` (dnsmasq rewrites it with the host names)
    assert "0 %s 10.88.0.7 " % vm1p["mac_address"] in (conf / "leases").read_text()
    assert "tag:subnet-%s,option:router,10.88.0.1" % sub_id in (conf / "opts").read_text()
    pid = mgr.pid(net_id)
    cmd = open("/proc/%d/cmdline" % pid).read().split("\0")
    assert "--dhcp-range=set:subnet-%s,10.88.0.0,static,255.255.255.0,86400s" % sub_id in cmd
    assert "--dhcp-option-force=option:mtu,1400" in cmd and "--bind-dynamic" in cmd

    vm1 = lab.ns("vm1")
    lab.plug_vm("br-int", vm1, vm1p["id"], vm1p["mac_address"], mtu=1400)
    one_pass(desired)
    lease = dhclient(lab, tmp_path, vm1, "vm1")
    assert lease == ["10.88.0.7", "1400", "10.88.0.1"]
    assert ping(vm1, "10.88.0.2")

    # a port added later: files rewritten, SIGHUP, same dnsmasq pid, lease served
    vm2p = mkport("10.88.0.8", 8)
    desired["ports"].append(vm2p)
    desired["dhcp"][net_id]["ports"].append(vm2p)
    vm2 = lab.ns("vm2")
    lab.plug_vm("br-int", vm2, vm2p["id"], vm2p["mac_address"], mtu=1400)
    one_pass(desired)
    assert mgr.pid(net_id) == pid
    assert "10.88.0.8" in (conf / "addn_hosts").read_text()
    assert dhclient(lab, tmp_path, vm2, "vm2")[0] == "10.88.0.8"
    assert mgr.pid(net_id) == pid
    assert "read %s/host" % conf in (conf / "dhcp_dns_log").read_text()

    # agent restart: nothing changes, no restart, no OVS writes
    mtime = (conf / "host").stat().st_mtime_ns
    mgr2 = DhcpManager(state, netns=lab.sw, log=True)
    w2 = Wiring(lab.db, rundir=lab.rundir)
    w2.reconcile(desired, mgr2.reconcile(desired["dhcp"], {net_id: dport}))
    assert mgr2.pid(net_id) == pid and w2.last_timing["ops"] == 0
    assert (conf / "host").stat().st_mtime_ns == mtime

    # the network loses DHCP: process, namespace, files and the OVS port are gone
    desired["dhcp"] = {}
    w2.reconcile(desired, mgr2.reconcile({}, {}))
    assert not os.path.exists("/proc/%d" % pid) or \
        open("/proc/%d/stat" % pid).read().split(")")[-1].split()[0] == "Z"
    assert not nsutil.exists(ns)
    assert not conf.exists()
    assert tap not in lab.ports()
    assert tap not in nsutil.links(lab.sw)
