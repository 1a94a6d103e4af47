"""`lab vm create --qemu`: the seed's trunk VM as a real guest kernel under QEMU, on a tap plugged
as Nova's libvirt driver + os-vif plug it, against a real stack (server, private Open vSwitch,
agent with DHCP).  One boot for the module: the guest leases eth0, eth0.1 and eth0.2 from dnsmasq
with the seed's own commands (real 8021q in the guest), pings answer, tcpdump on the tap shows
the tagged frames, and deleting the VM ends QEMU and leaves no tap behind."""
import contextlib
import io
import os
import re
import shutil
import subprocess
import threading

import pytest

from helpers.dataplane import needs_root_ovs
from helpers.e2e import Env
from helpers.server import running_stack, wait_for
from trunkline import names
from trunkline.cli import main as cli
from trunkline.lab import qemu
from trunkline.lab import vm as labvm
from trunkline.lab.state import LabState

pytestmark = [needs_root_ovs,
              pytest.mark.skipif(not all(shutil.which(t) for t in ("qemu-system-x86_64",
                                                                      "dnsmasq", "tcpdump")),
                                 reason="needs qemu-system-x86, dnsmasq and tcpdump "
                                        "(make install)"),
              pytest.mark.skipif(not os.path.exists("/bin/busybox"),
                                 reason="needs busybox-static (make install)")]

SEED_NETS = {"net0": "10.0.4.0/24", "net1": "10.0.5.0/24", "net2": "10.0.6.0/24",
             "net3": "10.0.7.0/24"}     # net3: the subport added live


@pytest.fixture(scope="module")
def env():
    with running_stack(Env, "tl-qemu") as e:
        for name, cidr in SEED_NETS.items():
            e.nets[name] = e.create("network", name=name)["id"]
            e.subnets[name] = e.create("subnet", network_id=e.nets[name], cidr=cidr,
                                       ip_version=4, name="sub-" + name)["id"]
        for name, net in (("parent", "net0"), ("sub1", "net1"), ("sub2", "net2"),
                          ("sub3", "net3")):
            e.ports[name] = e.create("port", network_id=e.nets[net], name=name)
        e.trunk = e.create("trunk", port_id=e.ports["parent"]["id"], name="qemu", sub_ports=[
            {"port_id": e.ports["sub%d" % vid]["id"], "segmentation_type": "vlan",
             "segmentation_id": vid} for vid in (1, 2)])["id"]
        # as if /dev/kvm were a usable KVM: where it is not (a PVM host, no KVM at all) QEMU
        # aborts or stays silent and the lab boots the guest again under TCG
        with pytest.MonkeyPatch.context() as mp:
            mp.delenv("TRUNKLINE_QEMU_ACCEL", raising=False)
            mp.setattr(qemu, "accel", lambda: "kvm")
            e.rec = labvm.create_vm(e.stack.url, e.vm, e.ports["parent"]["id"],
                                    host=e.stack.host, state_dir=e.lab_dir, use_qemu=True)
        e.wait_trunk("ACTIVE", timeout=60)
        for net in SEED_NETS:
            e.record_dhcp_port(net)
        yield e


def run_cli(*argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = cli.main(list(argv))
    return rc, out.getvalue(), err.getvalue()


def fixed_ip(env, name):
    return env.ports[name]["fixed_ips"][0]["ip_address"]


def test_failed_boot_leaves_nothing_and_unbinds(env, monkeypatch):
    """QEMU refusing to start (a bogus accelerator) is a LabError; the port is unbound again
    and no tap, state entry or process is left (the module's real VM is already up)."""
    port = env.ports["sub3"]
    monkeypatch.setenv("TRUNKLINE_QEMU_ACCEL", "no-such-accel")
    with pytest.raises(labvm.LabError, match="accelerator|no-such-accel"):
        labvm.create_vm(env.stack.url, "broken", port["id"], host=env.stack.host,
                        state_dir=env.lab_dir, use_qemu=True)
    assert "broken" not in LabState(env.lab_dir).vms()
    after = env.port(port["id"])
    assert after["binding:host_id"] == "" and after["device_id"] == ""
    links = subprocess.run(["ip", "-n", env.stack.netns, "-o", "link"], capture_output=True,
                           text=True, check=True).stdout
    assert names.tap(port["id"]) not in links


def test_guest_is_a_real_kernel_on_a_nova_style_tap(env):
    rec, tap = env.rec, names.tap(env.ports["parent"]["id"])
    assert rec["kind"] == "qemu" and rec["tap"] == tap and qemu.alive(rec)
    if os.path.exists("/sys/module/kvm_pvm") or not os.path.exists("/dev/kvm"):
        assert rec["accel"] == "tcg"        # the fallback: KVM cannot run this kernel here
    assert LabState(env.lab_dir).vm(env.vm)["qemu_pid"] == rec["qemu_pid"]
    with open(os.path.join(qemu.fetch_kernel(), "release")) as f:
        release = f.read().strip()
    assert env.guest("uname", "-r", check=True).stdout.strip() == release
    # the tap: a tun/tap device in the agent's namespace, MTU of the network, libvirt's MAC,
    # on the trunk's tbr- bridge with Nova's external_ids
    link = subprocess.run(["ip", "-n", env.stack.netns, "-d", "link", "show", tap],
                          capture_output=True, text=True, check=True).stdout
    assert "tun type tap" in link and "mtu 1450" in link
    assert qemu.tap_mac(rec["mac"]) in link
    tbr = names.trunk_bridge(env.trunk)
    assert tap in env.vsctl("list-ports", tbr).split()
    ext = env.vsctl("get", "Interface", tap, "external_ids")
    assert env.ports["parent"]["id"] in ext and rec["vm_uuid"] in ext
    # the guest's NIC carries the port's MAC and the network's MTU (virtio host_mtu)
    eth0 = env.guest("ip", "link", "show", "eth0", check=True).stdout
    assert rec["mac"] in eth0 and "mtu 1450" in eth0


def test_seed_commands_lease_all_three_devices(env):
    env.guest("ip", "link", "set", "eth0", "up", check=True)
    for vid in (1, 2):      # the seed's commands, verbatim, in the guest's own 8021q
        env.guest("ip", "link", "add", "link", "eth0", "name", "eth0.%d" % vid,
                  "type", "vlan", "id", str(vid), check=True)
        env.guest("ip", "link", "set", "eth0.%d" % vid, "address",
                  env.ports["sub%d" % vid]["mac_address"], check=True)
        env.guest("ip", "link", "set", "eth0.%d" % vid, "up", check=True)
    detail = env.guest("ip", "-d", "link", "show", "eth0.1", check=True).stdout
    assert "vlan protocol 802.1Q id 1" in detail
    for dev, port in (("eth0", "parent"), ("eth0.1", "sub1"), ("eth0.2", "sub2")):
        assert env.lease(dev) == fixed_ip(env, port), dev


def test_pings_answer_and_tap_shows_vlan_1(env):
    tap = names.tap(env.ports["parent"]["id"])
    cap = subprocess.Popen(["ip", "netns", "exec", env.stack.netns, "tcpdump", "-l", "-en",
                            "-c", "4", "-i", tap, "icmp or (vlan and icmp)"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    listening = threading.Event()
    threading.Thread(target=lambda: [listening.set() for line in cap.stderr
                                     if "listening" in line] and None, daemon=True).start()
    listening.wait(5)
    try:
        assert env.ping("eth0.1", env.dhcp["net1"][0], count=2, wait=3)
        out, _ = cap.communicate(timeout=15)
    finally:
        if cap.poll() is None:
            cap.kill()
            cap.wait()
    tagged = [line for line in out.splitlines()
              if re.search(r"ethertype 802\.1Q \(0x8100\), length \d+: vlan 1, p 0", line)]
    assert any("ICMP echo request" in line for line in tagged), out
    assert any("ICMP echo reply" in line for line in tagged), out
    assert env.ping("eth0.2", env.dhcp["net2"][0], wait=3)
    assert env.ping("eth0", env.dhcp["net0"][0], wait=3)


def test_subport_added_live_leases_on_a_new_vlan(env):
    sub3 = env.ports["sub3"]
    env.api("PUT", "/trunks/%s/add_subports" % env.trunk, {"sub_ports": [
        {"port_id": sub3["id"], "segmentation_type": "vlan", "segmentation_id": 3}]}, ok=200)
    env.wait_trunk("ACTIVE", timeout=60)
    labvm.add_vm_vlan(env.vm, 3, mac=sub3["mac_address"], state_dir=env.lab_dir)
    assert env.lease("eth0.3") == fixed_ip(env, "sub3")
    assert env.ping("eth0.3", env.dhcp["net3"][0], wait=3)
    listed = [v for v in labvm.list_vms(env.lab_dir) if v["name"] == env.vm]
    assert listed and listed[0]["present"] and listed[0]["kind"] == "qemu"
    # the CLI: output and exit status come through the serial channel
    common = ["--state-dir", env.lab_dir]
    rc, out, err = run_cli("lab", "vm", "exec", *common, env.vm, "--", "ip", "-4", "-o",
                           "addr", "show", "dev", "eth0.3")
    assert rc == 0 and fixed_ip(env, "sub3") in out, err
    rc, out, err = run_cli("lab", "vm", "exec", *common, env.vm, "--", "sh", "-c", "exit 7")
    assert rc == 7


def test_delete_ends_qemu_and_leaves_nothing(env):
    rec, tap = env.rec, names.tap(env.ports["parent"]["id"])
    assert labvm.delete_vm(env.vm, env.stack.url, state_dir=env.lab_dir) == []
    assert not qemu.alive(rec)
    links = subprocess.run(["ip", "-n", env.stack.netns, "-o", "link"], capture_output=True,
                           text=True, check=True).stdout
    assert tap not in links
    assert tap not in env.vsctl("show")
    assert LabState(env.lab_dir).vms() == {} and not os.path.exists(rec["run_dir"])
    port = wait_for(lambda: (lambda p: p if p["binding:host_id"] == "" else None)(
        env.port(env.ports["parent"]["id"])), 10, what="parent unbound")
    assert port["device_id"] == ""
