"""Converters and validators for request attributes, with neutron-lib's messages.

A converter turns the wire value into the stored type or raises InvalidInput; a validator
returns None when the value is fine, else the reason text the API wraps as
``Invalid input for <attr>. Reason: <reason>.``
"""
import ipaddress
import json
import re
import unicodedata
import uuid

from trunkline import exceptions as exc

MAC_RE = re.compile(r"^([0-9a-fA-F]{2}[:-]){5}[0-9a-fA-F]{2}$")
UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?"
                     r"[0-9a-fA-F]{12}$")
NAME_MAX = 255
DESCRIPTION_MAX = 255
MAX_VLAN = 4094
IP_SCHEMA = {"type": "string", "anyOf": [{"format": "ipv4"}, {"format": "ipv6"}]}


def described(schema):
    """Attach the JSON Schema of the values a converter or validator accepts (the OpenAPI
    document is generated from these, api/openapi.py)."""
    def attach(fn):
        fn.schema = schema
        return fn
    return attach


def _nullable(schema):
    return dict(schema, nullable=True)


# -- converters

TRUE_STRINGS = ("1", "t", "true", "on", "y", "yes")
FALSE_STRINGS = ("0", "f", "false", "off", "n", "no")


@described({"type": "boolean"})
def to_boolean(value):
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        if value.strip().lower() in TRUE_STRINGS:
            return True
        if value.strip().lower() in FALSE_STRINGS:
            return False
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise exc.InvalidInput(error_message="'%s' cannot be converted to boolean" % (value,))


@described({"type": "integer"})
def to_int(value):
    if isinstance(value, bool):
        raise exc.InvalidInput(error_message="'%s' is not an integer" % (value,))
    try:
        return int(value)
    except (ValueError, TypeError):
        raise exc.InvalidInput(error_message="'%s' is not an integer" % (value,))


INT64_MIN, INT64_MAX = -2 ** 63, 2 ** 63 - 1
INT32_MIN, INT32_MAX = -2 ** 31, 2 ** 31 - 1


def _filter_int(low, high):
    """An integer list filter for a column of that range: PostgreSQL refuses to compare an
    INTEGER column with a value beyond 32 bits, and beyond 64 bits no database will (SQLite
    raises OverflowError), so such a value is bad input, not a 500."""
    def convert(value):
        number = to_int(value)
        if not low <= number <= high:
            raise exc.InvalidInput(error_message="'%s' is out of range" % (value,))
        return number
    return convert


to_filter_int = _filter_int(INT64_MIN, INT64_MAX)      # BIGINT columns
to_filter_int32 = _filter_int(INT32_MIN, INT32_MAX)    # INTEGER columns


def to_int_or_none(value):
    return None if value is None else to_int(value)


@described({"type": "boolean", "nullable": True})
def to_boolean_or_none(value):
    return None if value is None else to_boolean(value)


def to_list(value):
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


def none_to_empty_list(value):
    return [] if value is None else value


def to_lower_mac(value):
    """Neutron reads an integer MAC as the 48-bit number it is (netaddr.EUI)."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2 ** 48:
        return ":".join("%02x" % b for b in value.to_bytes(6, "big"))
    return value.lower() if isinstance(value, str) else value


def to_cidr(value):
    """A subnet CIDR in canonical form; host bits are dropped as Neutron does."""
    try:
        if not isinstance(value, str) or "%" in value:
            raise ValueError  # an IPv6 scope id is no part of a subnet (netaddr refuses it)
        return str(ipaddress.ip_network(value, strict=False))
    except ValueError:
        raise exc.InvalidInput(error_message="%s is not in a CIDR format" % (value,))


@described({"type": "string", "nullable": True, "example": "10.0.0.0/24"})
def to_cidr_or_none(value):
    return None if value is None else to_cidr(value)


def to_pool_list(value):
    if value is None:
        return None
    if not isinstance(value, list):
        raise exc.InvalidInput(error_message="Invalid data format for allocation pools")
    return value


# -- validators (return a reason string or None)

def _string(value, max_len):
    if not isinstance(value, str):
        return "'%s' is not a valid string" % (value,)
    if len(value) > max_len:
        return "'%s' exceeds maximum length of %s" % (value, max_len)
    return None


def string(max_len=NAME_MAX):
    return described({"type": "string", "maxLength": max_len})(lambda v: _string(v, max_len))


def string_or_none(max_len=NAME_MAX):
    return described({"type": "string", "maxLength": max_len, "nullable": True})(
        lambda v: None if v is None else _string(v, max_len))


def _printable(char):
    """neutron-lib's printable: no control/format/unassigned character (category C*) and no
    line or paragraph separator (Z* other than the space separators Zs). Its name rule
    only knows the code points below U+FFFF; the others (emoji) are not printable to it."""
    category = unicodedata.category(char)
    return ord(char) < 0xFFFF and category[0] != "C" and (category[0] != "Z" or
                                                           category == "Zs")


def _valid_name(value):
    """Printable characters only, neither starting nor ending with a space: no newline,
    tab, NUL or bidi override can sit in a name."""
    if not value:
        return True
    if not all(_printable(c) for c in value):
        return False
    return unicodedata.category(value[0]) != "Zs" and unicodedata.category(value[-1]) != "Zs"


@described({"type": "string", "maxLength": NAME_MAX,
            "description": "printable characters, no leading or trailing space"})
def name_string(value):
    """neutron-lib's type:name_string (names of networks, subnets, ports, trunks)."""
    reason = _string(value, NAME_MAX)
    if reason is None and not _valid_name(value):
        reason = "'%s' is not a valid string" % (value,)
    return reason


@described({"type": "string", "maxLength": DESCRIPTION_MAX})
def description_string(value):
    return _string(value, DESCRIPTION_MAX)


def is_uuid(value):
    return isinstance(value, str) and bool(UUID_RE.match(value)) and _uuid_ok(value)


def _uuid_ok(value):
    try:
        uuid.UUID(value)
        return True
    except ValueError:
        return False


@described({"type": "string", "format": "uuid"})
def uuid_(value):
    if not is_uuid(value):
        return "'%s' is not a valid UUID" % (value,)
    return None


def values(allowed):
    @described({"enum": list(allowed)})
    def check(value):
        if value not in allowed:
            return "%s is not in valid_values" % (value,)
        return None
    return check


def values_or_none(allowed):
    check = values(allowed)
    return described({"enum": [a for a in allowed if a is not None], "nullable": True})(
        lambda v: None if v is None else check(v))


@described({"type": "integer", "minimum": 0, "nullable": True})
def non_negative_or_none(value):
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        return "'%s' is not an integer" % (value,)
    if value < 0:
        return "'%s' should be non-negative" % (value,)
    return None


MAC_SCHEMA = {"type": "string", "pattern": "^([0-9a-fA-F]{2}[:-]){5}[0-9a-fA-F]{2}$"}


@described(MAC_SCHEMA)
def mac_address(value):
    if not isinstance(value, str) or not MAC_RE.match(value):
        return "'%s' is not a valid MAC address" % (value,)
    octets = [int(x, 16) for x in re.split("[:-]", value)]
    if not any(octets):
        return "'%s' is not a valid MAC address" % (value,)
    return None


@described(_nullable(MAC_SCHEMA))
def mac_address_or_none(value):
    return None if value is None else mac_address(value)


@described(IP_SCHEMA)
def ip_address(value):
    """netaddr's rules: no prefix, and no IPv6 scope id (``fe80::1%eth0``), which Python's
    ipaddress accepts with any text after the ``%``."""
    try:
        if not isinstance(value, str) or "/" in value or "%" in value:
            raise ValueError
        ipaddress.ip_address(value)
    except ValueError:
        return "'%s' is not a valid IP address" % (value,)
    return None


@described(_nullable(IP_SCHEMA))
def ip_address_or_none(value):
    return None if value is None else ip_address(value)


def route_cidr(value):
    """A host route's destination (neutron-lib's route CIDR): a prefix with its host bits
    clear, no whitespace, not loopback."""
    try:
        if not isinstance(value, str) or "/" not in value or "%" in value or \
                re.search(r"\s", value):
            raise ValueError
        net = ipaddress.ip_network(value)   # strict: host bits set is an error
    except ValueError:
        return "'%s' is not a valid CIDR" % (value,)
    if net.is_loopback:
        return "'%s' is not a routable CIDR" % (value,)
    return None


@described({"type": "object", "nullable": True})
def dict_or_empty(value):
    if value in (None, ""):
        return None
    if not isinstance(value, dict):
        return "'%s' is not a dictionary" % (value,)
    return None


def list_of_unique_strings(max_len=NAME_MAX):
    @described({"type": "array", "uniqueItems": True,
                "items": {"type": "string", "maxLength": max_len}})
    def check(value):
        if not isinstance(value, list):
            return "'%s' is not a list" % (value,)
        for item in value:
            reason = _string(item, max_len)
            if reason:
                return reason
        if len(set(value)) != len(value):
            return "Duplicate items in the list: '%s'" % ", ".join(sorted(
                {v for v in value if value.count(v) > 1}))
        return None
    return check


@described({"type": "array", "uniqueItems": True, "items": IP_SCHEMA, "nullable": True})
def nameservers(value):
    if not isinstance(value, list):
        return "Invalid data format for nameserver: '%s'" % (value,)
    seen = []
    for ns in value:
        if ip_address(ns) is not None:
            return "'%s' is not a valid nameserver. '%s' is not a valid IP address" % (ns, ns)
        if ns in seen:
            return "Duplicate nameserver '%s'" % ns
        seen.append(ns)
    return None


def _keys(value, expected):
    """neutron-lib's dictionary key check; it prints Python sets (sorted here)."""
    if set(value) != expected:
        return "Validation of dictionary's keys failed. Expected keys: %s Provided keys: %s" % (
            _set_repr(expected), _set_repr(value))
    return None


def _set_repr(keys):
    return "{%s}" % ", ".join(repr(k) for k in sorted(keys))


@described({"type": "array", "nullable": True, "items": {
    "type": "object", "required": ["destination", "nexthop"], "additionalProperties": False,
    "properties": {"destination": {"type": "string", "example": "10.9.0.0/16"},
                   "nexthop": IP_SCHEMA}}})
def hostroutes(value):
    if not isinstance(value, list):
        return "Invalid data format for hostroute: '%s'" % (value,)
    seen = []
    for route in value:
        if not isinstance(route, dict):
            return "Invalid data format for hostroute: '%s'" % (route,)
        reason = _keys(route, {"destination", "nexthop"})
        if reason:
            return reason
        reason = route_cidr(route["destination"]) or ip_address(route["nexthop"])
        if reason:
            return reason
        if route in seen:
            return "Duplicate hostroute '%s'" % (route,)
        seen.append(route)
    return None


POOLS_SCHEMA = {"type": "array", "items": {
    "type": "object", "required": ["start", "end"], "additionalProperties": False,
    "properties": {"start": IP_SCHEMA, "end": IP_SCHEMA}}}


@described(POOLS_SCHEMA)
def allocation_pools(value):
    if not isinstance(value, list):
        return "Invalid data format for IP pool: '%s'" % (value,)
    for pool in value:
        if not isinstance(pool, dict):
            return "Invalid data format for IP pool: '%s'" % (pool,)
        reason = _keys(pool, {"start", "end"})
        if reason:
            return reason
        for key in ("start", "end"):
            reason = ip_address(pool[key])
            if reason:
                return reason
    return None


@described(_nullable(POOLS_SCHEMA))
def allocation_pools_or_none(value):
    return None if value is None else allocation_pools(value)


@described({"type": "array", "nullable": True, "items": {
    "type": "object", "additionalProperties": False,
    "properties": {"ip_address": IP_SCHEMA, "subnet_id": {"type": "string", "format": "uuid"}}}})
def fixed_ips(value):
    if not isinstance(value, list):
        return "Invalid data format for fixed IP: '%s'" % (value,)
    seen = set()
    for fixed in value:
        if not isinstance(fixed, dict):
            return "Invalid data format for fixed IP: '%s'" % (fixed,)
        if "ip_address" in fixed:
            reason = ip_address(fixed["ip_address"])
            if reason:
                return reason
            if fixed["ip_address"] in seen:
                return "Duplicate IP address '%s'" % fixed["ip_address"]
            seen.add(fixed["ip_address"])
        if "subnet_id" in fixed:
            reason = uuid_(fixed["subnet_id"])
            if reason:
                return reason
    return None


@described({"type": "array", "nullable": True, "items": {
    "type": "object", "required": ["ip_address"], "additionalProperties": False,
    "properties": {"ip_address": {"type": "string", "example": "10.0.0.0/24"},
                   "mac_address": MAC_SCHEMA}}})
def address_pairs(value):
    """Neutron raises its own errors here instead of returning a reason."""
    if not isinstance(value, list):
        raise exc.HTTPBadRequest("Allowed address pairs must be a list.")
    seen = set()
    for pair in value:
        if not isinstance(pair, dict):
            raise exc.HTTPBadRequest("Allowed address pairs must be a list.")
        if "ip_address" not in pair:
            raise exc.AllowedAddressPairsMissingIP()
        unknown = set(pair) - {"ip_address", "mac_address"}
        if unknown:
            return "Unrecognized attribute(s) '%s'" % ", ".join(sorted(unknown))
        ip = pair["ip_address"]
        if not isinstance(ip, str):
            return "'%s' is not a valid IP address" % (ip,)
        if "/" in ip:
            if not _is_net(ip):   # Neutron raises this one bare
                raise exc.HTTPBadRequest("'%s' is not a valid IP subnet" % (ip,))
        else:
            reason = ip_address(ip)
            if reason:
                return reason
        if "mac_address" in pair:
            reason = mac_address(pair["mac_address"])
            if reason:
                raise exc.HTTPBadRequest(reason)
        key = (ip, pair.get("mac_address"))
        if key in seen:
            return "Duplicate address detected"
        seen.add(key)
    return None


def _is_net(value):
    try:
        if "%" in value:
            raise ValueError
        ipaddress.ip_network(value, strict=False)
        return True
    except ValueError:
        return False


SUBPORTS_SCHEMA = {"type": "array", "maxItems": MAX_VLAN, "items": {
    "type": "object", "required": ["port_id"], "additionalProperties": False,
    "properties": {"port_id": {"type": "string", "format": "uuid"},
                   "segmentation_type": {"enum": ["vlan", "inherit"]},
                   "segmentation_id": {"type": "integer", "minimum": 1, "maximum": MAX_VLAN}}}}


@described(SUBPORTS_SCHEMA)
def subports(value):
    """neutron-lib's validate_subports, including its early return on ``inherit``."""
    if not isinstance(value, list):
        return "Invalid data format for subports: '%s' is not a list" % (value,)
    if len(value) > MAX_VLAN:
        # a trunk holds at most one subport per VLAN id, so no request needs more; refusing
        # before the per-item checks keeps a huge request cheap
        return "Too many subports in one request: %d (at most %d)" % (len(value), MAX_VLAN)
    seen_ports, seen_segs = set(), set()
    for sub in value:
        if not isinstance(sub, dict):
            return "Invalid data format for subport: '%s' is not a dict" % (sub,)
        if "port_id" not in sub:
            return "A valid port UUID must be specified"
        if not is_uuid(sub["port_id"]):
            return "Invalid UUID for subport: '%s'" % (sub["port_id"],)
        if sub["port_id"] in seen_ports:
            return "Non unique UUID for subport: '%s'" % sub["port_id"]
        seen_ports.add(sub["port_id"])
        if sub.get("segmentation_type") == "inherit":
            return None
        if len(sub) > 1:
            if not sub.get("segmentation_type") or sub.get("segmentation_id") is None:
                return "Invalid subport details '%s': missing segmentation information. " \
                       "Must specify both segmentation_id and segmentation_type" % (sub,)
            # a list or dict cannot be a set member (nor a segmentation): refuse it here with
            # the words the trunk rules use for it
            if isinstance(sub["segmentation_id"], (list, dict)):
                return "Invalid subport details: segmentation_id '%s' is not an integer" % (
                    sub["segmentation_id"],)
            if isinstance(sub["segmentation_type"], (list, dict)):
                return "Unknown segmentation_type '%s'" % (sub["segmentation_type"],)
            seg = (sub["segmentation_type"], sub["segmentation_id"])
            if seg in seen_segs:
                return "Segmentation ID '%(seg_id)s' for '%(subport)s' is not unique" % {
                    "seg_id": sub["segmentation_id"], "subport": sub["port_id"]}
            seen_segs.add(seg)
    return None


# -- extra_dhcp_opts (neutron-lib's api/definitions/extra_dhcp_opt.py)

DHCP_OPT_NAME_MAX = 64
DHCP_OPT_VALUE_MAX = 255
BLANK_DHCP_OPTS = ("router", "classless-static-route")   # may carry an empty value


def _oneline_not_empty(value, max_len):
    """neutron-lib's oneline_not_empty_string: a string, not blank, no line break (as
    str.splitlines sees them: \\n \\r \\v \\f \\x1c-\\x1e \\x85 \\u2028 \\u2029)."""
    reason = _string(value, max_len)
    if reason:
        return reason
    if not value.strip():
        return "'%s' Blank strings are not permitted" % value
    if len(value.splitlines()) > 1:
        return "Multi-line string is not allowed: '%s'" % value
    return None


def _dhcp_opt_specs():
    """The two key specs an option must match one of: (key, required, check) in the order
    neutron-lib checks the keys. A check returns a reason; ip_version converts first."""
    ip_version = ("ip_version", False, values((4, 6)))
    blank = [("opt_name", True, values(BLANK_DHCP_OPTS)),
             ("opt_value", True, lambda v: None if v is None else _string(v, DHCP_OPT_VALUE_MAX)),
             ip_version]
    other = [("opt_name", True, lambda v: _oneline_not_empty(v, DHCP_OPT_NAME_MAX)),
             ("opt_value", True, lambda v: None if v is None
              else _oneline_not_empty(v, DHCP_OPT_VALUE_MAX)),
             ip_version]
    return blank, other


_DHCP_OPT_SPECS = _dhcp_opt_specs()


def _matches(opt, spec):
    """neutron-lib's validate_dict with a key spec: required keys, no other keys, then each
    key in spec order (ip_version converted to int in place, a failed conversion raises)."""
    if not isinstance(opt, dict):
        return False
    keys = [k for k, _, _ in spec]
    if any(required and key not in opt for key, required, _ in spec):
        return False
    if any(k not in keys for k in opt):
        return False
    for key, _, check in spec:
        if key not in opt:
            continue
        if key == "ip_version":
            opt[key] = _dhcp_int(opt[key])
        if check(opt[key]):
            return False
    return True


def _dhcp_int(value):
    """neutron-lib's convert_to_int: Python's int() (so 4.7 is 4 and true is 1)."""
    try:
        return int(value)
    except (ValueError, TypeError):
        raise exc.InvalidInput(error_message="'%s' is not an integer" % (value,))


DHCP_OPTS_SCHEMA = {"type": "array", "nullable": True, "items": {
    "type": "object", "required": ["opt_name", "opt_value"], "additionalProperties": False,
    "properties": {
        "opt_name": {"type": "string", "minLength": 1, "maxLength": DHCP_OPT_NAME_MAX,
                     "example": "bootfile-name"},
        "opt_value": {"type": "string", "nullable": True, "maxLength": DHCP_OPT_VALUE_MAX,
                      "example": "pxelinux.0"},
        "ip_version": {"enum": [4, 6]}}}}


@described(DHCP_OPTS_SCHEMA)
def to_extra_dhcp_opts(value):
    """Validate a port's extra_dhcp_opts as neutron-lib's list_of_any_key_specs_or_none does
    (its errors raised, not returned) and return them as ``[{opt_name, opt_value,
    ip_version}]`` with ip_version an int, 4 when not given; None stays None."""
    if value is None:
        return None
    if not isinstance(value, list):
        raise exc.InvalidInput(error_message="'%s' is not a list" % (value,))
    # equal items by their canonical JSON (neutron-lib compares each with all before it,
    # quadratic in a list a 114 kB body can make thousands long)
    seen, dups = set(), {}
    for item in value:
        key = json.dumps(item, sort_keys=True)
        if key in seen:
            dups.setdefault(key, item)
        seen.add(key)
    if dups:
        raise exc.InvalidInput(error_message="Duplicate items in the list: '%s'" % ", ".join(
            str(d) for d in dups.values()))
    out = []
    for item in value:
        opt = dict(item) if isinstance(item, dict) else item
        if not any(_matches(opt, spec) for spec in _DHCP_OPT_SPECS):
            raise exc.InvalidInput(error_message="No valid key specs matched for: %s" % (opt,))
        out.append({"opt_name": opt["opt_name"], "opt_value": opt["opt_value"],
                    "ip_version": opt.get("ip_version", 4)})
    return out
