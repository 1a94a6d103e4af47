"""docs/deploy.md ("two hosts from nothing") followed as far as these machines allow: no
systemd, one kernel. The server and the agent run the systemd units' own ``ExecStart`` lines
with the page's own Neutron files (addresses, passwords and paths replaced by the test's:
PostgreSQL, the suite's Keystone, a free port, a private Open vSwitch in a test namespace for
the agent, which gets ``--netns`` for it); each says ``READY=1`` on ``$NOTIFY_SOCKET``; the
``openstack`` CLI works through Keystone's catalog; the agent registers as alive with its
passes ok and serves DHCP for a new network."""
import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import uuid

import pytest

from helpers import keystone as ks
from helpers.dataplane import needs_root_ovs
from helpers.server import free_port, stop_group, wait_for
from trunkline.agent import netns as nsutil
from trunkline.agent.ovs import daemon

pytestmark = needs_root_ovs

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)


def _ini_blocks():
    """The page's INI files, in order: neutron.conf, ml2_conf.ini, openvswitch_agent.ini."""
    with open(os.path.join(REPO, "docs", "deploy.md")) as f:
        return re.findall(r"```ini\n(.*?)```", f.read(), re.S)


def _exec_start(unit):
    with open(os.path.join(REPO, "deploy", "systemd", unit)) as f:
        text = f.read().replace("\\\n", " ")
    line = next(l for l in text.splitlines() if l.startswith("ExecStart="))
    return shlex.split(line[len("ExecStart="):])


def _unit_value(unit, key):
    with open(os.path.join(REPO, "deploy", "systemd", unit)) as f:
        return next(l.split("=", 1)[1].strip() for l in f if l.startswith(key + "="))


class Notify:
    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.path = path

    def until_ready(self, timeout=90):
        self.sock.settimeout(timeout)
        while True:
            message = self.sock.recv(4096).decode()
            if "READY=1" in message.split("\n"):
                return message


@pytest.fixture(scope="module")
def keystone():
    k = ks.Keystone()
    yield k
    k.stop()


def test_two_hosts_from_nothing_as_far_as_one_machine_goes(keystone, postgres, tmp_path):
    neutron_conf, ml2_conf, ovs_conf = _ini_blocks()
    assert _unit_value("trunkline-server.service", "Type") == "notify"
    assert _unit_value("trunkline-agent.service", "Type") == "notify"
    assert _unit_value("trunkline-agent.service", "KillMode") == "process"
    port = free_port()
    url = "http://127.0.0.1:%d" % port
    files = {
        "/etc/neutron/neutron.conf": neutron_conf
        .replace("bind_host = 0.0.0.0", "bind_host = 127.0.0.1")
        .replace("bind_port = 9696", "bind_port = %d" % port)
        .replace("postgresql://trunkline:DB_SECRET@127.0.0.1:5432/trunkline",
                 postgres.new_database())
        .replace("http://controller:5000/v3", keystone.url)
        .replace("username = neutron", "username = trunkline")
        .replace("SERVICE_SECRET", ks.PASSWORD),
        "/etc/neutron/plugins/ml2/ml2_conf.ini": ml2_conf,
        "/etc/neutron/plugins/ml2/openvswitch_agent.ini": ovs_conf,
        "/etc/trunkline/agent-secret": uuid.uuid4().hex + "\n",
    }
    assert "DB_SECRET" not in files["/etc/neutron/neutron.conf"]
    local = {}
    for path, text in files.items():
        local[path] = str(tmp_path / os.path.basename(path))
        with open(local[path], "w") as f:
            f.write(text)

    def argv(unit, extra=()):
        out = []
        for word in _exec_start(unit):
            word = local.get(word, word)
            out.append(os.path.join(BIN, "trunkline") if word.endswith("/bin/trunkline")
                       else word.replace("http://controller:9696", url))
        return out + list(extra)

    host = "compute-" + uuid.uuid4().hex[:6]
    ns = "tld-" + uuid.uuid4().hex[:6]
    rundir = str(tmp_path / "ovs")
    procs, ovs = [], None
    keystone.add_network_endpoint(url)
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    try:
        notify = Notify(str(tmp_path / "server.notify"))
        procs.append(subprocess.Popen(
            argv("trunkline-server.service"), stdout=open(tmp_path / "server.log", "w"),
            stderr=subprocess.STDOUT, start_new_session=True,
            env=dict(env, NOTIFY_SOCKET=notify.path)))
        notify.until_ready()
        import requests
        assert requests.get(url + "/healthcheck", timeout=10).text == "OK"

        # the agent's host: its own namespace, a private switch and the page's local_ip in it
        nsutil.add(ns)
        nsutil.ip_batch(["link add tun0 type veth peer name tun0p", "link set tun0p up",
                         "addr add 192.0.2.11/24 dev tun0",
                         "link set tun0 up", "link set lo up"], netns=ns)
        ovs = daemon.start(rundir, netns=ns, system_id=host)
        notify_agent = Notify(str(tmp_path / "agent.notify"))
        procs.append(subprocess.Popen(
            argv("trunkline-agent.service", ["--host", host, "--netns", ns, "--ovs-rundir",
                                             rundir, "--datapath-type", "netdev",
                                             "--state-dir", str(tmp_path / "agent")]),
            stdout=open(tmp_path / "agent.log", "w"), stderr=subprocess.STDOUT,
            start_new_session=True, env=dict(env, NOTIFY_SOCKET=notify_agent.path)))
        assert notify_agent.until_ready() == "READY=1\nSTATUS=passes succeed"

        # the operator's CLI, through Keystone's catalog
        cli = dict(env, OS_AUTH_URL=keystone.url, OS_USERNAME="admin-a",
                   OS_PASSWORD=ks.PASSWORD, OS_PROJECT_NAME="proj-a",
                   OS_USER_DOMAIN_ID="default", OS_PROJECT_DOMAIN_ID="default",
                   OS_IDENTITY_API_VERSION="3", OS_INTERFACE="public")

        def osc(*args):
            fmt = [] if args[1] == "delete" else ["-f", "json"]
            r = subprocess.run([os.path.join(BIN, "openstack"), *args, *fmt],
                               env=cli, capture_output=True, text=True, timeout=120)
            assert r.returncode == 0, (args, r.stderr)
            return json.loads(r.stdout) if r.stdout.strip() else None

        agents = {(a["Agent Type"], a["Host"]): a for a in osc("network", "agent", "list")}
        assert agents[("Open vSwitch agent", host)]["Alive"] is True
        assert agents[("DHCP agent", host)]["Alive"] is True
        shown = osc("network", "agent", "show", agents[("Open vSwitch agent", host)]["ID"])
        configurations = shown["configuration"]
        assert configurations["last_pass"]["ok"] is True
        assert configurations["tunnel_ip"] == "192.0.2.11"
        assert configurations["tunnel_types"] == ["vxlan"]
        net = osc("network", "create", "deploy-net")
        assert net["provider:network_type"] == "vxlan"
        osc("subnet", "create", "--network", "deploy-net", "--subnet-range",
            "10.0.4.0/24", "deploy-sub")
        wait_for(lambda: [p for p in osc("port", "list", "--device-owner", "network:dhcp",
                                         "--network", net["id"], "--long")
                          if p["Status"] == "ACTIVE"], 60, what="the DHCP port ACTIVE")
        osc("network", "delete", net["id"])     # the agent removes its dnsmasq
        wait_for(lambda: not os.path.exists("/run/netns/qdhcp-" + net["id"]), 30,
                 what="the DHCP namespace to go")
    finally:
        for proc in reversed(procs):
            stop_group(proc)
        # a stopped agent leaves dnsmasq serving (as Neutron's DHCP agent): a failed run's go
        dhcp = tmp_path / "agent" / "dhcp"
        for net_dir in (dhcp.iterdir() if dhcp.is_dir() else ()):
            pid = net_dir / "pid"
            if pid.exists() and pid.read_text().strip().isdigit():
                try:
                    os.kill(int(pid.read_text()), signal.SIGTERM)
                except ProcessLookupError:
                    pass
            if nsutil.exists("qdhcp-" + net_dir.name):
                nsutil.delete("qdhcp-" + net_dir.name)
        if ovs is not None:
            ovs.stop()
        if nsutil.exists(ns):
            nsutil.delete(ns)
