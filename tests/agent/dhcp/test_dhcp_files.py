"""The DHCP agent's writer of ports' extra DHCP options (agent/dhcp/options.py, files.py):
Neutron's formats, and values no API would let through (they could come from an older or
another server, or a database edited by hand) never add, break or share a line: each unsafe
option is left out and logged, the others are written. The option names dnsmasq knows come
from the installed dnsmasq itself."""
import logging
import re
import shutil

import pytest

from trunkline.agent.dhcp import files, options

PID = "0b7c5c4e-1d6f-4f43-9c0e-2b8f6a1d9e01"
SUB4, SUB6 = "5f0e7a6c-1111-4222-8333-444455556666", "6a1b2c3d-1111-4222-8333-444455556666"
SUBNETS = [{"id": SUB4, "cidr": "10.0.0.0/24", "ip_version": 4, "gateway_ip": "10.0.0.1",
            "enable_dhcp": True},
           {"id": SUB6, "cidr": "fd00::/64", "ip_version": 6, "gateway_ip": "fd00::1",
            "enable_dhcp": True, "ipv6_address_mode": "dhcpv6-stateful"}]
TAG = "tag:port-" + PID
# the names a dnsmasq knows (tests of the real list: below, and the e2e tests)
KNOWN = {4: frozenset({"mtu", "router", "bootfile-name", "domain-search", "domain-name",
                       "tftp-server"}), 6: frozenset({"bootfile-url", "dns-server"})}
LINE = re.compile(r"^tag:port-[0-9a-f-]{36}(,tag:!?[A-Za-z0-9_.-]+)*,(option6?:[A-Za-z0-9+-]+|"
                  r"\d+)(,[^\x00-\x1f\x7f\"\u2028\u2029]*)?$")


def port(*opts, v6=False):
    fixed = [{"subnet_id": SUB4, "ip_address": "10.0.0.5"}]
    if v6:
        fixed.append({"subnet_id": SUB6, "ip_address": "fd00::5"})
    return {"id": PID, "mac_address": "fa:16:3e:00:00:05", "device_owner": "compute:nova",
            "fixed_ips": fixed, "extra_dhcp_opts": [
                {"opt_name": n, "opt_value": v, "ip_version": ver} for n, v, ver in opts]}


def port_lines(p):
    return [l for l in files.opts_lines(SUBNETS, [p], KNOWN) if l.startswith(TAG)]


@pytest.mark.skipif(not shutil.which("dnsmasq"), reason="needs dnsmasq")
def test_known_names_come_from_dnsmasq():
    known = options.known_names()
    assert {"mtu", "router", "bootfile-name", "tftp-server", "domain-search"} <= known[4]
    assert {"dns-server", "domain-search", "bootfile-url"} <= known[6]


def test_neutron_formats():
    p = port(("mtu", "1400", 4), ("26", "1400", 4), ("bootfile-url", "http://x/y", 6),
             ("23", "fd00::53", 6), ("router", "", 4), ("tag:ipxe,bootfile-name", "a.ipxe", 4),
             ("tag:!ipxe,tag:x,67", "undionly.kpxe", 4), ("domain-search", "a.test,b.test", 4),
             v6=True)
    assert port_lines(p) == [
        TAG + ",option:mtu,1400", TAG + ",26,1400", TAG + ",option6:bootfile-url,http://x/y",
        TAG + ",option6:23,fd00::53", TAG + ",option:router",
        TAG + ",tag:ipxe,option:bootfile-name,a.ipxe", TAG + ",tag:!ipxe,tag:x,67,undionly.kpxe",
        TAG + ",option:domain-search,a.test,b.test"]
    assert files.host_lines([p], SUBNETS) == [
        "fa:16:3e:00:00:05,host-10-0-0-5.openstacklocal,10.0.0.5,set:port-" + PID,
        "fa:16:3e:00:00:05,host-fd00--5.openstacklocal,[fd00::5],set:port-" + PID]


def test_options_of_a_version_the_port_lacks_are_not_written():
    assert port_lines(port(("bootfile-url", "http://x", 6), ("mtu", "1400", 4))) == [
        TAG + ",option:mtu,1400"]


def test_client_id_goes_to_the_host_line():
    only = port(("client-id", "01:fa:16:3e:00:00:05", 4))
    assert files.host_lines([only], SUBNETS[:1]) == [
        "fa:16:3e:00:00:05,id:01:fa:16:3e:00:00:05,host-10-0-0-5.openstacklocal,10.0.0.5"]
    assert port_lines(only) == []
    more = port(("61", "abc", 4), ("mtu", "1400", 4))
    assert files.host_lines([more], SUBNETS[:1]) == [
        "fa:16:3e:00:00:05,id:abc,host-10-0-0-5.openstacklocal,10.0.0.5,set:port-" + PID]


HOSTILE = [
    ("mtu", "1400\ntag:subnet-%s,option:router,6.6.6.6" % SUB4),   # a second line
    ("mtu", "1400\r6.6.6.6"), ("mtu", "14\x0000"), ("bootfile-name", "a\tb"),
    ("bootfile-name", "a\u2028b"), ("bootfile-name", "a\x85b"), ("bootfile-name", 'a"b'),
    ("bootfile-name", "\ud800"), ("bootfile-name", "x" * 2000), ("bootfile-name", None),
    ("bootfile-name", 5), ("no-such-option", "1"), ("mtu,tag:x", "1"), ("x,mtu", "1"),
    ("tag:a b,mtu", "1"), ("tag:x\n,mtu", "1"), ("tag:,mtu", "1"), ("0", "1"), ("255", "1"),
    ("9" * 5000, "1"),
    ("option:mtu", "1"), ("mtu\n", "1"), ("\u0662\u0666", "1"), ("", "1"),
]


def test_hostile_options_are_left_out_and_logged(caplog):
    caplog.set_level(logging.WARNING, logger="trunkline.agent.dhcp.options")
    p = port(*[(n, v, 4) for n, v in HOSTILE] + [("mtu", "1400", 4)])
    lines = files.opts_lines(SUBNETS, [p], KNOWN)
    assert [l for l in lines if l.startswith(TAG)] == [TAG + ",option:mtu,1400"]
    assert all(LINE.match(l) or l.startswith("tag:subnet-") for l in lines), lines
    text = "".join(l + "\n" for l in lines)
    assert text.count("\n") == len(lines) and "6.6.6.6" not in text
    assert len([r for r in caplog.records if "left out" in r.getMessage()]) == len(HOSTILE)


@pytest.mark.parametrize("value", ["a,b", "a b", "a\nb", 'a"b', "", None, "x" * 300])
def test_unsafe_client_id_is_left_out(value, caplog):
    p = port(("client-id", value, 4), ("mtu", "1400", 4))
    assert files.host_lines([p], SUBNETS[:1]) == [
        "fa:16:3e:00:00:05,host-10-0-0-5.openstacklocal,10.0.0.5,set:port-" + PID]
