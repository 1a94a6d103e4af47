"""Shared fixtures for multi-host tests: a trunkline server (SQLite) plus lab hosts
(lab/host.py: a namespace with its own switch and agent per host, joined by the lab underlay),
lab VMs on them, and helpers to watch the underlay. Everything is removed afterwards, also when
the test fails: lab VMs, hosts (agents by PID, OVS daemons, DHCP servers, namespaces), the
server and the run directory.

    from helpers.multihost import multihost, needs_multihost      # the fixture and its skip mark

    @needs_multihost
    def test_x(multihost):
        h1 = multihost.add_host("h1", driver="ovs")
        h2 = multihost.add_host("h2", driver="linuxbridge", dhcp=True)
        net = multihost.create("network", name="n", **{"provider:network_type": "vxlan"})
        ...
        vm = multihost.vm("vm1", port_id, "h1")          # lab VM name (prefixed, unique)
        multihost.vm_exec(vm, "ping", "-c", "1", ip)

Module-scoped use: ``MultiHost()`` ... ``close()`` in your own fixture.
"""
import os
import re
import shutil
import signal
import subprocess
import time
import uuid

import pytest
import requests

from helpers.dataplane import HAVE_TOOLS
from helpers.server import Server, wait_for
from trunkline.agent.ovs import daemon
from trunkline.lab import host as labhost
from trunkline.lab import vm as labvm
from trunkline.lab.state import LabState

needs_multihost = pytest.mark.skipif(
    os.geteuid() != 0 or not HAVE_TOOLS or not shutil.which("tcpdump"),
    reason="needs root, iproute2, Open vSwitch and tcpdump")


class MultiHost:
    def __init__(self):
        self.tag = uuid.uuid4().hex[:6]
        self.root = "/run/tlmh-" + self.tag
        os.makedirs(self.root)
        os.chmod(self.root, 0o755)      # dnsmasq (nobody) reads the DHCP agent's files below
        self.lab_dir = os.path.join(self.root, "lab")
        self.server = None
        try:
            self.server = Server("sqlite:///" + os.path.join(self.root, "trunkline.db"))
        except Exception:
            shutil.rmtree(self.root, ignore_errors=True)
            raise
        self.url = self.server.url
        self.http = requests.Session()

    # -- hosts ---------------------------------------------------------------------------------
    def add_host(self, name, driver="ovs", dhcp=False, physnet=None, tunnel_types=None,
                 arp_responder=False, vxlan_group=None):
        """A lab host whose agent is alive; returns its record (``tunnel_ip``, ``netns``,
        ``rundir``, ``ul_dev``, ...)."""
        return labhost.add_host(name, driver=driver, endpoint=self.url, dhcp=dhcp,
                                physnet=physnet, tunnel_types=tunnel_types,
                                arp_responder=arp_responder, vxlan_group=vxlan_group,
                                state_dir=self.lab_dir)

    def host(self, name):
        return LabState(self.lab_dir).host(name)

    def del_host(self, name):
        return labhost.del_host(name, state_dir=self.lab_dir)

    def restart_agent(self, name):
        return labhost.restart_agent(name, state_dir=self.lab_dir)

    def ovs(self, name):
        """The OvsInstance of an ovs host (vsctl/ofctl against its private OVS)."""
        rec = self.host(name)
        return daemon.OvsInstance(rec["rundir"], netns=rec["netns"])

    def agent_log(self, name):
        with open(labhost.log_path(self.host(name)), errors="replace") as f:
            return f.read()

    # -- the API -------------------------------------------------------------------------------
    def api(self, method, path, body=None, ok=None):
        r = self.http.request(method, self.url + "/v2.0" + path, json=body, timeout=30)
        data = r.json() if r.content else None
        if ok is not None:
            assert r.status_code == ok, (method, path, r.status_code, data)
        return r.status_code, data

    def create(self, member, **attrs):
        return self.api("POST", "/%ss" % member, {member: attrs}, ok=201)[1][member]

    def get(self, member, item_id):
        return self.api("GET", "/%ss/%s" % (member, item_id), ok=200)[1][member]

    def update(self, member, item_id, **attrs):
        return self.api("PUT", "/%ss/%s" % (member, item_id), {member: attrs}, ok=200)[1][member]

    def state(self, host):
        r = self.http.get(self.url + "/agent/v1/hosts/%s/state" % host, timeout=30)
        assert r.status_code == 200, r.text
        return r.json()

    def wait_port(self, port_id, status="ACTIVE", timeout=30):
        return wait_for(lambda: self.get("port", port_id)["status"] == status, timeout,
                        "port %s to be %s" % (port_id, status))

    # -- VMs -----------------------------------------------------------------------------------
    def vm(self, name, port, host):
        """Plug lab VM ``<tag>-NAME`` for PORT (name or id) on lab host HOST; returns its
        name for vm_exec/labvm."""
        full = "%s-%s" % (self.tag, name)
        labvm.create_vm(self.url, full, port, host=host, state_dir=self.lab_dir)
        return full

    def vm_exec(self, vm, *argv, timeout=60, check=False):
        r = subprocess.run(labvm.exec_argv(vm, list(argv), state_dir=self.lab_dir),
                           capture_output=True, text=True, timeout=timeout)
        if check:
            assert r.returncode == 0, (argv, r.stdout, r.stderr)
        return r

    def vm_netns(self, vm):
        return labvm.netns_name(vm)

    def ping(self, vm, ip, count=1, wait=1, dev=None):
        argv = ["ping", "-n", "-c", str(count), "-i", "0.2", "-W", str(wait)]
        if dev:
            argv += ["-I", dev]
        return self.vm_exec(vm, *argv, ip).returncode == 0

    def lease(self, vm, dev="eth0"):
        """Run dhclient once on DEV inside VM; returns the leased address."""
        self.vm_exec(vm, "dhclient", "-1", dev, timeout=60, check=True)
        out = self.vm_exec(vm, "ip", "-4", "-o", "addr", "show", "dev", dev, check=True).stdout
        m = re.search(r"inet (\d+\.\d+\.\d+\.\d+)/", out)
        assert m, "no lease on %s: %s" % (dev, out)
        return m.group(1)

    # -- the underlay --------------------------------------------------------------------------
    def sniff(self, host, bpf="", seconds=3.0, during=None, nic="ul_dev"):
        """tcpdump on HOST's underlay link (its ``ulN`` end in the underlay namespace; nic=
        "ph_dev" for the physical one) for SECONDS while ``during()`` runs; returns the
        decoded lines."""
        rec = self.host(host)
        argv = ["ip", "netns", "exec", rec["underlay_ns"], "tcpdump", "-l", "-n", "-e",
                "-i", rec[nic]] + ([bpf] if bpf else [])
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, start_new_session=True)
        try:
            time.sleep(0.8)                 # tcpdump is listening
            if during is not None:
                during()
            time.sleep(seconds)
        finally:
            os.killpg(proc.pid, signal.SIGINT)
            try:
                out, _ = proc.communicate(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                out, _ = proc.communicate()
        return out.splitlines()

    # -- cleanup -------------------------------------------------------------------------------
    def close(self):
        try:
            labvm.down(self.url, state_dir=self.lab_dir)
        except Exception:
            pass
        try:
            labhost.down(self.lab_dir)
        finally:
            if self.server is not None:
                self.server.stop()
            shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture
def multihost():
    mh = MultiHost()
    try:
        yield mh
    finally:
        mh.close()




# -- helpers the multi-host tests share ------------------------------------------------------

def ip_of(port):
    return port["fixed_ips"][0]["ip_address"]


def vxlan_net(mh, name, cidr, ntype="vxlan"):
    """A tunnel network (vxlan or gre) with one IPv4 subnet, as the API shows it now."""
    net = mh.create("network", name=name, **{"provider:network_type": ntype})
    mh.create("subnet", network_id=net["id"], cidr=cidr, ip_version=4, name="sub-" + name)
    return mh.get("network", net["id"])


def provider_nets(mh, flat_cidr, vlan_cidr, physnet="physnet1", vlan_id=100):
    """(flat, vlan): a flat and a VLAN provider network on ``physnet``, each with a subnet."""
    flat = mh.create("network", name="flat", **{"provider:network_type": "flat",
                                                 "provider:physical_network": physnet})
    mh.create("subnet", network_id=flat["id"], cidr=flat_cidr, ip_version=4)
    vlan = mh.create("network", name="vlan", **{"provider:network_type": "vlan",
                                                 "provider:physical_network": physnet,
                                                 "provider:segmentation_id": vlan_id})
    mh.create("subnet", network_id=vlan["id"], cidr=vlan_cidr, ip_version=4)
    return flat, vlan


def static_vm(mh, name, port, host):
    """A lab VM with its port's fixed IP configured by hand (no DHCP host needed)."""
    vm = mh.vm(name, port["id"], host)
    mh.vm_exec(vm, "ip", "addr", "add", ip_of(port) + "/24", "dev", "eth0", check=True)
    return vm
