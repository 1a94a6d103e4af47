"""Property-based fuzzing of the live API (hypothesis): no input may produce a 5xx, every 4xx
answers a NeutronError body, and a refused request changes nothing.

Hostile JSON (nested, huge, unicode, control characters, NUL, floats, huge integers) goes in as
whole bodies, member bodies, and values of each known attribute on POST and PUT; trunk actions,
query strings, random paths and methods under /v2.0 and /agent/v1, raw non-JSON bodies and
If-Match headers are fuzzed too. Runs against the ``client`` fixture (SQLite and PostgreSQL).
"""
from urllib.parse import quote

import pytest
import requests
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from helpers.api import unlimited
from trunkline.definitions import (network, port, security_group, security_group_rule, subnet,
                                   trunk)

FUZZ = settings(max_examples=150, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow, HealthCheck.data_too_large])

RESOURCES = {"network": network, "subnet": subnet, "port": port, "trunk": trunk}

# -- strategies

HUGE_INTS = st.sampled_from([2 ** 31, 2 ** 31 - 1, -2 ** 31 - 1, 2 ** 32, 2 ** 63, 2 ** 63 - 1,
                             -2 ** 63 - 1, 2 ** 64, 10 ** 30, -10 ** 30, 4095, 4096, 0, 1, -1])
NASTY_STRINGS = st.sampled_from([
    "", " ", "\x00", "a\x00b", "\u0000", "\ud7ff", "\uffff", "\U0001f600", "x" * 256, "x" * 70000,
    "\u202e", "\r\n", "%00", "'; DROP TABLE ports; --", "null", "true", "1", "-1", "1e400",
    "10.0.0.1", "10.0.0.0/24", "::1", "fe80::/64", "0.0.0.0/0", "fa:16:3e:00:00:01",
    "00000000-0000-0000-0000-000000000000", "ffffffff-ffff-ffff-ffff-ffffffffffff", "vlan",
    "inherit", "normal", "slaac", "\\", "%s%s%(x)s", "{}", "[]"])
TEXT = st.one_of(st.text(max_size=40), NASTY_STRINGS,
                 st.text(max_size=4).map(lambda s: s * 300))
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), HUGE_INTS,
                    st.floats(allow_nan=False, allow_infinity=False), TEXT)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=5),
                            st.dictionaries(TEXT, inner, max_size=5)),
    max_leaves=20)


def attr_value(resource_name):
    """Random values for one known attribute, biased towards shapes that attribute expects."""
    attrs = sorted(RESOURCES[resource_name].attrs)
    shaped = st.one_of(
        JSON_VALUES,
        st.lists(st.dictionaries(st.sampled_from(
            ["ip_address", "subnet_id", "mac_address", "start", "end", "destination", "nexthop",
             "port_id", "segmentation_type", "segmentation_id"]), JSON_VALUES, max_size=4),
            max_size=3))
    return st.tuples(st.sampled_from(attrs), shaped)


# -- checks


def check(status, body, method="GET"):
    assert status < 500, (status, body)
    if 400 <= status < 500 and method != "HEAD":
        assert isinstance(body, dict) and set(body) == {"NeutronError"}, (status, body)
        err = body["NeutronError"]
        assert isinstance(err, dict) and {"type", "message", "detail"} <= set(err), body
        assert isinstance(err["type"], str) and isinstance(err["message"], str), body


def snapshot(client, *paths):
    out = []
    for path in paths:
        status, body = client.get(path)
        assert status == 200, (path, body)
        out.append(body)
    return out


def request(client, method, path, **kw):
    status, body = client.request(method, path, **kw)
    check(status, body, method)
    return status, body


# -- the world the fuzzed requests act on

@pytest.fixture(scope="module", autouse=True)
def no_quotas(client):
    """What the fuzzed creates make must not run into a quota: they fuzz the bodies."""
    unlimited(client, "network", "subnet", "port", "security_group", "security_group_rule")


@pytest.fixture(scope="module")
def world(client):
    net = client.create("network", name="fuzz-net")
    sub = client.create("subnet", network_id=net["id"], ip_version=4, cidr="10.77.0.0/24")
    parent = client.create("port", network_id=net["id"], name="fuzz-parent")
    child = client.create("port", network_id=net["id"], name="fuzz-child")
    spare = client.create("port", network_id=net["id"], name="fuzz-spare")
    tr = client.create("trunk", port_id=parent["id"], name="fuzz-trunk",
                       sub_ports=[{"port_id": child["id"], "segmentation_type": "vlan",
                                   "segmentation_id": 101}])
    return {"network": net, "subnet": sub, "port": spare, "parent": parent, "child": child,
            "trunk": tr}


ALL_LISTS = ("/networks", "/subnets", "/ports", "/trunks")
ALL_LISTS_BY_MEMBER = ("networks", "subnets", "ports", "trunks")
SG_LISTS = ALL_LISTS + ("/security-groups", "/security-group-rules")


def refused_changes_nothing(client, before_paths, fn):
    before = snapshot(client, *before_paths)
    status, body = fn()
    if status >= 400:
        assert snapshot(client, *before_paths) == before, (status, body)
    return status, body


# -- bodies


@FUZZ
@given(body=JSON_VALUES, collection=st.sampled_from(["networks", "subnets", "ports", "trunks"]),
       method=st.sampled_from(["POST", "PUT"]))
@example(body={"network": {"name": "a\x00b"}}, collection="networks", method="POST")
def test_whole_bodies(client, world, body, collection, method):
    member = collection[:-1]
    path = "/" + collection
    if method == "PUT":
        path += "/" + world[member]["id"]
    refused_changes_nothing(client, ALL_LISTS,
                            lambda: request(client, method, path, body=body))


@FUZZ
@given(value=JSON_VALUES, member=st.sampled_from(sorted(RESOURCES)),
       method=st.sampled_from(["POST", "PUT"]), bulk=st.booleans())
def test_member_bodies(client, world, value, member, method, bulk):
    path = "/%ss" % member
    if method == "PUT":
        path += "/" + world[member]["id"]
    body = {member + "s": [value, value]} if bulk else {member: value}
    refused_changes_nothing(client, ALL_LISTS,
                            lambda: request(client, method, path, body=body))


def _valid_base(member, world):
    """A body that would be accepted on POST, so the fuzzed attribute decides the outcome."""
    if member == "network":
        return {"name": "f"}
    if member == "subnet":
        return {"network_id": world["network"]["id"], "ip_version": 4, "cidr": "10.78.0.0/24"}
    if member == "port":
        return {"network_id": world["network"]["id"]}
    return {"port_id": world["port"]["id"]}


def _attr_test(client, world, member, name, value, method):
    path = "/%ss" % member
    if method == "PUT":
        path += "/" + world[member]["id"]
        body = {member: {name: value}}
    else:
        body = {member: dict(_valid_base(member, world), **{name: value})}
    status, created = refused_changes_nothing(
        client, ALL_LISTS, lambda: request(client, method, path, body=body))
    if method == "POST" and status == 201:
        # keep the world small and the spare port free for the next trunk
        check(*client.delete("/%ss/%s" % (member, created[member]["id"])))
    if status < 400:
        # whatever was stored reads back
        check(*client.get("/%ss" % member))


@FUZZ
@given(item=attr_value("network"), method=st.sampled_from(["POST", "PUT"]))
@example(item=("mtu", 2 ** 63), method="POST")
@example(item=("mtu", 2 ** 31), method="PUT")
@example(item=("provider:segmentation_id", 2 ** 63), method="POST")
@example(item=("name", "a\x00b"), method="PUT")
def test_network_attributes(client, world, item, method):
    _attr_test(client, world, "network", item[0], item[1], method)


@FUZZ
@given(item=attr_value("subnet"), method=st.sampled_from(["POST", "PUT"]))
@example(item=("ip_version", 2 ** 63), method="POST")
@example(item=("allocation_pools", [{"start": "10.78.0.5", "end": "10.78.0.2"}]), method="POST")
@example(item=("host_routes", [{"destination": "10.0.0.0/8", "nexthop": "\x00"}]), method="PUT")
def test_subnet_attributes(client, world, item, method):
    _attr_test(client, world, "subnet", item[0], item[1], method)


@FUZZ
@given(item=attr_value("port"), method=st.sampled_from(["POST", "PUT"]))
@example(item=("binding:profile", {"a": "\x00"}), method="PUT")
@example(item=("mac_address", 2 ** 48 - 1), method="POST")
@example(item=("fixed_ips", [{"ip_address": "10.77.0.300"}]), method="PUT")
def test_port_attributes(client, world, item, method):
    _attr_test(client, world, "port", item[0], item[1], method)


@FUZZ
@given(item=attr_value("trunk"), method=st.sampled_from(["POST", "PUT"]))
@example(item=("sub_ports", [{"port_id": "00000000-0000-0000-0000-000000000000",
                              "segmentation_type": "vlan", "segmentation_id": 2 ** 63}]),
         method="POST")
def test_trunk_attributes(client, world, item, method):
    _attr_test(client, world, "trunk", item[0], item[1], method)


SUBPORT = st.one_of(
    JSON_VALUES,
    st.fixed_dictionaries({}, optional={
        "port_id": st.one_of(st.sampled_from(["child", "spare", "parent"]), JSON_VALUES),
        "segmentation_type": st.one_of(st.sampled_from(["vlan", "inherit"]), JSON_VALUES),
        "segmentation_id": st.one_of(st.integers(-5, 5000), HUGE_INTS, JSON_VALUES)}))


@FUZZ
@given(action=st.sampled_from(["add_subports", "remove_subports"]),
       body=st.one_of(JSON_VALUES, st.fixed_dictionaries({"sub_ports": st.one_of(
           JSON_VALUES, st.lists(SUBPORT, max_size=3))})))
@example(action="add_subports", body={"sub_ports": [
    {"port_id": "spare", "segmentation_type": "vlan", "segmentation_id": 2 ** 63}]})
@example(action="add_subports", body={"sub_ports": [
    {"port_id": "spare", "segmentation_type": "vlan", "segmentation_id": 4096.5}]})
@example(action="add_subports", body={"sub_ports": [
    {"port_id": "child", "segmentation_type": "vlan", "segmentation_id": []}]})
@example(action="remove_subports", body={"sub_ports": [
    {"port_id": "child", "segmentation_type": {"a": 1}, "segmentation_id": 5}]})
def test_trunk_actions(client, world, action, body):
    def resolve(sub):
        if isinstance(sub, dict) and sub.get("port_id") in ("child", "spare", "parent"):
            key = {"spare": "port"}.get(sub["port_id"], sub["port_id"])
            return dict(sub, port_id=world[key]["id"])
        return sub
    if isinstance(body, dict) and isinstance(body.get("sub_ports"), list):
        body = dict(body, sub_ports=[resolve(s) for s in body["sub_ports"]])
    path = "/trunks/%s/%s" % (world["trunk"]["id"], action)
    refused_changes_nothing(client, ALL_LISTS, lambda: request(client, "PUT", path, body=body))
    # put the trunk back as it was: only the child as a subport
    _, tr = client.get("/trunks/" + world["trunk"]["id"])
    extra = [{"port_id": s["port_id"]} for s in tr["trunk"]["sub_ports"]
             if s["port_id"] != world["child"]["id"]]
    if extra:
        status, _ = client.put(path.rsplit("/", 1)[0] + "/remove_subports",
                               {"sub_ports": extra})
        assert status == 200
    if not any(s["port_id"] == world["child"]["id"] for s in tr["trunk"]["sub_ports"]):
        status, _ = client.put(path.rsplit("/", 1)[0] + "/add_subports", {"sub_ports": [
            {"port_id": world["child"]["id"], "segmentation_type": "vlan",
             "segmentation_id": 101}]})
        assert status == 200


# -- security groups

RULE_VALUES = st.one_of(JSON_VALUES, st.sampled_from([
    "tcp", "UDP", "icmp", "ipv6-icmp", "icmpv6", "any", "6", "58", "1", "IPv4", "ipv6",
    "ingress", "egress", "10.0.0.0/8", "10.0.0.1", "::/0", "0.0.0.0/0", "2001:db8::1%x", 0, 1,
    255, 256, 65535, 65536, -1, "PARENT", "@sg"]))


@pytest.fixture(scope="module")
def group(client):
    status, body = client.post("/security-groups", {"security_group": {"name": "fuzz-sg"}})
    assert status == 201, body
    return body["security_group"]


def _resolve_sg(value, group):
    return group["id"] if value == "@sg" else value


@FUZZ
@given(attrs=st.dictionaries(st.sampled_from(sorted(security_group_rule.attrs)), RULE_VALUES,
                             max_size=6), bulk=st.booleans())
@example(attrs={"protocol": True, "port_range_min": 1, "port_range_max": 2}, bulk=False)
@example(attrs={"remote_group_id": {"a": 1}}, bulk=True)
@example(attrs={"protocol": 6.0, "port_range_min": 2 ** 63}, bulk=False)
def test_security_group_rule_bodies(client, group, attrs, bulk):
    rule = dict({"security_group_id": group["id"], "direction": "ingress"},
                **{k: _resolve_sg(v, group) for k, v in attrs.items()})
    body = {"security_group_rules": [rule, dict(rule, description="2")]} if bulk else \
        {"security_group_rule": rule}
    status, created = refused_changes_nothing(
        client, SG_LISTS, lambda: request(client, "POST", "/security-group-rules", body=body))
    if status == 201:
        rules = created.get("security_group_rules") or [created["security_group_rule"]]
        for made in rules:
            check(*client.delete("/security-group-rules/" + made["id"]))


@FUZZ
@given(item=st.tuples(st.sampled_from(sorted(security_group.attrs)), RULE_VALUES),
       method=st.sampled_from(["POST", "PUT"]))
@example(item=("name", "DEFAULT"), method="PUT")
@example(item=("stateful", "maybe"), method="POST")
def test_security_group_attributes(client, group, item, method):
    name, value = item
    if method == "PUT":
        path, body = "/security-groups/" + group["id"], {"security_group": {name: value}}
    else:
        path, body = "/security-groups", {"security_group": {"name": "f", name: value}}
    status, created = refused_changes_nothing(
        client, SG_LISTS, lambda: request(client, method, path, body=body))
    if method == "POST" and status == 201:
        check(*client.delete("/security-groups/" + created["security_group"]["id"]))
    if status < 400:
        check(*client.get("/security-groups"))


# -- query strings

QUERY_KEYS = st.one_of(
    st.sampled_from(sorted(set().union(*(r.attrs for r in RESOURCES.values())))),
    st.sampled_from(["fields", "sort_key", "sort_dir", "limit", "marker", "page_reverse", "tags",
                     "tags-any", "not-tags", "not-tags-any"]),
    st.text(max_size=10))
QUERY_VALUES = st.one_of(
    TEXT, st.integers().map(str), HUGE_INTS.map(str),
    st.sampled_from(["asc", "desc", "id", "name", "true", "false", "0", "1", "-1", "1.5",
                     "9" * 30, "9" * 5000, "00000000-0000-0000-0000-000000000000", "a,b,,c"]))


@FUZZ
@given(collection=st.sampled_from(["networks", "subnets", "ports", "trunks", "agents",
                                   "security-groups", "security-group-rules",
                                   "default-security-group-rules"]),
       params=st.lists(st.tuples(QUERY_KEYS, QUERY_VALUES), max_size=6),
       on_item=st.booleans())
@example(collection="networks", params=[("limit", "9" * 30)], on_item=False)
@example(collection="networks", params=[("name", "x" * 70000)], on_item=False)
@example(collection="networks", params=[("mtu", "9" * 30)], on_item=False)
@example(collection="ports", params=[("revision_number", str(2 ** 63))], on_item=False)
@example(collection="ports", params=[("name", "a\x00b")], on_item=False)
@example(collection="ports", params=[("marker", "a\x00b")], on_item=False)
@example(collection="ports", params=[("tags", "a\x00b")], on_item=False)
@example(collection="subnets", params=[("subnetpool_id", "AAA")], on_item=False)
@example(collection="networks", params=[("mtu", str(2 ** 31))], on_item=False)
@example(collection="subnets", params=[("ip_version", str(-2 ** 31 - 1))], on_item=False)
@example(collection="ports", params=[("limit", "1"), ("sort_key", "mac_address"),
                                     ("sort_dir", "asc")], on_item=False)
@example(collection="security-group-rules", params=[("port_range_min", "9" * 30)],
         on_item=False)
@example(collection="security-groups", params=[("project_id", "x" * 300)], on_item=False)
def test_query_strings(client, world, collection, params, on_item):
    path = "/" + collection
    if on_item and collection in ALL_LISTS_BY_MEMBER:
        path += "/" + world[collection[:-1]]["id"]
    request(client, "GET", path, params=params)


# -- paths, methods, raw bodies, headers

SEGMENT = st.one_of(
    st.sampled_from(["networks", "subnets", "ports", "trunks", "agents", "extensions", "tags",
                     "add_subports", "remove_subports", "get_subports", "trunk", "network.json",
                     "..", ".", "", "v2.0", "hosts", "state", "status", "dhcp-port"]),
    st.sampled_from(["network", "subnet", "port", "trunk"]).map(lambda k: "@" + k),
    TEXT.filter(lambda s: len(s) < 2000))
METHODS = st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"])
RAW = st.one_of(st.binary(max_size=200), st.sampled_from([
    b"\xff\xfe\x00", b"{", b"{\"network\": ", b"NaN", b"[1,2", b"\xc3\x28", b"{\"a\":\"\xed\xa0\x80\"}",
    b"\"\\ud800\"", b"{\"network\": {\"name\": \"\\u0000\"}}", b"1" * 5000, b"[" * 5000,
    b"{\"port\": {\"name\": 1e999}}"]), TEXT.map(lambda s: s.encode("utf-8", "surrogatepass")))


def _path(world, segments, prefix):
    parts = []
    for seg in segments:
        if seg.startswith("@") and seg[1:] in world:
            parts.append(world[seg[1:]]["id"])
        else:
            parts.append(quote(seg, safe=""))
    return prefix + "/".join(parts)


@FUZZ
@given(segments=st.lists(SEGMENT, min_size=0, max_size=4), method=METHODS,
       body=st.one_of(st.none(), JSON_VALUES, RAW), agent=st.booleans())
@example(segments=["ports", "@port", "tags", "a\x00b"], method="PUT", body=None, agent=False)
@example(segments=["networks", "a\x00b"], method="GET", body=None, agent=False)
@example(segments=["hosts", "a\x00b", "state"], method="GET", body=None, agent=True)
def test_paths_and_methods(client, world, segments, method, body, agent, server):
    if agent and segments[:1] == ["watch"]:
        return  # the long poll: covered by test_channel
    if method == "DELETE" and len(segments) == 2 and segments[1].startswith("@"):
        return  # deleting the world itself is not a hostile input
    prefix = "/agent/v1/" if agent else "/v2.0/"
    url = server.url + _path(world, segments, prefix)
    kw = {"data": body} if isinstance(body, bytes) else {"json": body}
    before = snapshot(client, *ALL_LISTS)
    r = requests.request(method, url, timeout=30, **kw)
    try:
        data = r.json() if r.content else None
    except ValueError:
        data = r.text
    check(r.status_code, data, method)
    if r.status_code >= 400:
        assert snapshot(client, *ALL_LISTS) == before


@FUZZ
@given(member=st.sampled_from(sorted(RESOURCES)), raw=RAW, method=st.sampled_from(["POST", "PUT"]))
@example(member="network", raw=b"\xff\xfe\x00", method="POST")
def test_raw_bodies(client, world, member, raw, method):
    path = "/%ss" % member
    if method == "PUT":
        path += "/" + world[member]["id"]
    refused_changes_nothing(client, ALL_LISTS, lambda: request(
        client, method, path, raw=raw, headers={"Content-Type": "application/json"}))


def _if_match(value):
    """The revision the server reads from If-Match (None: unconditional), as app.Request does."""
    for part in value.split(","):
        key, _, rev = part.strip().partition("=")
        if key == "revision_number":
            try:
                return int(rev)
            except ValueError:
                return "bad"
    return None


HEADER_TEXT = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xff,
                                             blacklist_characters="\x7f"), max_size=40)


@FUZZ
@given(member=st.sampled_from(sorted(RESOURCES)), method=st.sampled_from(["PUT", "DELETE"]),
       value=st.one_of(HEADER_TEXT, HUGE_INTS.map(lambda n: "revision_number=%d" % n),
                       HEADER_TEXT.map(lambda s: "revision_number=" + s),
                       st.integers(-3, 3).map(lambda n: "revision_number=%d" % n)))
@example(member="network", method="PUT", value="revision_number=%d" % 2 ** 63)
@example(member="port", method="DELETE", value="revision_number=" + "9" * 30)
def test_if_match(client, world, member, method, value):
    path = "/%ss/%s" % (member, world[member]["id"])
    before = snapshot(client, path)
    if method == "DELETE" and _if_match(value) in (None, before[0][member]["revision_number"]):
        return  # an unconditional or matching DELETE would delete the world
    kw = {"body": {member: {"description": "fuzz"}}} if method == "PUT" else {}
    status, body = request(client, method, path, headers={"If-Match": value}, **kw)
    if status >= 400:
        assert snapshot(client, path) == before
    else:
        assert status == 200, (status, body)  # a DELETE with a matching revision cannot happen
