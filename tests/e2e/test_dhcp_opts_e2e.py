"""A port's extra DHCP options end to end: server, agent with DHCP, dnsmasq and a lab VM's real
dhclient. The options reach the VM's lease (option 26 by number, domain-search with its
commas, bootfile-name and tftp-server), an update changes the lease, a null value removes the
option from it; the dnsmasq files carry them in Neutron's format (`set:port-<id>` on the host
line, `tag:port-<id>,...` lines in opts), and dnsmasq survives the changes."""
import glob
import os
import re
import shutil
import time

import pytest

from helpers.server import running_stack, wait_for
from helpers.e2e import Env
from helpers.dataplane import needs_root_ovs
from trunkline.lab import vm as labvm

pytestmark = [needs_root_ovs,
              pytest.mark.skipif(not all(shutil.which(t) for t in ("dnsmasq", "dhclient")),
                                 reason="needs dnsmasq and dhclient")]


def opt(name, value, version=4):
    return {"opt_name": name, "opt_value": value, "ip_version": version}


@pytest.fixture(scope="module")
def env():
    with running_stack(Env, "tl-edo") as e:
        e.nets["net0"] = e.create("network", name="edo")["id"]
        e.subnets["net0"] = e.create("subnet", network_id=e.nets["net0"], cidr="10.0.21.0/24",
                                     ip_version=4)["id"]
        e.ports["vm"] = e.create("port", network_id=e.nets["net0"], extra_dhcp_opts=[
            opt("26", "1400"), opt("domain-search", "a.test,b.test"),
            opt("bootfile-name", "pxelinux.0"), opt("tftp-server", "10.0.21.5"),
            opt("bootfile-name", "ignored-v6", 6)])     # the port has no IPv6 address
        # the DHCP port goes ACTIVE once the agent has wired it: br-int is there for the VM
        e.record_dhcp_port("net0")
        labvm.create_vm(e.stack.url, e.vm, e.ports["vm"]["id"], host=e.stack.host,
                        state_dir=e.lab_dir)
        yield e


def _conf(env, name):
    path = os.path.join(env.stack.state_dir, "agent", "dhcp", env.nets["net0"], name)
    with open(path) as f:
        return f.read().splitlines()


def _dnsmasq_serves(env):
    """The network's dnsmasq (its pid file's process) runs and keeps running: dnsmasq
    2.86-2.90 segfaults on SIGHUP re-reading a hosts file with `set:` tags, so the agent
    restarts it instead, and the next renewal must not find it dead."""
    def running():
        try:
            pid = int(_conf(env, "pid")[0])
            with open("/proc/%d/stat" % pid) as f:
                return f.read().split(")")[-1].split()[0] != "Z" and pid
        except (FileNotFoundError, IndexError, ValueError):
            return False
    pid = wait_for(running, 15, what="dnsmasq running")
    time.sleep(1)       # a SIGHUP'd dnsmasq crashed within milliseconds
    return running() == pid


def _last_lease(env):
    """The newest lease block of the VM's eth0 lease file."""
    [path] = glob.glob(os.path.join(env.lab_dir, "**", "dhclient.eth0.leases"), recursive=True)
    with open(path) as f:
        return f.read().rsplit("lease {", 1)[-1]


def _renew(env):
    """Stop the VM's dhclient (no release) and start it again: it asks for its address again
    (INIT-REBOOT) and the answer carries the port's current options."""
    env.guest("dhclient", "-x", "eth0", timeout=40)
    assert env.lease("eth0") == env.ports["vm"]["fixed_ips"][0]["ip_address"]
    return _last_lease(env)


def test_options_reach_the_lease(env):
    port = env.ports["vm"]
    tag = "tag:port-" + port["id"]
    wait_for(lambda: tag + ",26,1400" in _conf(env, "opts"), 30, what="the port's options")
    opts = _conf(env, "opts")
    assert [l for l in opts if l.startswith(tag)] == [
        tag + ",26,1400", tag + ",option:bootfile-name,pxelinux.0",
        tag + ",option:domain-search,a.test,b.test", tag + ",option:tftp-server,10.0.21.5"]
    ip = port["fixed_ips"][0]["ip_address"]
    assert "%s,host-%s.openstacklocal,%s,set:port-%s" % (
        port["mac_address"], ip.replace(".", "-"), ip, port["id"]) in _conf(env, "host")
    lease = _renew(env)
    assert "option interface-mtu 1400;" in lease
    assert 'option domain-search "a.test.", "b.test.";' in lease
    assert 'filename "pxelinux.0";' in lease
    assert 'server-name "10.0.21.5";' in lease      # dnsmasq puts tftp-server in sname
    assert "1400" in env.guest("cat", "/sys/class/net/eth0/mtu", check=True).stdout


def test_update_changes_and_null_removes(env):
    port = env.ports["vm"]
    status, body = env.api("PUT", "/ports/" + port["id"], {"port": {"extra_dhcp_opts": [
        opt("26", "1300"), {"opt_name": "domain-search", "opt_value": None}]}})
    assert status == 200, body
    tag = "tag:port-" + port["id"]
    wait_for(lambda: tag + ",26,1300" in _conf(env, "opts"), 30, what="the updated options")
    assert _dnsmasq_serves(env)
    assert not any("domain-search" in line for line in _conf(env, "opts"))
    lease = _renew(env)
    assert "option interface-mtu 1300;" in lease
    assert "domain-search" not in lease
    assert 'filename "pxelinux.0";' in lease
    # all options removed: no tag on the host line, no line in opts
    gone = [{"opt_name": name, "opt_value": None}
            for name in ("26", "bootfile-name", "tftp-server")]
    gone.append({"opt_name": "bootfile-name", "opt_value": None, "ip_version": 6})
    env.api("PUT", "/ports/" + port["id"], {"port": {"extra_dhcp_opts": gone}}, ok=200)
    wait_for(lambda: not any(l.startswith(tag) for l in _conf(env, "opts")), 30,
             what="the options to go")
    assert _dnsmasq_serves(env)
    assert not any(re.search(",set:port-", l) for l in _conf(env, "host"))
    lease = _renew(env)
    assert "interface-mtu 1300" not in lease and "pxelinux.0" not in lease
