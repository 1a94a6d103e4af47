"""``trunkline up`` as a user runs it — the real command in a private network namespace — stopped,
killed and started again: SIGTERM leaves nothing outside its state directory; after a SIGKILL the
next ``up`` reclaims what the killed one left and a lab VM on a trunk gets a DHCP lease over
its VLAN; ``trunkline down`` removes what a killed up left; two ``up`` in one namespace: the
second refuses; ``lab down`` with the stack gone exits 0 and leaves nothing; ``up`` whose agent
cannot create its datapath exits non-zero with the reason; ``doctor`` is all OK on a healthy
stack and finds each fault it claims (dnsmasq killed, a stray qdhcp- namespace, ovs-vswitchd
stopped)."""
import json
import os
import re
import shutil
import signal
import time
import uuid

import pytest

from helpers.dataplane import needs_root_ovs
from helpers.upns import NOTHING, UpNamespace, until
from trunkline.agent import netns as nsutil
from trunkline.ops import doctor, record
from trunkline.stack import Stack, StackError

pytestmark = needs_root_ovs


@pytest.fixture
def ns():
    n = UpNamespace()
    yield n
    n.close()


def _network(ns, name, cidr):
    net = ns.osc("network create " + name)
    ns.osc("subnet create --network %s --subnet-range %s %s-sub" % (name, cidr, name))
    return net["id"]


def _dhcp_active(ns, net_id):
    ports = ns.api("/v2.0/ports?device_owner=network:dhcp&network_id=" + net_id)["ports"]
    return bool(ports) and ports[0]["status"] == "ACTIVE"


def _dnsmasq_pid(state_dir, net_id):
    with open(os.path.join(state_dir, "agent", "dhcp", net_id, "pid")) as f:
        return int(f.read())


def test_sigterm_leaves_nothing_outside_the_state_dir(ns):
    up = ns.up()
    net = _network(ns, "net0", "10.0.4.0/24")
    until(lambda: _dhcp_active(ns, net), 40, "net0's DHCP port ACTIVE")
    running = ns.leftovers(net_ids=[net])
    # what the issue saw left behind exists while the stack runs
    assert any("dnsmasq" in p for p in running["processes"]), running
    assert running["namespaces"] == ["qdhcp-" + net]
    assert "ovs-netdev" in running["devices"] and "br-int" in running["devices"]
    assert any(d.startswith("tap") for d in running["devices"]), running
    assert running["files"], running        # the namespace's lock

    assert up.stop(signal.SIGTERM) == 0, up.output()
    assert ns.leftovers(net_ids=[net]) == NOTHING
    assert "stack.json" not in os.listdir(up.state_dir)


def test_sigkill_then_up_reclaims_and_a_trunk_vm_gets_its_lease(ns):
    first = ns.up()
    net0 = _network(ns, "net0", "10.0.4.0/24")
    net1 = _network(ns, "net1", "10.0.5.0/24")
    ns.osc("port create --network net0 trunkparent")
    sub1 = ns.osc("port create --network net1 subport1")
    ns.osc("network trunk create --parent-port trunkparent "
           "--subport port=subport1,segmentation-type=vlan,segmentation-id=1 mytrunk")
    until(lambda: _dhcp_active(ns, net1), 40, "net1's DHCP port ACTIVE")
    old_dnsmasq = _dnsmasq_pid(first.state_dir, net1)
    first.stop(signal.SIGKILL)
    assert os.path.exists("/proc/%d" % old_dnsmasq)        # what a kill leaves running

    second = ns.up()
    out = second.output()
    assert re.search(r"reclaimed what an earlier run \(pid %d\) left in %s: .*server pid .*"
                     r"dnsmasq.*qdhcp- namespace.*ovs-vswitchd.*ovsdb-server.*ovs-netdev"
                     % (first.proc.pid, re.escape(first.state_dir)), out), out
    assert not record.is_running(old_dnsmasq, ["dnsmasq"]) and not record.cmdline(old_dnsmasq)

    vm = ns.name + "-vm"
    r = ns.lab("vm", "create", vm, "--port", "trunkparent")
    assert r.returncode == 0, r.stderr
    r = ns.lab("vm", "vlan", vm, "--vid", "1", "--mac", sub1["mac_address"])
    assert r.returncode == 0, r.stderr
    r = ns.lab("vm", "exec", vm, "--", "dhclient", "-1", "eth0.1", timeout=60)
    assert r.returncode == 0, r.stderr
    r = ns.lab("vm", "exec", vm, "--", "ip", "-4", "-o", "addr", "show", "dev", "eth0.1")
    assert sub1["fixed_ips"][0]["ip_address"] in r.stdout, r.stdout
    for port in ("trunkparent", "subport1"):
        until(lambda: ns.osc("port show " + port)["status"] == "ACTIVE", 30, port + " ACTIVE")
    until(lambda: ns.osc("network trunk show mytrunk")["status"] == "ACTIVE", 30,
          "mytrunk ACTIVE")

    assert ns.lab("down").returncode == 0
    assert second.stop() == 0, second.output()
    assert ns.leftovers(net_ids=[net0, net1]) == NOTHING


def test_down_after_sigkill_leaves_nothing(ns):
    up = ns.up()
    net = _network(ns, "net0", "10.0.4.0/24")
    until(lambda: _dhcp_active(ns, net), 40, "net0's DHCP port ACTIVE")
    up.stop(signal.SIGKILL)
    assert ns.leftovers(net_ids=[net])["processes"]
    r = ns.run("trunkline", "down", "--state-dir", up.state_dir)
    assert r.returncode == 0, r.stderr
    assert "removed agent pid" in r.stdout and "1 dnsmasq" in r.stdout, r.stdout
    assert ns.leftovers(net_ids=[net]) == NOTHING
    r = ns.run("trunkline", "down", "--state-dir", up.state_dir)
    assert r.returncode == 0 and "nothing left" in r.stdout, r.stdout


def test_down_stops_a_live_up(ns):
    up = ns.up()
    r = ns.run("trunkline", "down", "--state-dir", up.state_dir)
    assert r.returncode == 0, r.stderr
    assert "stopping trunkline up (pid %d)" % up.proc.pid in r.stdout, r.stdout
    assert up.proc.wait(10) == 0
    assert ns.leftovers() == NOTHING


def test_second_up_in_the_namespace_refuses(ns):
    first = ns.up()
    t0 = time.monotonic()
    r = ns.run("trunkline", "up", "--state-dir", ns.state_dir("other"), timeout=60)
    assert r.returncode == 1
    assert ("another `trunkline up` (pid %d, state directory %s) runs in this network namespace"
            % (first.proc.pid, first.state_dir)) in r.stderr, r.stderr
    assert time.monotonic() - t0 < 15        # at once: no server, no switch started
    assert not os.path.exists(os.path.join(ns.state_dir("other"), "ovs"))
    r = ns.run("trunkline", "up", "--state-dir", first.state_dir, timeout=60)
    assert r.returncode == 1 and "another `trunkline up`" in r.stderr, r.stderr
    assert first.proc.poll() is None        # the first one carries on
    assert ns.run("trunkline", "doctor", "--state-dir", first.state_dir).returncode == 0


def test_lab_down_with_the_stack_gone(ns):
    up = ns.up()
    ns.osc("network create net0")
    ns.osc("subnet create --network net0 --subnet-range 10.0.4.0/24 sub0")
    port = ns.osc("port create --network net0 vmport")
    vm = ns.name + "-vm"
    r = ns.lab("vm", "create", vm, "--port", "vmport")
    assert r.returncode == 0, r.stderr
    tap = "tap" + port["id"][:11]
    assert tap in nsutil.links(ns.name)
    up.stop(signal.SIGKILL)
    assert ns.run("trunkline", "down", "--state-dir", up.state_dir).returncode == 0

    r = ns.lab("down")
    assert r.returncode == 0, r.stderr
    assert "removed %s" % vm in r.stdout
    assert "could not be reached" in r.stderr and "cannot reach the trunkline API" in r.stderr
    assert not nsutil.exists("tlvm-" + vm)
    assert tap not in nsutil.links(ns.name)
    with open(os.path.join(ns.lab_dir, "state.json")) as f:
        assert json.load(f)["vms"] == {}
    r = ns.lab("down")
    assert r.returncode == 0 and "nothing" in r.stdout, (r.stdout, r.stderr)
    assert ns.leftovers() == NOTHING


def test_up_whose_datapath_cannot_be_created_says_why():
    """An isolated stack whose agent asks for the kernel datapath on a machine without the
    openvswitch module: br-int is never created, the agent's passes fail, and start() gives up
    with the agent's own error instead of saying "ready"."""
    if os.path.exists("/sys/module/openvswitch"):
        pytest.skip("the kernel datapath works here")
    root = "/run/tl-dp-" + uuid.uuid4().hex[:6]
    lines = []
    stack = Stack(os.path.join(root, "stack"), isolated=True, log=lines.append,
                  agent_args=["--datapath-type", "system"])
    try:
        with pytest.raises(StackError) as err:
            stack.start(timeout=20)
        assert "the agent's first successful pass; its passes fail since" in str(err.value)
        assert "br-int" in str(err.value)
        assert not any(line.startswith("ready") for line in lines), lines
        assert any("its pass failed" in line for line in lines), lines
        assert not nsutil.exists(stack.netns)
    finally:
        stack.stop()
        shutil.rmtree(root, ignore_errors=True)


def _doctor(ns, up):
    r = ns.run("trunkline", "doctor", "--state-dir", up.state_dir, "-f", "json")
    return r.returncode, json.loads(r.stdout)


def _failing(rows):
    return {(row["check"], row["detail"]) for row in rows if row["status"] == "FAIL"}


def test_doctor_healthy_then_each_fault(ns):
    up = ns.up()
    net = _network(ns, "net0", "10.0.4.0/24")
    until(lambda: _dhcp_active(ns, net), 40, "net0's DHCP port ACTIVE")
    until(lambda: not _failing(_doctor(ns, up)[1]), 20, "doctor all OK")
    code, rows = _doctor(ns, up)
    assert code == 0 and _failing(rows) == set(), rows
    checks = {row["check"]: row["status"] for row in rows}
    assert checks["up"] == checks["server"] == checks["agent"] == "OK"
    assert checks["agent last pass"] == checks["ovs-vswitchd"] == checks["datapath"] == "OK"
    assert checks["dhcp " + net] == "OK" and checks["strays"] == "OK"
    r = ns.run("trunkline", "doctor", "--state-dir", up.state_dir)
    assert r.returncode == 0 and r.stdout.startswith("CHECK"), r.stdout

    stray = "qdhcp-" + str(uuid.uuid4())
    nsutil.add(stray)
    try:
        time.sleep(doctor.NS_MIN_AGE + 0.5)     # not one an agent is filling right now
        # (the agent's next pass, up to 30 s away, would start it again)
        os.kill(_dnsmasq_pid(up.state_dir, net), signal.SIGKILL)
        code, rows = _doctor(ns, up)
        assert code == 1
        failing = _failing(rows)
        assert ("dhcp " + net, "dnsmasq is not running") in failing, rows
        assert ("strays", "namespace %s has no owner" % stray) in failing, rows
        assert all(row["fix"] for row in rows if row["status"] == "FAIL"), rows
    finally:
        nsutil.delete(stray)

    with open(os.path.join(up.state_dir, "ovs", "ovs-vswitchd.pid")) as f:
        os.kill(int(f.read()), signal.SIGTERM)
    until(lambda: any(c == "ovs-vswitchd" for c, _ in _failing(_doctor(ns, up)[1])), 20,
          "doctor to see ovs-vswitchd stopped")
    # the agent's next pass fails and it says so in its heartbeat, which doctor shows
    until(lambda: "agent last pass" in {c for c, _ in _failing(_doctor(ns, up)[1])}, 45,
          "the agent to report its failing pass")
    agent = [a for a in ns.api("/v2.0/agents?agent_type=Open%20vSwitch%20agent")["agents"]][0]
    last = agent["configurations"]["last_pass"]
    assert last["ok"] is False and "br-int.mgmt" in last["error"] and last["failing_since"]
    assert up.stop() == 0
    assert ns.leftovers(net_ids=[net]) == NOTHING
