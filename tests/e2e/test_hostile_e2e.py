"""Hostile text end to end: everything a user writes (names, descriptions, tags, device ids and
owners, binding profiles, DNS servers, host routes, address pairs, extra DHCP options) goes
through a running server and an agent with DHCP, and none of it reaches a device name, the
dnsmasq command line, a line of a dnsmasq file or OVSDB (a valid DHCP option's own line
aside); what may not be stored is refused with a 400 and changes
nothing; DHCP keeps working (real dhclient leases on the untagged port and a trunk VLAN).

Every hostile string carries the marker EVIL, so "none of it" is one search per artefact, on
top of the exact line formats dnsmasq files and arguments must have.
"""
import glob
import json
import os
import re
import shutil
import subprocess
import time

import pytest

from helpers.server import running_stack, wait_for
from helpers.e2e import Env
from helpers.dataplane import needs_root_ovs
from trunkline.agent import netns as nsutil
from trunkline.lab import vm as labvm

pytestmark = [needs_root_ovs,
              pytest.mark.skipif(not all(shutil.which(t) for t in ("dnsmasq", "dhclient", "ping")),
                                 reason="needs dnsmasq, dhclient and ping")]

MARK = "EVIL"
# printable (Neutron's rule for names): shell, dnsmasq and path metacharacters
NAME = MARK + ",tag:x;$(touch /tmp/tl-pwn) `id` | & > /etc/x 'q\" \\ %s dhcp-option=3 ../"
LONG_NAME = (NAME + "-" * 255)[:255]
# free text (descriptions, tags, device ids): newlines, tabs, bidi overrides, NUL-free
TEXT = MARK + "\nhost-record=evil,6.6.6.6\r\n\tdhcp-option=tag:x,3,6.6.6.6\u202e\u2028,;$(id)"
LONG_TEXT = (TEXT + "x" * 255)[:255]
ROUTES = [{"destination": "10.210.0.0/16", "nexthop": "10.0.9.254"}]
DNS = ["10.0.9.53", "10.0.9.54"]
# extra DHCP options the API stores (Neutron accepts them) but no dnsmasq line may hold: the
# agent leaves them out; the one good option is written
DHCP_OPTS = [
    {"opt_name": "bootfile-name", "opt_value": "pxelinux.0"},
    {"opt_name": MARK + "-no-such-option", "opt_value": "1"},
    {"opt_name": MARK + ",tag:x;$(touch /tmp/tl-pwn)", "opt_value": "1"},
    {"opt_name": "tag:" + MARK + " x,mtu", "opt_value": "1"},
    {"opt_name": "domain-name", "opt_value": MARK + "\tdhcp-option=3,6.6.6.6"},
    {"opt_name": "root-path", "opt_value": MARK + "\n"},   # one line to str.splitlines
    {"opt_name": "domain-search", "opt_value": MARK + '"x'},
    {"opt_name": "client-id", "opt_value": MARK + ",10.0.9.66"},
]


def _revision(env):
    return env.http.get(env.stack.url + "/agent/v1/hosts/hostile-nobody/state",
                        timeout=30).json()["revision"]


def _quiet(env, settle=2.0):
    """Wait until the agent has nothing left to report (no commit for ``settle`` s): its
    status reports move the global revision too."""
    def settled():
        before = _revision(env)
        time.sleep(settle)
        return _revision(env) == before
    wait_for(settled, 60, interval=0, what="the agent to settle")


def _refused(env, method, path, body=None, raw=None):
    """A hostile request that must be a 400 and change nothing."""
    before = _revision(env)
    if raw is not None:
        r = env.http.request(method, env.stack.url + "/v2.0" + path, data=raw, timeout=30,
                             headers={"Content-Type": "application/json"})
        status, data = r.status_code, r.json()
    else:
        status, data = env.api(method, path, body)
    assert status == 400, (path, status, data)
    assert set(data["NeutronError"]) == {"type", "message", "detail"}
    assert _revision(env) == before, (path, body)


@pytest.fixture(scope="module")
def env():
    with running_stack(Env, "tl-hostile") as e:
        for net, cidr in (("net0", "10.0.9.0/24"), ("net1", "10.0.10.0/24")):
            e.nets[net] = e.create("network", name=NAME, description=TEXT)["id"]
            e.subnets[net] = e.create(
                "subnet", network_id=e.nets[net], cidr=cidr, ip_version=4, name=LONG_NAME,
                description=LONG_TEXT, dns_nameservers=DNS if net == "net0" else [],
                host_routes=ROUTES if net == "net0" else [])["id"]
        # IPv6 with DHCPv6: its addresses go into dnsmasq's host file and command line
        e.subnets["v6"] = e.create("subnet", network_id=e.nets["net0"], cidr="fd00:9::/64",
                                   ip_version=6, ipv6_address_mode="dhcpv6-stateful",
                                   ipv6_ra_mode="dhcpv6-stateful", name=NAME)["id"]
        e.ports["parent"] = e.create("port", network_id=e.nets["net0"], name=LONG_NAME,
                                     description=TEXT, extra_dhcp_opts=DHCP_OPTS,
                                     allowed_address_pairs=[
                                         {"ip_address": "10.0.9.200"},
                                         {"ip_address": "10.0.99.0/24"}])
        e.ports["sub1"] = e.create("port", network_id=e.nets["net1"], name=NAME,
                                   description=LONG_TEXT)
        # a port nobody plugs, with free text in every field that takes it
        e.ports["other"] = e.create("port", network_id=e.nets["net0"], name=NAME,
                                    device_id=TEXT, device_owner=TEXT,
                                    **{"binding:profile": {TEXT: TEXT}})
        e.trunk = e.create("trunk", port_id=e.ports["parent"]["id"], name=LONG_NAME,
                           description=TEXT, sub_ports=[
                               {"port_id": e.ports["sub1"]["id"], "segmentation_type": "vlan",
                                "segmentation_id": 1}])["id"]
        for path in ["/networks/%s/tags" % e.nets["net0"], "/ports/%s/tags" % e.ports[
                "parent"]["id"], "/trunks/%s/tags" % e.trunk]:
            e.api("PUT", path, {"tags": [TEXT, LONG_TEXT] + ["%s-%d" % (MARK, i)
                                                            for i in range(48)]}, ok=200)
        labvm.create_vm(e.stack.url, e.vm, e.ports["parent"]["id"], host=e.stack.host,
                        state_dir=e.lab_dir)
        e.wait_trunk("ACTIVE", timeout=30)
        labvm.add_vm_vlan(e.vm, 1, mac=e.ports["sub1"]["mac_address"], state_dir=e.lab_dir)
        for net in ("net0", "net1"):
            e.record_dhcp_port(net)
        yield e


def test_hostile_values_that_may_not_be_stored_are_refused(env):
    _quiet(env)
    net, sub = env.nets["net0"], env.subnets["net0"]
    port = env.ports["parent"]["id"]
    for body in ({"name": TEXT}, {"name": " " + MARK}, {"name": MARK + "\u202e"},
                 {"name": "x" * 256}, {"description": "x" * 256}):
        _refused(env, "PUT", "/networks/" + net, {"network": body})
        _refused(env, "PUT", "/ports/" + port, {"port": body})
        _refused(env, "PUT", "/trunks/" + env.trunk, {"trunk": body})
    for dns in (["10.0.9.53\n" + MARK], ["fe80::1%" + MARK + "\ndhcp-option=3"],
                ["10.0.9.53,6.6.6.6"], ["$(id)"]):
        _refused(env, "PUT", "/subnets/" + sub, {"subnet": {"dns_nameservers": dns}})
    for route in ({"destination": "10.1.0.0/16\n" + MARK, "nexthop": "10.0.9.1"},
                  {"destination": "10.1.0.0/16", "nexthop": "10.0.9.1%" + MARK},
                  {"destination": "10.1.0.0/16,6.6.6.6", "nexthop": "10.0.9.1"},
                  {"destination": "fe80::%" + MARK + "/64", "nexthop": "fe80::1"}):
        _refused(env, "PUT", "/subnets/" + sub, {"subnet": {"host_routes": [route]}})
    for pair in ({"ip_address": "10.0.9.7%" + MARK}, {"ip_address": "fe80::%x\n" + MARK + "/64"},
                 {"ip_address": "10.0.9.7", "mac_address": MARK}):
        _refused(env, "PUT", "/ports/" + port, {"port": {"allowed_address_pairs": [pair]}})
    # Python's ipaddress takes any text after an IPv6 "%" (a scope id); netaddr, Neutron's
    # parser, refuses it: on an IPv6 subnet it would otherwise reach dnsmasq's host file
    v6 = env.subnets["v6"]
    for fixed in ({"ip_address": "10.0.9.7%" + MARK},
                  {"subnet_id": v6, "ip_address": "fd00:9::7%" + MARK + "\ndhcp-host=x"}):
        _refused(env, "PUT", "/ports/" + port, {"port": {"fixed_ips": [fixed]}})
        _refused(env, "POST", "/ports", {"port": {"network_id": net, "fixed_ips": [fixed]}})
    _refused(env, "PUT", "/subnets/" + v6, {"subnet": {"dns_nameservers": [
        "fd00:9::53%" + MARK]}})
    _refused(env, "PUT", "/subnets/" + v6, {"subnet": {"host_routes": [
        {"destination": "fd00:1::/64", "nexthop": "fd00:9::1%" + MARK}]}})
    _refused(env, "PUT", "/subnets/" + v6, {"subnet": {"gateway_ip": "fd00:9::1%" + MARK}})
    _refused(env, "PUT", "/ports/" + port, {"port": {"allowed_address_pairs": [
        {"ip_address": "fd00:9::8%" + MARK}]}})
    _refused(env, "POST", "/subnets", {"subnet": {"network_id": net, "ip_version": 6,
                                                  "cidr": "fd00::%" + MARK + "/64"}})
    _refused(env, "PUT", "/networks/%s/tags" % net, {"tags": [TEXT + "x" * 255]})
    _refused(env, "POST", "/networks", raw=b'{"network": {"name": "\xff' + MARK.encode() +
             b'\xc3\x28"}}')
    _refused(env, "PUT", "/ports/" + port, raw=b'{"port": {"description": "\xed\xa0\x80"}}')
    for value in (MARK + "\ntag:x,option:router,6.6.6.6", MARK + "\rx", MARK + "\u2028x",
                  MARK + "\x85x", MARK + "x" * 255, "", " "):
        _refused(env, "PUT", "/ports/" + port, {"port": {"extra_dhcp_opts": [
            {"opt_name": "bootfile-name", "opt_value": value}]}})
    for name in (MARK + "\nmtu", "x" * 65 + MARK, ""):
        _refused(env, "POST", "/ports", {"port": {"network_id": net, "extra_dhcp_opts": [
            {"opt_name": name, "opt_value": "1"}]}})
    for raw in (b'{"port": {"extra_dhcp_opts": [{"opt_name": "mtu", "opt_value": "\xff"}]}}',
                b'{"port": {"extra_dhcp_opts": [{"opt_name": "mtu", "opt_value": "\\ud800"}]}}',
                b'{"port": {"extra_dhcp_opts": [{"opt_name": "mtu", "opt_value": "1\\u0000"}]}}'):
        _refused(env, "PUT", "/ports/" + port, raw=raw)


def _dhcp_dirs(env):
    root = os.path.join(env.stack.state_dir, "agent", "dhcp")
    return {net: os.path.join(root, env.nets[net]) for net in ("net0", "net1")}


def test_dnsmasq_files_and_command_lines_hold_no_user_text(env):
    mac = r"([0-9a-f]{2}:){5}[0-9a-f]{2}"
    ip = r"(\d+\.\d+\.\d+\.\d+|[0-9a-f:]+)"
    host_re = re.compile(r"^%s,host-[0-9a-f-]+\.openstacklocal,(%s|\[%s\])"
                         r"(,set:port-[0-9a-f-]{36})?$" % (mac, ip, ip))
    addn_re = re.compile(r"^%s\thost-[0-9a-f-]+\.openstacklocal host-[0-9a-f-]+$" % ip)
    opt_re = re.compile(r"^tag:subnet-[0-9a-f-]{36},(option:[a-z-]+|249)(,[0-9./]+)*$")
    port_opt = "tag:port-%s,option:bootfile-name,pxelinux.0" % env.ports["parent"]["id"]
    for net, conf in _dhcp_dirs(env).items():
        wait_for(lambda: os.path.exists(os.path.join(conf, "pid")), 20, what="dnsmasq " + net)
        for name in ("host", "addn_hosts", "opts", "leases", "interface"):
            with open(os.path.join(conf, name), "rb") as f:
                data = f.read()
            assert MARK.encode() not in data, (name, data)
            assert all(0x20 <= b < 0x7f or b in b"\t\n" for b in data), (name, data)
        lines = open(os.path.join(conf, "host")).read().splitlines()
        assert lines and all(host_re.match(line) for line in lines), lines
        tagged = [line for line in lines if ",set:port-" in line]
        assert tagged == ([line for line in lines if line.startswith(
            env.ports["parent"]["mac_address"] + ",")] if net == "net0" else [])
        # the unplugged port with free text everywhere still gets a plain host line
        if net == "net0":
            other = env.ports["other"]
            assert any(line.startswith(other["mac_address"] + ",") for line in lines)
            assert any(line.endswith(",[%s]" % f["ip_address"]) for line in lines
                       for f in other["fixed_ips"] if ":" in f["ip_address"]), lines
        lines = open(os.path.join(conf, "addn_hosts")).read().splitlines()
        assert all(addn_re.match(line) for line in lines), lines
        opts = open(os.path.join(conf, "opts")).read().splitlines()
        if net == "net0":   # the parent's one good option; the hostile ones are left out
            assert opts.count(port_opt) == 1
            opts.remove(port_opt)
        assert opts and all(opt_re.match(line) for line in opts), opts
        if net == "net0":
            assert "tag:subnet-%s,option:dns-server,10.0.9.53,10.0.9.54" % env.subnets[
                "net0"] in opts
            assert "tag:subnet-%s,option:classless-static-route,10.210.0.0/16,10.0.9.254," \
                   "0.0.0.0/0,10.0.9.1" % env.subnets["net0"] in opts
        with open(os.path.join(conf, "pid")) as f:
            pid = int(f.read())
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            argv = f.read().split(b"\0")[:-1]
        assert argv[0].endswith(b"dnsmasq")
        for arg in argv[1:]:
            assert MARK.encode() not in arg
            assert re.match(rb"^--[a-z-]+(=[A-Za-z0-9_:,./=-]+)?$", arg), arg


def _ovsdb_tables(env):
    """The Bridge, Port and Interface tables as ovs-vsctl's JSON (one document per table)."""
    out = env.vsctl("--format=json", "--data=json", "list", "Bridge", "--", "list", "Port",
                    "--", "list", "Interface")
    decoder, pos, tables = json.JSONDecoder(), 0, []
    while out[pos:].strip():
        table, pos = decoder.raw_decode(out, pos + len(out[pos:]) - len(out[pos:].lstrip()))
        tables.append(table)
    assert len(tables) == 3, out
    return out, tables


def test_devices_and_ovsdb_hold_no_user_text(env):
    namespaces = [env.stack.netns, env.vm_netns()] + [
        "qdhcp-" + env.nets[n] for n in ("net0", "net1")]
    name_re = re.compile(r"^(lo|eth0(\.1p?)?|br-int|tbr-[0-9a-f-]{10}|(tap|ns-|tpi-|tpt-|spi-|"
                         r"spt-)[0-9a-f-]{11}|ovs-netdev|ovs-system)$")
    for ns in namespaces:
        links = nsutil.links(ns)
        assert links, ns
        for name in links:
            assert MARK not in name and name_re.match(name), (ns, name)
    text, tables = _ovsdb_tables(env)
    assert MARK not in text
    for rows in tables:
        names = [r[rows["headings"].index("name")] for r in rows["data"]]
        assert names and all(name_re.match(n) for n in names), names


def test_dhcp_still_serves_the_vm(env):
    assert env.lease("eth0") in [f["ip_address"] for f in env.ports["parent"]["fixed_ips"]]
    assert env.lease("eth0.1") == env.ports["sub1"]["fixed_ips"][0]["ip_address"]
    # the parent's good extra DHCP option reached the lease; its hostile ones did not
    [leases] = glob.glob(os.path.join(env.lab_dir, "**", "dhclient.eth0.leases"), recursive=True)
    with open(leases) as f:
        text = f.read()
    assert 'filename "pxelinux.0";' in text and MARK not in text
    assert env.ping("eth0", env.dhcp["net0"][0])
    assert env.ping("eth0.1", env.dhcp["net1"][0])
    # what was stored reads back unchanged (the API keeps the text, the data plane ignores it)
    net = env.api("GET", "/networks/" + env.nets["net0"], ok=200)[1]["network"]
    assert net["name"] == NAME and net["description"] == TEXT
    assert TEXT in net["tags"] and LONG_TEXT in net["tags"] and len(net["tags"]) == 50
    other = env.port(env.ports["other"]["id"])
    assert other["device_owner"] == TEXT and other["binding:profile"] == {TEXT: TEXT}
    stored = env.port(env.ports["parent"]["id"])["extra_dhcp_opts"]
    assert sorted((o["opt_name"], o["opt_value"]) for o in stored) == sorted(
        (o["opt_name"], o["opt_value"]) for o in DHCP_OPTS)
    assert subprocess.run(["test", "-e", "/tmp/tl-pwn"]).returncode != 0
