"""The acceptance scenario with real packets: `trunkline demo` runs the seed walkthrough on an
isolated stack (server, private Open vSwitch in its own namespace, agent with DHCP, a lab VM),
and must show three leases and the seed's tcpdump lines with `vlan 1`, then leave nothing."""
import os
import re
import subprocess
import sys

TRUNKLINE = os.path.join(os.path.dirname(sys.executable), "trunkline")


def _namespaces():
    """The namespaces of the kinds the demo makes (its switch's host, DHCP, the lab VM); other
    tests on the machine may come and go with their own prefixes meanwhile."""
    try:
        names = os.listdir("/run/netns")
    except FileNotFoundError:
        names = []
    return {n for n in names if n.startswith(("tlhost-", "qdhcp-", "tlvm-"))}


def _pids(name):
    # zombies excluded: a stopped daemon is reparented to PID 1, which may reap it later
    r = subprocess.run(["pgrep", "-x", "-r", "R,S,D,I,T,t", name], capture_output=True,
                       text=True)
    return set(r.stdout.split())


def test_demo_seed_walkthrough_with_real_packets():
    before_ns, before_dnsmasq = _namespaces(), _pids("dnsmasq")
    r = subprocess.run([TRUNKLINE, "demo"], capture_output=True, text=True, timeout=300)
    out = r.stdout
    assert r.returncode == 0, out[-3000:] + r.stderr[-2000:]
    # the trunk went ACTIVE once the VM was plugged
    assert re.search(r"\| status\s+\| ACTIVE", out)
    # eth0, eth0.1 and eth0.2 leased from their networks' dnsmasq
    assert re.search(r"^eth0@\S+\s+UP\s+10\.0\.4\.\d+/24", out, re.M)
    assert re.search(r"^eth0\.1@\S+\s+UP\s+10\.0\.5\.\d+/24", out, re.M)
    assert re.search(r"^eth0\.2@\S+\s+UP\s+10\.0\.6\.\d+/24", out, re.M)
    assert "3 packets transmitted, 3 received, 0% packet loss" in out
    # the seed's capture: tagged both ways on the VM's tap
    tagged = [line for line in out.splitlines()
              if "ethertype 802.1Q (0x8100), length 102: vlan 1, p 0, ethertype IPv4" in line]
    assert any("ICMP echo request" in line for line in tagged)
    assert any("ICMP echo reply" in line for line in tagged)
    # nothing left behind
    assert not _namespaces() - before_ns
    assert _pids("dnsmasq") <= before_dnsmasq
    assert not [d for d in os.listdir("/tmp") if d.startswith("trunkline-demo-")]
