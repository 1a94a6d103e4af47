"""Test fixtures for the data plane: a private OVS inside a fresh network namespace, "VMs" as
namespaces with a veth plugged into a bridge (like os-vif), and cleanup that removes everything a
test created (namespaces, OVS daemons, run directories, processes) also when the test fails.

Every name starts with a unique prefix (`tl<6 hex>`); nothing outside those names is touched.
"""
import os
import shutil
import signal
import subprocess
import time
import uuid

import pytest

from trunkline.agent import netns as nsutil
from trunkline.agent.ovs import daemon

HAVE_TOOLS = all(shutil.which(t) for t in ("ovsdb-server", "ovs-vswitchd", "ovs-vsctl", "ip"))
needs_root_ovs = pytest.mark.skipif(os.geteuid() != 0 or not HAVE_TOOLS,
                                    reason="needs root, iproute2 and Open vSwitch binaries")


def sh(*argv, netns=None, check=True, timeout=30, input=None):
    return nsutil.run(list(argv), netns=netns, check=check, timeout=timeout, input=input)


class Lab:
    """A private OVS in namespace `<prefix>-sw` plus helpers; `close()` removes everything."""

    def __init__(self):
        self.prefix = "tl" + uuid.uuid4().hex[:6]
        self.sw = self.prefix + "-sw"
        self.rundir = "/run/" + self.prefix
        self.namespaces = [self.sw]
        self.pids = []          # processes a test started (killed at close)
        self.cleanups = []      # callables run first at close
        nsutil.add(self.sw)
        self.ovs = daemon.start(self.rundir, netns=self.sw, system_id=self.prefix)
        self.db = self.ovs.db

    def ns(self, name):
        full = "%s-%s" % (self.prefix, name)
        nsutil.add(full)
        self.namespaces.append(full)
        return full

    def track_ns(self, name):
        self.namespaces.append(name)

    def vsctl(self, *args):
        return self.ovs.vsctl(*args)

    def add_bridge(self, name):
        self.vsctl("--may-exist", "add-br", name, "--", "set", "Bridge", name,
                   "datapath_type=netdev")

    def plug_vm(self, bridge, vm, port_id, mac, cidr=None, mtu=1450, tap=None):
        """A VM = namespace `vm` whose eth0 is a veth; the host end tap<id[:11]> sits on bridge
        with Interface external_ids like os-vif sets them."""
        tap = tap or ("tap" + port_id)[:14]
        nsutil.ip(["link", "add", tap, "mtu", str(mtu), "type", "veth", "peer", "name", "eth0",
                   "mtu", str(mtu), "netns", vm], netns=self.sw)
        lines = ["link set eth0 address %s up" % mac]
        if cidr:
            lines.append("addr add %s dev eth0" % cidr)
        nsutil.ip_batch(lines, netns=vm)
        sh("ethtool", "-K", "eth0", "tx", "off", netns=vm)
        nsutil.ip(["link", "set", tap, "up"], netns=self.sw)
        self.vsctl("add-port", bridge, tap, "--", "set", "Interface", tap,
                   "external_ids:iface-id=" + port_id, "external_ids:attached-mac=" + mac,
                   "external_ids:iface-status=active")
        return tap

    def rows(self, table, columns):
        """[{col: value}] through the private ovsdb-server (python values)."""
        from trunkline.agent import ovsdb
        with ovsdb.Ovsdb(self.db) as db:
            return [{c: ovsdb.py(r[c]) for c in columns} for r in db.select(table, columns)]

    def ports(self):
        """{port name: {"tag", "vlan_mode", "other_config", "iface": {...}}} of every bridge."""
        from trunkline.agent import ovsdb
        with ovsdb.Ovsdb(self.db) as db:
            ifs = {r["_uuid"][1]: {"type": r["type"], "options": ovsdb.py(r["options"]),
                                   "external_ids": ovsdb.py(r["external_ids"])}
                   for r in db.select("Interface", ["_uuid", "type", "options", "external_ids"])}
            brs = {}
            for r in db.select("Bridge", ["name", "ports"]):
                p = ovsdb.py(r["ports"])
                for u in (p if isinstance(p, list) else [p]):
                    brs[u] = r["name"]
            res = {}
            for r in db.select("Port", ["_uuid", "name", "tag", "vlan_mode", "other_config",
                                        "interfaces"]):
                i = ovsdb.py(r["interfaces"])
                i = i[0] if isinstance(i, list) else i
                res[r["name"]] = {"tag": ovsdb.opt(r["tag"]), "vlan_mode": ovsdb.opt(r["vlan_mode"]),
                                  "other_config": ovsdb.py(r["other_config"]),
                                  "iface": ifs.get(i), "bridge": brs.get(r["_uuid"][1])}
            return res

    def close(self):
        for fn in reversed(self.cleanups):
            try:
                fn()
            except Exception:
                pass
        for pid in self.pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        try:
            self.ovs.stop()
        finally:
            for n in reversed(self.namespaces):
                nsutil.delete(n)
            shutil.rmtree(self.rundir, ignore_errors=True)


@pytest.fixture
def lab():
    lab = Lab()
    try:
        yield lab
    finally:
        lab.close()


def ping(netns, addr, count=1, timeout=2):
    p = subprocess.run(["ip", "netns", "exec", netns, "ping", "-c", str(count), "-W",
                        str(timeout), "-i", "0.2", addr], capture_output=True, text=True)
    return p.returncode == 0


def wait_for(fn, timeout=5.0, interval=0.05):
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v or time.monotonic() > deadline:
            return v
        time.sleep(interval)
