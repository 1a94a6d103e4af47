"""The end-to-end tests' environment: one isolated stack, its API client and a lab VM."""
import csv
import os
import re
import subprocess
import uuid

import requests

from helpers.server import wait_for
from trunkline.lab import vm as labvm
from trunkline.stack import Stack

NETS = {"net0": "10.0.4.0/24", "net1": "10.0.5.0/24", "net2": "10.0.6.0/24",
        "net3": "10.0.7.0/24"}



class Env:
    """The module's stack, API client, VM and the ids of what the module created."""

    def __init__(self, root):
        self.root = root
        self.stack = Stack(os.path.join(root, "stack"), isolated=True, log=lambda *_: None)
        self.lab_dir = os.path.join(root, "lab")
        self.vm = "e2e-" + uuid.uuid4().hex[:6]
        self.http = requests.Session()
        self.nets, self.subnets, self.ports = {}, {}, {}
        self.trunk = None
        self.dhcp = {}          # net name -> (ip, mac) of its DHCP port

    # -- API ------------------------------------------------------------------
    def api(self, method, path, body=None, ok=None):
        r = self.http.request(method, self.stack.url + "/v2.0" + path, json=body, timeout=30)
        data = r.json() if r.content else None
        if ok is not None:
            assert r.status_code == ok, (method, path, r.status_code, data)
        return r.status_code, data

    def create(self, member, **attrs):
        return self.api("POST", "/%ss" % member, {member: attrs}, ok=201)[1][member]

    def port(self, port_id):
        return self.api("GET", "/ports/" + port_id, ok=200)[1]["port"]

    def get_trunk(self):
        return self.api("GET", "/trunks/" + self.trunk, ok=200)[1]["trunk"]

    def wait_trunk(self, status, timeout=15):
        return wait_for(lambda: self.get_trunk()["status"] == status and self.get_trunk(),
                        timeout, what="trunk %s" % status)

    def dhcp_port(self, net):
        ports = self.api("GET", "/ports?device_owner=network:dhcp&network_id=" + self.nets[net],
                         ok=200)[1]["ports"]
        return ports[0] if ports and ports[0]["status"] == "ACTIVE" else None

    def record_dhcp_port(self, net):
        """Wait for NET's ACTIVE DHCP port; keep its (IPv4 address, MAC) in ``self.dhcp`` (the
        address to ping: a network may also have a DHCPv6 subnet, listed first or not)."""
        port = wait_for(lambda: self.dhcp_port(net), 30, what="DHCP port of " + net)
        ipv4 = [f["ip_address"] for f in port["fixed_ips"] if ":" not in f["ip_address"]]
        self.dhcp[net] = (ipv4[0], port["mac_address"])

    # -- OVS ------------------------------------------------------------------
    @property
    def ovsdb(self):
        return "unix:%s/ovs/db.sock" % self.stack.state_dir

    def vsctl(self, *args):
        r = subprocess.run(["ovs-vsctl", "--db=" + self.ovsdb, "--timeout=10"] + list(args),
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, r.stderr
        return r.stdout

    def bridges(self):
        return set(self.vsctl("list-br").split())

    def int_ports(self):
        return set(self.vsctl("list-ports", "br-int").split())

    def port_rows(self):
        """{port name: (tag, other_config)} of every OVS Port."""
        out = self.vsctl("--format=csv", "--data=bare", "--no-headings",
                         "--columns=name,tag,other_config", "list", "Port")
        rows = {}
        for line in out.splitlines():
            name, tag, oc = next(csv.reader([line]))
            rows[name] = (tag, oc)
        return rows

    # -- the guest ------------------------------------------------------------
    def guest(self, *argv, timeout=30, check=False):
        r = labvm.exec_vm(self.vm, list(argv), state_dir=self.lab_dir, capture_output=True,
                          text=True, timeout=timeout)
        if check:
            assert r.returncode == 0, (argv, r.stdout, r.stderr)
        return r

    def ping(self, dev, ip, count=1, wait=1):
        return self.guest("ping", "-n", "-c", str(count), "-i", "0.2", "-W", str(wait),
                          "-I", dev, ip).returncode == 0

    def lease(self, dev):
        self.guest("dhclient", "-1", dev, timeout=40, check=True)
        out = self.guest("ip", "-4", "-o", "addr", "show", "dev", dev, check=True).stdout
        m = re.search(r"inet (\d+\.\d+\.\d+\.\d+)/", out)
        assert m, "no lease on %s: %s" % (dev, out)
        return m.group(1)

    def vm_netns(self):
        return labvm.netns_name(self.vm)
