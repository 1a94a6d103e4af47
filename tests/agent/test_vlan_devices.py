"""agent/vlan.py: guest VLAN devices (real 8021q or the tc/BPF emulation) between two namespaces
joined by a veth.  Needs root, iproute2, tc and tcpdump; every namespace is private (unique
prefix) and removed afterwards, also on failure."""
import os
import shutil
import subprocess
import time
import uuid

import pytest

from trunkline.agent import vlan

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("tc"),
                                reason="needs root and iproute2's tc")


def sh(*argv, check=True):
    r = subprocess.run(argv, capture_output=True, text=True)
    if check and r.returncode:
        raise AssertionError("%s: %s" % (" ".join(argv), r.stderr))
    return r


@pytest.fixture
def pair():
    """Namespaces A and B whose eth0 ends are the two sides of one veth ("the wire")."""
    tag = uuid.uuid4().hex[:6]
    a, b = "tltva-" + tag, "tltvb-" + tag
    try:
        sh("ip", "netns", "add", a)
        sh("ip", "netns", "add", b)
        sh("ip", "-n", a, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0",
           "netns", b)
        for ns in (a, b):
            sh("ip", "-n", ns, "link", "set", "lo", "up")
            sh("ip", "-n", ns, "link", "set", "eth0", "up")
        yield a, b
    finally:
        for ns in (a, b):
            sh("ip", "netns", "del", ns, check=False)


def ping(ns, addr, dev=None):
    argv = ["ip", "netns", "exec", ns, "ping", "-c", "1", "-W", "1", "-q"]
    if dev:
        argv += ["-I", dev]
    return subprocess.run(argv + [addr], capture_output=True, text=True).returncode == 0


def links(ns):
    return sh("ip", "-n", ns, "-o", "link", "show").stdout


def bpffs_entries():
    if not os.path.isdir(vlan.BPFFS):
        return []
    return [e for e in os.listdir(vlan.BPFFS) if not e.endswith(".debug")]


def test_vlan_devices_tag_isolate_and_clean_up(pair):
    a, b = pair
    mode = vlan.add_vlan(a, "eth0", "eth0.5", 5, mac="fa:16:3e:00:05:01")
    vlan.add_vlan(b, "eth0", "eth0.5", 5)
    vlan.add_vlan(a, "eth0", "eth0.6", 6)
    assert mode == vlan.vlan_mode()
    sh("ip", "-n", a, "addr", "add", "10.77.5.1/24", "dev", "eth0.5")
    sh("ip", "-n", b, "addr", "add", "10.77.5.2/24", "dev", "eth0.5")
    sh("ip", "-n", a, "addr", "add", "10.77.6.1/24", "dev", "eth0.6")
    sh("ip", "-n", a, "addr", "add", "10.77.9.1/24", "dev", "eth0")
    sh("ip", "-n", b, "addr", "add", "10.77.9.2/24", "dev", "eth0")
    assert "fa:16:3e:00:05:01" in sh("ip", "-n", a, "link", "show", "eth0.5").stdout
    assert {v["name"]: v["vid"] for v in vlan.list_vlans(a)} == {"eth0.5": 5, "eth0.6": 6}

    # the wire carries 802.1Q vid 5; tcpdump on B's eth0 (G4: match both tag placements)
    cap = subprocess.Popen(["ip", "netns", "exec", b, "tcpdump", "-l", "-en", "-c", "2",
                            "--immediate-mode", "-i", "eth0", "icmp or (vlan and icmp)"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 5
        line = ""
        while "listening" not in line and time.time() < deadline:
            line = cap.stderr.readline()
        assert ping(a, "10.77.5.2", "eth0.5"), "ping over VLAN 5 failed"
        out, _ = cap.communicate(timeout=5)
    finally:
        if cap.poll() is None:
            cap.kill()
            cap.wait()
    assert "vlan 5" in out and "802.1Q" in out, out
    assert "10.77.5.1 > 10.77.5.2: ICMP echo request" in out, out

    # untagged traffic still reaches eth0 itself; VLAN 6 does not reach VLAN 5
    assert ping(a, "10.77.9.2", "eth0")
    sh("ip", "-n", a, "addr", "add", "10.77.5.3/24", "dev", "eth0.6")
    assert not ping(a, "10.77.5.2", "eth0.6"), "VLAN 6 leaked into VLAN 5"

    with pytest.raises(vlan.VlanError):
        vlan.add_vlan(a, "eth0", "eth0.5", 5)          # exists
    with pytest.raises(vlan.VlanError):
        vlan.add_vlan(a, "nosuch", "nosuch.7", 7)

    for ns, names in ((a, ("eth0.5", "eth0.6")), (b, ("eth0.5",))):
        for n in names:
            assert vlan.del_vlan(ns, n)
        assert not vlan.del_vlan(ns, names[0])          # idempotent
        assert "eth0." not in links(ns)
        assert "bpf" not in sh("tc", "-n", ns, "filter", "show", "dev", "eth0",
                               "ingress").stdout
    assert bpffs_entries() == []
    assert ping(a, "10.77.9.2", "eth0")                 # the wire itself is untouched


@pytest.mark.skipif(vlan.vlan_mode() != "bpf", reason="kernel has 8021q")
def test_host_side_trunk_device_on_a_bridge(pair):
    """The Linux-bridge trunk driver's use: a 15-character VLAN device on a tap, enslaved to a
    bridge (tc ingress runs before the bridge's rx handler)."""
    a, b = pair
    sh("ip", "-n", a, "link", "set", "eth0", "name", "tapb7d4c968-af")
    sh("ip", "-n", a, "link", "add", "brq1f2e3d4c-5b", "type", "bridge")
    name = "tapc7dd9ac2-73x"                            # 15 chars: peer gets a hashed name
    assert len(vlan.peer_name(name)) <= 15
    vlan.add_vlan(a, "tapb7d4c968-af", name, 1)
    sh("ip", "-n", a, "link", "set", name, "master", "brq1f2e3d4c-5b")
    sh("ip", "-n", a, "link", "set", "brq1f2e3d4c-5b", "up")
    sh("ip", "-n", a, "addr", "add", "10.77.1.2/24", "dev", "brq1f2e3d4c-5b")
    # B plays the guest: eth0.1 -> tag 1 on the tap -> untagged on the subport network's bridge
    vlan.add_vlan(b, "eth0", "eth0.1", 1)
    sh("ip", "-n", b, "addr", "add", "10.77.1.7/24", "dev", "eth0.1")
    assert ping(b, "10.77.1.2", "eth0.1")
    assert vlan.del_vlan(a, name)
    assert vlan.del_vlan(b, "eth0.1")
    assert vlan.peer_name(name) not in links(a)
    assert bpffs_entries() == []
