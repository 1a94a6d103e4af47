"""The README's ten-line tour as a user types it — its lines read from README.md and run by bash
in a private network namespace (``trunkline up &`` waits for its ``export`` line, as a user
does) — leaves a lease on the VM's VLAN and, after ``trunkline lab down; kill %1``, nothing
behind; then the live-subport scenario through ``trunkline up`` twenty times in a row: a new
network's port added to the running trunk, once ACTIVE its VLAN device in the VM, a lease within
20 s (the trunk's first live subport: 45 s, a known bug), the subport removed again."""
import json
import os
import re
import sqlite3
import subprocess

import pytest

from helpers.dataplane import needs_root_ovs
from helpers.upns import NOTHING, UpNamespace, until

pytestmark = needs_root_ovs

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ROUNDS = 20


@pytest.fixture
def ns():
    n = UpNamespace()
    yield n
    n.close()


def tour():
    """The tour's command lines, continuation lines joined."""
    with open(os.path.join(REPO, "README.md")) as f:
        text = f.read()
    block = text.split("## A ten-line tour", 1)[1].split("```", 2)[1]
    return [line for line in block.replace("\\\n", " ").splitlines() if line.strip()]


def test_readme_tour_verbatim(ns):
    lines = tour()
    assert lines[0].startswith("export PATH=$PWD/.venv/bin:$PATH")
    assert lines[1].startswith("trunkline up &")
    assert lines[-1].startswith("trunkline lab down; kill %1")
    # the user waits for the `export` line; the script does the same
    script = "\n".join(
        [lines[0],
         "trunkline up > $UP_OUT 2>&1 &",
         "until grep -q '^export OS_AUTH_TYPE' $UP_OUT; do kill -0 %1 || { cat $UP_OUT; "
         "exit 1; }; sleep 0.2; done"]
        + lines[2:] + ["wait %1 || true", "cat $UP_OUT"])
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    env.update(TRUNKLINE_STATE_DIR=ns.root, UP_OUT=os.path.join(ns.root, "up.out"))
    r = subprocess.run(ns.argv("bash", "-e", "-c", script), cwd=REPO, capture_output=True,
                       text=True, timeout=600, env=env)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert re.search(r"^eth0\.1@\S+\s+UP\s+10\.0\.5\.\d+/24", r.stdout, re.M), r.stdout
    assert "lab down: removed" in r.stdout
    db = sqlite3.connect(os.path.join(ns.root, "trunkline.db"))
    net_ids = [row[0] for row in db.execute("SELECT id FROM networks")]
    db.close()
    assert len(net_ids) == 2
    assert ns.leftovers(state_dirs=[ns.root], net_ids=net_ids) == NOTHING


def _rest(ns, method, path, body=None):
    argv = ["curl", "-s", "-X", method, "-H", "Content-Type: application/json",
            "-w", "\n%{http_code}", "http://127.0.0.1:9696/v2.0" + path]
    if body is not None:
        argv += ["-d", json.dumps(body)]
    r = ns.run(*argv)
    out, _, code = r.stdout.rpartition("\n")
    assert code.startswith("2"), (method, path, code, out)
    return json.loads(out) if out.strip() else None


def test_live_subports_twenty_times_in_a_row(ns):
    up = ns.up()
    net0 = ns.osc("network create net0")["id"]
    ns.osc("subnet create --network net0 --subnet-range 10.0.4.0/24 subnet0")
    ns.osc("port create --network net0 trunkparent")
    trunk = ns.osc("network trunk create --parent-port trunkparent mytrunk")
    vm = ns.name + "-vm"
    r = ns.lab("vm", "create", vm, "--port", "trunkparent")
    assert r.returncode == 0, r.stderr
    until(lambda: ns.osc("port show trunkparent")["status"] == "ACTIVE", 30, "parent ACTIVE")
    failures = []
    for i in range(ROUNDS):
        vid = 101 + i
        net = _rest(ns, "POST", "/networks", {"network": {"name": "live%d" % i}})["network"]
        _rest(ns, "POST", "/subnets", {"subnet": {
            "network_id": net["id"], "ip_version": 4, "cidr": "10.1.%d.0/24" % i}})
        port = _rest(ns, "POST", "/ports", {"port": {"network_id": net["id"]}})["port"]
        _rest(ns, "PUT", "/trunks/%s/add_subports" % trunk["id"], {"sub_ports": [
            {"port_id": port["id"], "segmentation_type": "vlan", "segmentation_id": vid}]})
        # as Nova waits for network-vif-plugged: the subport ACTIVE means frames pass
        until(lambda: _rest(ns, "GET", "/ports/" + port["id"])["port"]["status"] == "ACTIVE",
              45, "subport %d ACTIVE" % vid)
        r = ns.lab("vm", "vlan", vm, "--vid", str(vid), "--mac", port["mac_address"])
        assert r.returncode == 0, r.stderr
        # dhclient -1: one try, giving up after its timeout; the subport's lease must come
        # the trunk's first live subport sometimes waits for the agent's 30 s resync (a known
        # bug, not found yet): it gets until then; every later one gets 20 s
        r = ns.lab("vm", "exec", vm, "--", "timeout", "45" if i == 0 else "20", "dhclient",
                   "-1", "eth0.%d" % vid, timeout=90)
        addr = ns.lab("vm", "exec", vm, "--", "ip", "-4", "-o", "addr", "show", "dev",
                      "eth0.%d" % vid).stdout
        if r.returncode != 0 or port["fixed_ips"][0]["ip_address"] not in addr:
            failures.append((i, r.returncode, r.stderr[-300:], addr))
        ns.lab("vm", "exec", vm, "--", "dhclient", "-r", "eth0.%d" % vid)
        ns.lab("vm", "exec", vm, "--", "ip", "link", "del", "eth0.%d" % vid)
        _rest(ns, "PUT", "/trunks/%s/remove_subports" % trunk["id"],
              {"sub_ports": [{"port_id": port["id"]}]})
        _rest(ns, "DELETE", "/ports/" + port["id"])
        _rest(ns, "DELETE", "/networks/" + net["id"])
    assert failures == [], failures
    assert ns.lab("down").returncode == 0
    assert up.stop() == 0, up.output()
    assert ns.leftovers(net_ids=[net0]) == NOTHING
