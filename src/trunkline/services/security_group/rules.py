"""Security group rule validation without persistence, as Neutron's securitygroups_db judges a
rule (and a rule template) once its attributes are converted: the canonical forms (legacy IPv6
ICMP names, the whole port range as none), port ranges and ICMP type/code, the ethertype
against the remote prefix and the protocol, one remote at most, and the key two rules are
duplicates under (protocol name = number; 0.0.0.0/0 = ::/0 = none)."""
from __future__ import annotations

import ipaddress

from trunkline import exceptions as exc
from trunkline.definitions import security_groups as d

PORT_RANGE_MIN, PORT_RANGE_MAX = 1, 65535
PORT_PROTOCOL_NAMES = ("dccp", "sctp", "tcp", "udp", "udplite")
PORT_PROTOCOL_NUMBERS = (33, 132, 6, 17, 136)
ICMP_NUMBERS = (1, 58)
LEGACY_IPV6_ICMP = ("icmp", "icmpv6")
ALIASES = {"icmpv6": "ipv6-icmp"}
NUMBER_TO_NAME = {}
for _name, _number in d.PROTOCOLS.items():
    NUMBER_TO_NAME.setdefault(str(_number), ALIASES.get(_name, _name))
NUMBER_TO_NAME["0"] = "ip"
# protocols only IPv6 has (by name and by number)
IPV6_ONLY = ("ipv6-encap", "ipv6-frag", "ipv6-icmp", "icmpv6", "ipv6-nonxt", "ipv6-opts",
             "ipv6-route", "41", "44", "58", "59", "60", "43")
ANY_PREFIXES = ("0.0.0.0/0", "::/0", None)
KEY_ATTRS = ("direction", "ethertype", "port_range_max", "port_range_min", "protocol",
             "remote_group_id", "remote_address_group_id", "remote_ip_prefix",
             "security_group_id")


def protocol_number(protocol):
    """The IP protocol number of a rule's protocol (None: any)."""
    if protocol in (None, d.PROTOCOL_ANY):
        return None
    protocol = ALIASES.get(protocol, protocol)
    return int(d.PROTOCOLS.get(protocol, protocol))


def _name_and_number(protocol, ethertype):
    """[name, number] of a protocol, the same for its name and its number."""
    if protocol in (None, d.PROTOCOL_ANY):
        return None
    protocol = str(protocol)
    if ethertype == d.IPV6:
        if protocol in LEGACY_IPV6_ICMP:
            protocol = "ipv6-icmp"
        elif protocol == "1":
            protocol = "58"
    if protocol in d.PROTOCOLS:
        return [protocol, str(d.PROTOCOLS[protocol])]
    if protocol in NUMBER_TO_NAME:
        return [NUMBER_TO_NAME[protocol], protocol]
    return [protocol, protocol]


def validate(rule: dict) -> None:
    """Neutron's checks of a rule's (or template's) own attributes; makes ``rule`` canonical
    in place."""
    _canonical_ipv6_icmp(rule)
    if rule.get("port_range_min") == PORT_RANGE_MIN and \
            rule.get("port_range_max") == PORT_RANGE_MAX:
        rule["port_range_min"] = rule["port_range_max"] = None
    _port_range(rule)
    prefix = rule.get("remote_ip_prefix")
    if prefix:
        version = ipaddress.ip_interface(prefix).version
        if rule["ethertype"] != "IPv%d" % version:
            raise exc.SecurityGroupRuleParameterConflict(ethertype=rule["ethertype"],
                                                         cidr=prefix)
    if rule.get("protocol") in IPV6_ONLY and rule["ethertype"] == d.IPV4:
        raise exc.SecurityGroupEthertypeConflictWithProtocol(ethertype=rule["ethertype"],
                                                             protocol=rule["protocol"])
    if sum(1 for k in ("remote_ip_prefix", "remote_group_id", "remote_address_group_id")
           if rule.get(k)) > 1:
        raise exc.SecurityGroupMultipleRemoteEntites()
    if rule.get("remote_address_group_id"):
        raise d.AddressGroupNotFound(address_group_id=rule["remote_address_group_id"])


def _canonical_ipv6_icmp(rule):
    if rule.get("ethertype") == d.IPV6:
        if rule.get("protocol") in LEGACY_IPV6_ICMP:
            rule["protocol"] = "ipv6-icmp"
        elif rule.get("protocol") == "1":
            rule["protocol"] = "58"


def _port_range(rule):
    low, high = rule.get("port_range_min"), rule.get("port_range_max")
    if low is None and high is None:
        return
    if not rule.get("protocol"):
        raise exc.SecurityGroupProtocolRequiredWithPorts()
    number = protocol_number(rule["protocol"])
    if number in PORT_PROTOCOL_NUMBERS:
        if low == 0 or high == 0:
            raise exc.SecurityGroupInvalidPortValue(port=0)
        if low is None or high is None or low > high:
            raise exc.SecurityGroupInvalidPortRange()
    elif number in ICMP_NUMBERS:
        for attr, field in (("port_range_min", "type"), ("port_range_max", "code")):
            value = rule.get(attr)
            if value is not None and not 0 <= value <= 255:
                raise exc.SecurityGroupInvalidIcmpValue(field=field, attr=attr, value=value)
        if low is None and high is not None:
            raise exc.SecurityGroupMissingIcmpType(value=high)
    else:
        raise exc.SecurityGroupInvalidProtocolForPort(
            protocol=number, valid_port_protocols=", ".join(
                p.upper() for p in PORT_PROTOCOL_NAMES))


def key(rule) -> tuple:
    """What two rules are the same under (``rule``: a dict or a row)."""
    get = rule.get if isinstance(rule, dict) else lambda n: getattr(rule, n, None)

    def norm(name, value):
        if name == "remote_ip_prefix":
            return None if value in ANY_PREFIXES else str(value)
        if value is None:
            return None
        if name == "protocol":
            return str(_name_and_number(value, get("ethertype")))
        return str(value)
    return tuple(norm(name, get(name)) for name in KEY_ATTRS)


def check_duplicates(new: list, existing: list, in_post: type, exists: type) -> None:
    """Refuse two equal rules in one request (``in_post``) and a rule equal to one that
    exists (``exists``, naming it)."""
    keys = set()
    for rule in new:
        k = key(rule)
        if k in keys:
            raise in_post()
        keys.add(k)
    for row in existing:
        if key(row) in keys:
            raise exists(rule_id=row.id)
