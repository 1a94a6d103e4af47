"""The Linux bridge driver end to end on one "host": a namespace with an underlay NIC (eth1,
192.0.2.1), a real server (SQLite), a `trunkline agent --driver linuxbridge --dhcp` process working
in that namespace, and a lab VM plugged the way Nova plugs a `bridge` VIF (only the tap):

- the VM's tap lands in brq<net>, the network's vxlan-<VNI> (nolearning, proxy as the agent
  runs with --arp-responder, 4789, MTU underlay − 50) beside it; DHCP leases on eth0 and,
  through a trunk created on the already bound parent (allowed for Linux bridge), on
  eth0.1/eth0.2 via the subports' VLAN devices;
- live add/remove of a subport;
- L2 population from a second (registered) VTEP: flood, per-MAC FDB and permanent neighbour
  entries on vxlan-<VNI>, removed when the remote port goes;
- an agent restart under a running ping writes nothing over netlink and loses no packet;
- a port set admin down: its device down, status DOWN (no traffic), and back;
- the VM gone: its port DOWN, the trunk's devices gone.

Tests share the module's environment and run in file order; everything is removed at the end.
"""
import glob
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid

import pytest
import requests

from helpers.server import Server, wait_for
from trunkline.agent import netns as nsutil
from trunkline.lab import vm as labvm

pytestmark = [pytest.mark.skipif(os.geteuid() != 0, reason="needs root"),
              pytest.mark.skipif(not all(shutil.which(t) for t in ("dnsmasq", "dhclient", "ping",
                                                                   "bridge")),
                                 reason="needs dnsmasq, dhclient, ping and bridge")]

TRUNKLINE = os.path.join(os.path.dirname(sys.executable), "trunkline")
NETS = {"net0": "10.0.4.0/24", "net1": "10.0.5.0/24", "net2": "10.0.6.0/24",
        "net3": "10.0.7.0/24"}
REMOTE_VTEP = "192.0.2.2"



def brq(net_id):
    return ("brq" + net_id)[:14]


def tap(port_id):
    return ("tap" + port_id)[:14]


class Env:
    def __init__(self, root):
        self.prefix = "tl" + uuid.uuid4().hex[:6]
        self.root = root
        self.host = self.prefix + "-lb"
        self.ns = self.host
        self.lab_dir = os.path.join(root, "lab")
        self.state_dir = os.path.join(root, "agent")
        self.vm = self.prefix + "vm"
        self.server = Server("sqlite:///" + os.path.join(root, "tl.db"))
        self.url = self.server.url
        self.http = requests.Session()
        self.agent = None
        self.agent_log = os.path.join(root, "agent.log")
        self.nets, self.subnets, self.ports = {}, {}, {}
        self.trunk = None
        nsutil.add(self.ns)
        # the underlay NIC: a veth whose peer stays (down) beside it
        nsutil.ip_batch(["link add eth1 type veth peer name eth1p",
                         "addr add 192.0.2.1/24 dev eth1", "link set eth1 up",
                         "link set eth1p up"], netns=self.ns)

    # -- processes -------------------------------------------------------------
    def start_agent(self):
        os.makedirs(self.state_dir, exist_ok=True)
        self.agent = subprocess.Popen(
            [TRUNKLINE, "agent", "--driver", "linuxbridge", "--host", self.host, "--server",
             self.url, "--netns", self.ns, "--dhcp", "--state-dir", self.state_dir,
             "--tunnel-ip", "192.0.2.1", "--arp-responder", "--report-interval", "2",
             "--log-level", "info"],
            stdout=open(self.agent_log, "a"), stderr=subprocess.STDOUT, start_new_session=True)

    def stop_agent(self):
        if self.agent is not None and self.agent.poll() is None:
            self.agent.send_signal(signal.SIGTERM)
            try:
                self.agent.wait(10)
            except subprocess.TimeoutExpired:
                self.agent.kill()
                self.agent.wait()
        self.agent = None

    def log(self):
        with open(self.agent_log) as f:
            return f.read()

    # -- API ---------------------------------------------------------------------
    def api(self, method, path, body=None, ok=None):
        r = self.http.request(method, self.url + path, json=body, timeout=30)
        data = r.json() if r.content else None
        if ok is not None:
            assert r.status_code == ok, (method, path, r.status_code, data)
        return r.status_code, data

    def create(self, member, **attrs):
        return self.api("POST", "/v2.0/%ss" % member, {member: attrs}, ok=201)[1][member]

    def port(self, port_id):
        return self.api("GET", "/v2.0/ports/" + port_id, ok=200)[1]["port"]

    def trunk_status(self):
        return self.api("GET", "/v2.0/trunks/" + self.trunk, ok=200)[1]["trunk"]["status"]

    # -- the host ----------------------------------------------------------------
    def links(self):
        return nsutil.links(self.ns)

    def details(self, dev):
        out = nsutil.ip(["-j", "-d", "link", "show", "dev", dev], netns=self.ns, check=False)
        return json.loads(out)[0] if out.strip() else None

    def master(self, dev):
        return self.links().get(dev, {}).get("master")

    # -- the guest ---------------------------------------------------------------
    def guest(self, *argv, timeout=30, check=False):
        r = labvm.exec_vm(self.vm, list(argv), state_dir=self.lab_dir, capture_output=True,
                          text=True, timeout=timeout)
        if check:
            assert r.returncode == 0, (argv, r.stdout, r.stderr)
        return r

    def lease(self, dev):
        self.guest("dhclient", "-1", dev, timeout=40, check=True)
        out = self.guest("ip", "-4", "-o", "addr", "show", "dev", dev, check=True).stdout
        m = re.search(r"inet (\d+\.\d+\.\d+\.\d+)/", out)
        assert m, "no lease on %s: %s" % (dev, out)
        return m.group(1)

    def close(self):
        try:
            if labvm.LabState(self.lab_dir).vm(self.vm):
                labvm.delete_vm(self.vm, self.url, state_dir=self.lab_dir)
        except Exception:
            pass
        self.stop_agent()
        # dnsmasq instances the agent started (their pid files), then the namespaces
        for pidfile in glob.glob(os.path.join(self.state_dir, "dhcp", "*", "pid")):
            try:
                os.kill(int(open(pidfile).read().strip()), signal.SIGTERM)
            except (OSError, ValueError):
                pass
        for name in os.listdir("/run/netns"):
            if name.startswith("qdhcp-") and name[6:] in self.nets.values():
                nsutil.delete(name)
        nsutil.delete(self.ns)
        self.server.stop()


@pytest.fixture(scope="module")
def env():
    root = "/run/" + "tl" + uuid.uuid4().hex[:8]       # dnsmasq (nobody) reads the agent's files
    os.makedirs(root)
    os.chmod(root, 0o755)
    e = Env(root)
    try:
        e.start_agent()
        wait_for(lambda: e.api("GET", "/v2.0/agents?host=" + e.host)[1]["agents"],
                 what="agent registration")
        yield e
    finally:
        e.close()
        shutil.rmtree(root, ignore_errors=True)


def test_vm_dhcp_and_trunk_on_bound_parent(env):
    agents = env.api("GET", "/v2.0/agents?host=" + env.host, ok=200)[1]["agents"]
    lb = [a for a in agents if a["agent_type"] == "Linux bridge agent"]
    assert lb and lb[0]["binary"] == "trunkline-linuxbridge-agent"
    assert lb[0]["configurations"]["tunnel_ip"] == "192.0.2.1"
    assert lb[0]["configurations"]["tunnel_types"] == ["vxlan"]
    for name, cidr in NETS.items():
        net = env.create("network", name=env.prefix + name)
        env.nets[name] = net["id"]
        env.subnets[name] = env.create("subnet", network_id=net["id"], cidr=cidr,
                                       ip_version=4)["id"]
    for name, net in (("parent", "net0"), ("sub1", "net1"), ("sub2", "net2"), ("sub3", "net3")):
        env.ports[name] = env.create("port", network_id=env.nets[net], name=env.prefix + name)

    vm = labvm.create_vm(env.url, env.vm, env.ports["parent"]["id"], host=env.host,
                         state_dir=env.lab_dir)
    parent = env.port(env.ports["parent"]["id"])
    assert parent["binding:vif_type"] == "bridge"
    assert parent["binding:vif_details"] == {"port_filter": True, "connectivity": "l2"}
    ptap = tap(parent["id"])
    assert (vm["tap"], vm["vif_type"], vm["bridge"]) == (ptap, "bridge", brq(env.nets["net0"]))
    wait_for(lambda: env.port(parent["id"])["status"] == "ACTIVE", what="parent ACTIVE")
    assert env.master(ptap) == brq(env.nets["net0"])

    # the network's VXLAN device: Neutron's flags (proxy: --arp-responder), UDP 4789,
    # MTU = underlay (1500) - 50
    net0 = env.api("GET", "/v2.0/networks/" + env.nets["net0"], ok=200)[1]["network"]
    vx = "vxlan-%d" % net0["provider:segmentation_id"]
    d = env.details(vx)
    info = d["linkinfo"]["info_data"]
    assert (info["id"], info["local"], info["port"], info["learning"], info["proxy"]) == \
        (net0["provider:segmentation_id"], "192.0.2.1", 4789, False, True)
    assert d["mtu"] == 1450 and d["master"] == brq(env.nets["net0"])

    # a trunk on the bound, running parent (Neutron's Linux bridge driver can_trunk_bound_port)
    trunk = env.create("trunk", port_id=parent["id"], sub_ports=[
        {"port_id": env.ports["sub1"]["id"], "segmentation_type": "vlan", "segmentation_id": 1},
        {"port_id": env.ports["sub2"]["id"], "segmentation_type": "vlan", "segmentation_id": 2}])
    env.trunk = trunk["id"]
    wait_for(lambda: env.trunk_status() == "ACTIVE", what="trunk ACTIVE")
    for sub, net, vid in (("sub1", "net1", 1), ("sub2", "net2", 2)):
        dev = tap(env.ports[sub]["id"])
        assert env.master(dev) == brq(env.nets[net]), dev
        wait_for(lambda: env.port(env.ports[sub]["id"])["status"] == "ACTIVE",
                 what="%s ACTIVE" % sub)
        labvm.add_vm_vlan(env.vm, vid, mac=env.ports[sub]["mac_address"],
                          state_dir=env.lab_dir)

    dhcp = env.api("GET", "/v2.0/ports?device_owner=network:dhcp&network_id="
                   + env.nets["net0"], ok=200)[1]["ports"][0]
    wait_for(lambda: env.port(dhcp["id"])["status"] == "ACTIVE", what="DHCP port ACTIVE")
    assert env.master(tap(dhcp["id"])) == brq(env.nets["net0"])
    assert env.lease("eth0") == parent["fixed_ips"][0]["ip_address"]
    for sub, dev in (("sub1", "eth0.1"), ("sub2", "eth0.2")):
        assert env.lease(dev) == env.ports[sub]["fixed_ips"][0]["ip_address"], dev


def test_live_subport_add_and_remove(env):
    sub3 = env.ports["sub3"]
    env.api("PUT", "/v2.0/trunks/%s/add_subports" % env.trunk, {"sub_ports": [
        {"port_id": sub3["id"], "segmentation_type": "vlan", "segmentation_id": 3}]}, ok=200)
    dev = tap(sub3["id"])
    wait_for(lambda: env.master(dev) == brq(env.nets["net3"]), what="subport device in brq")
    wait_for(lambda: env.trunk_status() == "ACTIVE", what="trunk ACTIVE again")
    labvm.add_vm_vlan(env.vm, 3, mac=sub3["mac_address"], state_dir=env.lab_dir)
    assert env.lease("eth0.3") == sub3["fixed_ips"][0]["ip_address"]

    env.api("PUT", "/v2.0/trunks/%s/remove_subports" % env.trunk,
            {"sub_ports": [{"port_id": sub3["id"]}]}, ok=200)
    wait_for(lambda: dev not in env.links(), what="subport device removed")
    wait_for(lambda: env.trunk_status() == "ACTIVE", what="trunk ACTIVE after removal")
    # the other subports are untouched
    assert env.master(tap(env.ports["sub1"]["id"])) == brq(env.nets["net1"])


def test_l2_population_from_a_remote_vtep(env):
    """A second host's agent (registered over the channel, VTEP 192.0.2.2) with an ACTIVE port
    on net0: flood + per-MAC FDB and a permanent neighbour appear; its port deleted: gone."""
    remote = env.prefix + "-r"
    body = {"host": remote, "agent_type": "Linux bridge agent", "binary": "x",
            "configurations": {"tunnel_ip": REMOTE_VTEP, "tunnel_types": ["vxlan"],
                               "l2_population": True}}
    env.api("POST", "/agent/v1/agents", body)
    rport = env.create("port", network_id=env.nets["net0"], **{"binding:host_id": remote})
    env.api("POST", "/agent/v1/status", {"host": remote, "ports": {rport["id"]: "ACTIVE"},
                                         "trunks": {}}, ok=204)
    net0 = env.api("GET", "/v2.0/networks/" + env.nets["net0"], ok=200)[1]["network"]
    vx = "vxlan-%d" % net0["provider:segmentation_id"]
    mac, ip = rport["mac_address"], rport["fixed_ips"][0]["ip_address"]

    def fdb():
        out = nsutil.run(["bridge", "fdb", "show", "dev", vx], netns=env.ns)
        return {(l.split()[0], l.split()[l.split().index("dst") + 1])
                for l in out.splitlines() if " dst " in l}

    def neigh():
        return nsutil.ip(["neigh", "show", "dev", vx, "nud", "permanent"], netns=env.ns)

    wait_for(lambda: {("00:00:00:00:00:00", REMOTE_VTEP), (mac, REMOTE_VTEP)} <= fdb(),
             what="FDB entries for the remote VTEP")
    wait_for(lambda: "%s lladdr %s" % (ip, mac) in neigh(), what="neighbour entry")

    env.api("DELETE", "/v2.0/ports/" + rport["id"], ok=204)
    wait_for(lambda: not any(dst == REMOTE_VTEP for _, dst in fdb()),
             what="remote FDB entries removed")
    assert ip not in neigh()


def test_agent_restart_writes_nothing_and_loses_nothing(env):
    dhcp = [p for p in env.api("GET", "/v2.0/ports?device_owner=network:dhcp&network_id="
                               + env.nets["net0"], ok=200)[1]["ports"]][0]
    target = dhcp["fixed_ips"][0]["ip_address"]
    before = {n: (l["ifindex"], l.get("master")) for n, l in env.links().items()}
    ping = subprocess.Popen(labvm.exec_argv(env.vm, ["ping", "-n", "-i", "0.05", "-I", "eth0",
                                                     target], state_dir=env.lab_dir),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        time.sleep(0.5)
        mark = len(env.log())
        env.stop_agent()
        env.start_agent()
        wait_for(lambda: "reconciled" in env.log()[mark:], what="a pass after the restart")
        time.sleep(1.0)
    finally:
        ping.send_signal(signal.SIGINT)
        out = ping.communicate(timeout=10)[0]
    first = [l for l in env.log()[mark:].splitlines() if "reconciled" in l][0]
    assert "(0 netlink writes" in first, first
    assert {n: (l["ifindex"], l.get("master")) for n, l in env.links().items()} == before
    m = re.search(r"(\d+) packets transmitted, (\d+) received", out)
    assert m and int(m.group(1)) > 20 and m.group(1) == m.group(2), out


def test_admin_down_port_goes_down_and_back(env):
    sub2 = env.ports["sub2"]["id"]
    dev = tap(sub2)
    env.api("PUT", "/v2.0/ports/" + sub2, {"port": {"admin_state_up": False}}, ok=200)
    wait_for(lambda: "UP" not in env.links()[dev]["flags"], what="admin-down device down")
    assert env.port(sub2)["status"] == "DOWN"
    assert not env.guest("ping", "-n", "-c", "1", "-W", "1", "-I", "eth0.2",
                         env.api("GET", "/v2.0/ports?device_owner=network:dhcp&network_id="
                                 + env.nets["net2"], ok=200)[1]["ports"][0]["fixed_ips"][0]
                         ["ip_address"]).returncode == 0
    env.api("PUT", "/v2.0/ports/" + sub2, {"port": {"admin_state_up": True}}, ok=200)
    wait_for(lambda: env.port(sub2)["status"] == "ACTIVE", what="subport ACTIVE again")
    assert "UP" in env.links()[dev]["flags"] and env.master(dev) == brq(env.nets["net2"])


def test_vm_gone_port_down_devices_gone(env):
    parent, sub1 = env.ports["parent"]["id"], env.ports["sub1"]["id"]
    ptap = tap(parent)
    # the VM's tap vanishes (Nova unplugs): DOWN, and the subport devices go with it
    nsutil.ip(["link", "del", ptap], netns=env.ns)
    wait_for(lambda: env.port(parent)["status"] == "DOWN", what="parent DOWN")
    wait_for(lambda: env.port(sub1)["status"] == "DOWN", what="subport DOWN")
    assert tap(sub1) not in env.links()
    env.api("DELETE", "/v2.0/trunks/" + env.trunk, ok=204)
    labvm.delete_vm(env.vm, env.url, state_dir=env.lab_dir)
    for p in env.ports.values():
        env.api("DELETE", "/v2.0/ports/" + p["id"], ok=204)
    for net_id in env.nets.values():
        env.api("DELETE", "/v2.0/networks/" + net_id, ok=204)
    wait_for(lambda: not [n for n in env.links() if n.startswith(("brq", "vxlan-", "tap"))],
             what="every brq, vxlan and tap removed")
