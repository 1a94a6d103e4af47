"""Keystone authentication and Neutron's policies against a real Keystone (tests/helpers/keystone.py):
tokens, project isolation, shared networks, readers, admin-only attributes, trunk subports, a
policy file, the agent channel's secret, and the openstack CLI and openstacksdk through
Keystone's catalog. One Keystone per module (its start-up time is printed)."""
import datetime
import json
import os
import socket
import subprocess
import sys
import threading
import time

import pytest
import requests

from helpers import keystone as ks
from helpers.server import Server
from trunkline.stack import free_port

pytestmark = pytest.mark.skipif(not ks.available(), reason="no .venv-keystone: run "
                                "scripts/install.sh (it installs keystone and uwsgi)")
OPENSTACK = os.path.join(os.path.dirname(sys.executable), "openstack")
SECRET = "tl-agent-secret-0123456789"


@pytest.fixture(scope="module")
def keystone():
    k = ks.Keystone()
    print("\nkeystone started in %.1f s" % k.startup_seconds)
    yield k
    k.stop()


def _keystone_args(k, ttl="300"):
    return ["--auth", "keystone", "--keystone-url", k.url, "--keystone-user", "trunkline",
            "--keystone-password", ks.PASSWORD, "--keystone-project", "service",
            "--token-cache-ttl", ttl]


@pytest.fixture(scope="module")
def secret_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("secret") / "agent-secret"
    path.write_text(SECRET + "\n")
    return str(path)


@pytest.fixture(scope="module")
def server(keystone, secret_file, tmp_path_factory):
    db = tmp_path_factory.mktemp("authdb") / "trunkline.db"
    srv = Server("sqlite:///%s" % db, extra=_keystone_args(keystone, ttl="1") +
                 ["--agent-secret-file", secret_file])
    keystone.add_network_endpoint(srv.url)
    yield srv
    srv.stop()


class Api:
    """Plain HTTP as one Keystone user."""

    def __init__(self, url, token, project_id=None):
        self.url = url + "/v2.0"
        self.token = token
        self.project_id = project_id

    def call(self, method, path, body=None, headers=None):
        h = {"X-Auth-Token": self.token} if self.token else {}
        h.update(headers or {})
        r = requests.request(method, self.url + path, json=body, headers=h, timeout=30)
        return r.status_code, (r.json() if r.content else None)

    def create(self, member, **attrs):
        status, body = self.call("POST", "/%ss" % member, {member: attrs})
        assert status == 201, body
        return body[member]


@pytest.fixture(scope="module")
def users(keystone, server):
    """An API client per user (admin-a, member-a, reader-a, member-b, reader-b, trunkline)."""
    out = {}
    for name, (project, _) in ks.USERS.items():
        out[name] = Api(server.url, keystone.token(name, project), keystone.project_id(project))
    return out


def _err(body):
    return body["NeutronError"]["type"], body["NeutronError"]["message"]


# -- tokens

def test_missing_and_invalid_tokens_answer_401(server):
    r = requests.get(server.url + "/v2.0/networks", timeout=10)
    assert r.status_code == 401
    assert r.json()["NeutronError"]["type"] == "HTTPUnauthorized"
    assert r.headers["www-authenticate"].startswith("Keystone uri=")
    r = requests.get(server.url + "/v2.0/networks", headers={"X-Auth-Token": "gAAAAAnotatoken"},
                     timeout=10)
    assert r.status_code == 401
    # the version list stays public, as in Neutron
    assert requests.get(server.url + "/", timeout=10).status_code == 200


def test_revoked_token_stops_working_after_the_cache_ttl(keystone, server):
    token = keystone.token("member-a", "proj-a")
    api = Api(server.url, token)
    assert api.call("GET", "/networks")[0] == 200
    keystone.revoke(token)
    time.sleep(1.5)  # the server runs with --token-cache-ttl 1
    status, body = api.call("GET", "/networks")
    assert status == 401, body


def test_expired_token_answers_401_even_when_cached(keystone, tmp_path):
    # a long cache TTL: the token's own expiry must end its cache entry
    srv = Server("sqlite:///%s" % (tmp_path / "e.db"), extra=_keystone_args(keystone, "300"))
    try:
        token, until = keystone.short_lived_token("member-a", "member-b", "proj-a", 20)
        api = Api(srv.url, token)
        status, body = api.call("GET", "/networks")
        assert status == 200, body
        left = (until - datetime.datetime.now(datetime.timezone.utc)).total_seconds()
        assert left > 0, "the machine is too slow: the token expired before the first call"
        time.sleep(left + 1)
        status, body = api.call("GET", "/networks")
        assert status == 401, body
    finally:
        srv.stop()


def test_a_slow_keystone_does_not_block_other_requests(keystone, tmp_path):
    """Keystone accepts connections but never answers: the request waiting for it gets 503
    after the client timeout, and meanwhile the server keeps answering others."""
    blackhole = socket.socket()
    blackhole.bind(("127.0.0.1", 0))
    blackhole.listen(64)
    args = _keystone_args(keystone)
    args[args.index(keystone.url)] = "http://127.0.0.1:%d/v3" % blackhole.getsockname()[1]
    srv = Server("sqlite:///%s" % (tmp_path / "s.db"), extra=args)
    try:
        waiting = {}

        def call():
            waiting["response"] = requests.get(srv.url + "/v2.0/networks", timeout=60,
                                               headers={"X-Auth-Token": "gAAAAAslow"})

        thread = threading.Thread(target=call)
        thread.start()
        time.sleep(1)
        for _ in range(5):
            assert requests.get(srv.url + "/", timeout=5).status_code == 200
        assert thread.is_alive(), "the token validation was expected to be still waiting"
        thread.join(60)
        assert waiting["response"].status_code == 503
    finally:
        srv.stop()
        blackhole.close()


def test_keystone_unreachable_answers_503(keystone, tmp_path):
    dead = "http://127.0.0.1:%d/v3" % free_port()
    args = _keystone_args(keystone)
    args[args.index(keystone.url)] = dead
    srv = Server("sqlite:///%s" % (tmp_path / "t.db"), extra=args)
    try:
        r = requests.get(srv.url + "/v2.0/networks", timeout=30,
                         headers={"X-Auth-Token": keystone.token("member-a", "proj-a")})
        assert r.status_code == 503, r.text
        assert r.json()["NeutronError"]["type"] == "HTTPServiceUnavailable"
    finally:
        srv.stop()


def test_noauth_refuses_a_non_loopback_address(tmp_path):
    r = subprocess.run([os.path.join(os.path.dirname(sys.executable), "trunkline"), "server",
                        "--bind", "0.0.0.0:%d" % free_port(), "--db",
                        "sqlite:///%s" % (tmp_path / "x.db")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    assert "refusing to serve without authentication on 0.0.0.0" in r.stderr


# -- isolation and visibility

def test_another_projects_resources_answer_404_and_stay_out_of_lists(users):
    a, b = users["member-a"], users["member-b"]
    net = a.create("network", name="a-private")
    a.create("subnet", network_id=net["id"], cidr="10.61.0.0/24", ip_version=4)
    port = a.create("port", network_id=net["id"], name="a-parent")
    trunk = a.create("trunk", port_id=port["id"], name="a-trunk")
    for path, kind in (("/networks/" + net["id"], "NetworkNotFound"),
                       ("/ports/" + port["id"], "PortNotFound"),
                       ("/trunks/" + trunk["id"], "TrunkNotFound")):
        for method, body in (("GET", None), ("PUT", {path.split("/")[1][:-1]: {"name": "x"}}),
                             ("DELETE", None)):
            status, answer = b.call(method, path, body)
            assert status == 404, (method, path, answer)
            assert _err(answer)[0] == kind
    assert b.call("GET", "/trunks/%s/get_subports" % trunk["id"])[0] == 404
    assert b.call("GET", "/networks/%s/tags" % net["id"])[0] == 404
    for collection, item in (("networks", net), ("ports", port), ("trunks", trunk)):
        ids = [x["id"] for x in b.call("GET", "/" + collection)[1][collection]]
        assert item["id"] not in ids
        ids = [x["id"] for x in a.call("GET", "/" + collection)[1][collection]]
        assert item["id"] in ids
    # still there for its owner, unchanged
    assert a.call("GET", "/networks/" + net["id"])[1]["network"]["name"] == "a-private"
    # an admin sees every project's resources
    ids = [x["id"] for x in users["admin-a"].call("GET", "/ports")[1]["ports"]]
    assert port["id"] in ids


def test_shared_network_is_visible_and_usable_by_another_project(users):
    admin, b = users["admin-a"], users["member-b"]
    net = admin.create("network", name="shared-net", shared=True)
    sub = admin.create("subnet", network_id=net["id"], cidr="10.62.0.0/24", ip_version=4)
    assert net["id"] in [n["id"] for n in b.call("GET", "/networks")[1]["networks"]]
    assert sub["id"] in [s["id"] for s in b.call("GET", "/subnets")[1]["subnets"]]
    port = b.create("port", network_id=net["id"], name="b-on-shared")
    status, body = b.call("POST", "/subnets", {"subnet": {
        "network_id": net["id"], "cidr": "10.64.0.0/24", "ip_version": 4}})
    assert status == 403 and _err(body)[0] == "HTTPForbidden"
    assert port["project_id"] != net["project_id"]
    assert port["fixed_ips"][0]["subnet_id"] == sub["id"]
    # visible but not B's: changing it is refused, deleting it too
    status, body = b.call("PUT", "/networks/" + net["id"], {"network": {"name": "mine"}})
    assert status == 403 and _err(body) == ("PolicyNotAuthorized",
                                           "rule:update_network is disallowed by policy")
    assert b.call("DELETE", "/networks/" + net["id"])[0] == 403
    # the network's owner (project A) sees ports others put on it, as in Neutron
    assert port["id"] in [p["id"] for p in users["member-a"].call("GET", "/ports")[1]["ports"]]


def test_reader_cannot_write(users):
    reader = users["reader-a"]
    status, body = reader.call("POST", "/networks", {"network": {"name": "r"}})
    assert status == 403
    assert _err(body) == ("PolicyNotAuthorized", "rule:create_network is disallowed by policy")
    net = users["member-a"].create("network", name="readable")
    assert reader.call("GET", "/networks/" + net["id"])[0] == 200
    # a member cannot create for another project either: neutron-lib refuses the body (400)
    # before any policy (neutron-tempest-plugin's test_add_port_with_nonexist_project_id)
    for member, extra in (("network", {}), ("port", {"network_id": net["id"]})):
        status, body = users["member-a"].call("POST", "/%ss" % member, {member: dict(
            extra, name="for-b", project_id=users["member-b"].project_id)})
        assert status == 400 and _err(body) == (
            "HTTPBadRequest", "Specifying 'project_id' other than the authenticated project in "
            "request is not allowed for the current user.")
    assert users["member-a"].call("GET", "/networks?name=for-b")[1] == {
        "networks": []}
    assert reader.call("PUT", "/networks/" + net["id"], {"network": {"name": "w"}})[0] == 403
    assert reader.call("DELETE", "/networks/" + net["id"])[0] == 403
    assert reader.call("PUT", "/networks/%s/tags/t1" % net["id"])[0] == 403
    assert reader.call("POST", "/ports", {"port": {"network_id": net["id"]}})[0] == 403
    assert users["member-a"].call("GET", "/networks/" + net["id"])[1]["network"]["tags"] == []


def test_admin_only_attributes_are_hidden_and_refused(users):
    member, admin = users["member-a"], users["admin-a"]
    net = member.create("network", name="attrs")
    assert "provider:network_type" not in net and "provider:segmentation_id" not in net
    assert admin.call("GET", "/networks/" + net["id"])[1]["network"][
        "provider:network_type"] == "vxlan"
    status, body = member.call("POST", "/networks", {"network": {
        "name": "p", "provider:network_type": "vlan"}})
    assert status == 403
    assert _err(body)[1] == ("(rule:create_network and rule:create_network:provider:network_type)"
                             " is disallowed by policy")
    status, body = member.call("POST", "/ports", {"port": {
        "network_id": net["id"], "binding:host_id": "h1"}})
    assert status == 403
    assert _err(body) == ("PolicyNotAuthorized", "(rule:create_port and "
                          "rule:create_port:binding:host_id) is disallowed by policy")
    # Neutron names the whole match rule: every ruled attribute the request sets, in order
    subnet = member.create("subnet", network_id=net["id"], cidr="10.91.0.0/24", ip_version=4)
    status, body = member.call("POST", "/ports", {"port": {
        "network_id": net["id"], "fixed_ips": [{"subnet_id": subnet["id"]}],
        "binding:host_id": "h1"}})
    assert status == 403 and _err(body)[1] == (
        "((rule:create_port and (rule:create_port:fixed_ips and "
        "(rule:create_port:fixed_ips:subnet_id))) and rule:create_port:binding:host_id) "
        "is disallowed by policy")
    port = member.create("port", network_id=net["id"])
    assert not [k for k in port if k in ("binding:host_id", "binding:vif_type",
                                         "binding:vif_details", "binding:profile")]
    assert "binding:vnic_type" in port
    listed = member.call("GET", "/ports?network_id=" + net["id"])[1]["ports"]
    assert listed and all("binding:host_id" not in p for p in listed)
    status, body = member.call("PUT", "/ports/" + port["id"],
                               {"port": {"binding:host_id": "h1"}})
    assert status == 403
    assert _err(body)[1] == ("(rule:update_port and rule:update_port:binding:host_id) is "
                             "disallowed by policy")
    status, body = admin.call("PUT", "/ports/" + port["id"], {"port": {"binding:host_id": "h1"}})
    assert status == 200 and body["port"]["binding:host_id"] == "h1"
    assert "binding:host_id" not in member.call("GET", "/ports/" + port["id"])[1]["port"]
    status, body = member.call("POST", "/networks", {"network": {"name": "s", "shared": True}})
    assert status == 403 and "create_network:shared" in _err(body)[1]


def test_trunk_subports_must_be_the_callers_projects(users):
    a, b = users["member-a"], users["member-b"]
    net_a = a.create("network", name="ta")
    a_port = a.create("port", network_id=net_a["id"])
    net_b = b.create("network", name="tb")
    parent = b.create("port", network_id=net_b["id"])
    own_sub = b.create("port", network_id=net_b["id"])
    status, body = b.call("POST", "/trunks", {"trunk": {"port_id": parent["id"], "sub_ports": [
        {"port_id": a_port["id"], "segmentation_type": "vlan", "segmentation_id": 10}]}})
    assert status == 404 and _err(body)[0] == "PortNotFound"
    status, body = b.call("POST", "/trunks", {"trunk": {"port_id": a_port["id"]}})
    assert status == 404 and _err(body)[0] == "PortNotFound"
    trunk = b.create("trunk", port_id=parent["id"])
    status, body = b.call("PUT", "/trunks/%s/add_subports" % trunk["id"], {"sub_ports": [
        {"port_id": a_port["id"], "segmentation_type": "vlan", "segmentation_id": 11}]})
    assert status == 404 and _err(body)[0] == "PortNotFound"
    assert b.call("GET", "/trunks/%s/get_subports" % trunk["id"])[1]["sub_ports"] == []
    assert users["reader-b"].call("GET", "/trunks/%s/get_subports" % trunk["id"])[0] == 200
    status, body = users["reader-b"].call("PUT", "/trunks/%s/add_subports" % trunk["id"], {
        "sub_ports": [{"port_id": own_sub["id"], "segmentation_type": "vlan",
                       "segmentation_id": 12}]})
    assert status == 403
    assert _err(body)[1] == "rule:add_subports is disallowed by policy"
    status, body = b.call("PUT", "/trunks/%s/add_subports" % trunk["id"], {"sub_ports": [
        {"port_id": own_sub["id"], "segmentation_type": "vlan", "segmentation_id": 12}]})
    assert status == 200, body
    assert [s["port_id"] for s in body["sub_ports"]] == [own_sub["id"]]
    # an admin may build a trunk from any project's ports
    status, body = users["admin-a"].call("PUT", "/trunks/%s/add_subports" % trunk["id"], {
        "sub_ports": [{"port_id": a_port["id"], "segmentation_type": "vlan",
                       "segmentation_id": 13}]})
    assert status == 200, body


def test_agents_are_admin_only(users):
    assert users["member-a"].call("GET", "/agents")[1]["agents"] == []
    assert users["admin-a"].call("GET", "/agents")[0] == 200


def test_port_bindings_are_admin_or_service_only(users):
    """binding-extended: a member's own compute port's bindings are refused (403), another
    project's port does not exist (404); an admin and the service user (Nova) may."""
    net = users["member-a"].create("network", name="pb-auth")
    port = users["member-a"].create("port", network_id=net["id"], device_owner="compute:nova")
    url = "/ports/%s/bindings" % port["id"]
    status, body = users["member-a"].call("GET", url)
    assert status == 403 and _err(body)[0] == "PolicyNotAuthorized"
    status, body = users["member-a"].call("PUT", url + "/h1/activate")
    assert status == 403 and _err(body)[0] == "PolicyNotAuthorized"
    status, body = users["member-b"].call("GET", url)
    assert status == 404 and _err(body)[0] == "PortNotFound"
    for who in ("admin-a", "trunkline"):
        status, body = users[who].call("GET", url)
        assert status == 200 and [b["status"] for b in body["bindings"]] == ["ACTIVE"]


# -- policy file

def _group(api, name):
    status, body = api.call("POST", "/security-groups", {"security_group": {"name": name}})
    assert status == 201, body
    return body["security_group"]


def test_security_groups_stay_in_their_project(users):
    """Neutron 29's security group policies for a member of another project: groups and their
    rules answer 404 and stay out of lists, rules cannot be added to them, ports cannot use
    them, and only an admin may delete a project's default group."""
    a, b, reader = users["member-a"], users["member-b"], users["reader-a"]
    group = _group(a, "a-web")
    status, body = a.call("POST", "/security-group-rules", {"security_group_rule": {
        "security_group_id": group["id"], "direction": "ingress", "protocol": "tcp"}})
    assert status == 201, body
    rule_id = body["security_group_rule"]["id"]
    for method, path, body in (
            ("GET", "/security-groups/" + group["id"], None),
            ("PUT", "/security-groups/" + group["id"], {"security_group": {"name": "x"}}),
            ("DELETE", "/security-groups/" + group["id"], None),
            ("GET", "/security-group-rules/" + rule_id, None),
            ("DELETE", "/security-group-rules/" + rule_id, None),
            ("POST", "/security-group-rules", {"security_group_rule": {
                "security_group_id": group["id"], "direction": "egress",
                "protocol": "udp"}})):
        status, answer = b.call(method, path, body)
        assert status == 404, (method, path, answer)
        assert _err(answer)[0] in ("SecurityGroupNotFound", "SecurityGroupRuleNotFound")
    status, answer = b.call("POST", "/security-group-rules", {"security_group_rule": {
        "security_group_id": _group(b, "b-web")["id"],
        "direction": "ingress", "remote_group_id": group["id"]}})
    assert status == 404 and _err(answer)[0] == "SecurityGroupNotFound"
    listed = b.call("GET", "/security-groups")[1]["security_groups"]
    assert group["id"] not in {g["id"] for g in listed}
    assert {g["project_id"] for g in listed} == {b.project_id}
    rules = b.call("GET", "/security-group-rules")[1]["security_group_rules"]
    assert rule_id not in {r["id"] for r in rules}
    assert rules and all(r["project_id"] == b.project_id for r in rules)
    net = b.create("network", name="b-sg-net")
    b.create("subnet", network_id=net["id"], cidr="10.62.0.0/24", ip_version=4)
    status, answer = b.call("POST", "/ports", {"port": {"network_id": net["id"],
                                                        "security_groups": [group["id"]]}})
    assert status == 404 and _err(answer)[0] == "SecurityGroupNotFound"
    # readers read, members write; the default group is the admin's to delete
    assert reader.call("GET", "/security-groups/" + group["id"])[0] == 200
    assert reader.call("GET", "/security-group-rules/" + rule_id)[0] == 200
    assert reader.call("DELETE", "/security-groups/" + group["id"])[0] == 403
    default = [g for g in a.call("GET", "/security-groups?name=default")[1]["security_groups"]]
    assert len(default) == 1
    # (an in-use group answers SecurityGroupInUse first: free it from the project's ports)
    for used in a.call("GET", "/ports?security_groups=" + default[0]["id"])[1]["ports"]:
        assert a.call("PUT", "/ports/" + used["id"], {"port": {"security_groups": []}})[0] == 200
    status, answer = a.call("DELETE", "/security-groups/" + default[0]["id"])
    assert status == 409 and _err(answer)[0] == "SecurityGroupCannotRemoveDefault"
    # templates: everyone reads them, only admins write
    assert b.call("GET", "/default-security-group-rules")[0] == 200
    status, answer = b.call("POST", "/default-security-group-rules", {
        "default_security_group_rule": {"direction": "ingress", "used_in_default_sg": True,
                                        "used_in_non_default_sg": True}})
    assert status == 403, answer
    assert a.call("DELETE", "/security-groups/" + group["id"])[0] == 204


def test_policy_file_overrides_a_default(keystone, tmp_path, users):
    policy = tmp_path / "policy.yaml"
    policy.write_text('"create_network": "role:admin"\n')
    srv = Server("sqlite:///%s" % (tmp_path / "p.db"),
                 extra=_keystone_args(keystone) + ["--policy-file", str(policy)])
    try:
        member = Api(srv.url, users["member-a"].token)
        status, body = member.call("POST", "/networks", {"network": {"name": "n"}})
        assert status == 403
        assert _err(body)[1] == "rule:create_network is disallowed by policy"
        assert Api(srv.url, users["admin-a"].token).call(
            "POST", "/networks", {"network": {"name": "n"}})[0] == 201
    finally:
        srv.stop()
    # the same call on the server with the defaults succeeds
    assert users["member-a"].call("POST", "/networks", {"network": {"name": "n"}})[0] == 201


# Neutron 29's own rules for a network owner (oslopolicy-policy-generator --namespace neutron):
# they read ``network:project_id``, not the older ``network:tenant_id``.
NEUTRON_29_RULES = {
    "network_owner": "project_id:%(network:project_id)s",
    "compute_device": "field:port:device_owner=~^compute:",
    "create_port": "(rule:admin_only) or (rule:service_api) or role:member and "
                   "rule:network_owner or rule:shared",
    "get_port": "(rule:admin_only) or (rule:service_api) or role:reader and rule:network_owner "
                "or role:reader and project_id:%(project_id)s",
    "update_port:allowed_address_pairs": "(rule:admin_only) or (role:member and "
                                         "rule:network_owner) or rule:service_api",
    "delete_port": "(rule:admin_only) or (rule:service_api) or (service_roles:service and "
                   "(role:member and rule:network_owner or role:member and "
                   "project_id:%(project_id)s)) or (not rule:compute_device and (role:member "
                   "and rule:network_owner or role:member and project_id:%(project_id)s))",
}


def test_neutron_29_network_owner_rules(keystone, tmp_path, users):
    """A policy file written in Neutron 29's words gives a network's owner what Neutron gives
    it: ports on its network, other projects' ports there visible and deletable."""
    policy = tmp_path / "policy.yaml"
    policy.write_text("".join("%s: %s\n" % (json.dumps(k), json.dumps(v))
                              for k, v in NEUTRON_29_RULES.items()))
    srv = Server("sqlite:///%s" % (tmp_path / "p.db"),
                 extra=_keystone_args(keystone) + ["--policy-file", str(policy)])
    try:
        admin = Api(srv.url, users["admin-a"].token)
        a = Api(srv.url, users["member-a"].token)
        net = a.create("network", name="a-net")
        a.create("subnet", network_id=net["id"], cidr="10.66.0.0/24", ip_version=4)
        own = a.create("port", network_id=net["id"])
        other = admin.create("port", network_id=net["id"],
                             project_id=users["member-b"].project_id)
        assert a.call("GET", "/ports/" + other["id"])[0] == 200
        status, body = a.call("PUT", "/ports/" + own["id"], {"port": {
            "allowed_address_pairs": [{"ip_address": "10.66.0.200"}]}})
        assert status == 200, body
        assert a.call("DELETE", "/ports/" + other["id"])[0] == 204
    finally:
        srv.stop()


def _all_pages(api, collection, limit):
    """The ids of a list read ``limit`` at a time through its ``next`` links."""
    ids, path = [], "/%s?limit=%d" % (collection, limit)
    while path:
        status, body = api.call("GET", path)
        assert status == 200, body
        page = [x["id"] for x in body[collection]]
        ids += page
        nxt = [link["href"] for link in body.get(collection + "_links", [])
               if link["rel"] == "next"]
        assert len(page) == limit or not nxt, (collection, path, page)
        path = nxt[0].split("/v2.0", 1)[1] if nxt else None
    return ids


def test_lists_page_fully_with_shared_and_external_networks(users):
    """What a list's query lets through and what the policy shows agree: a member's pages are
    full and end where the whole list does, with shared and external networks (and others'
    rows on them) present."""
    admin, b = users["admin-a"], users["member-b"]
    for name, flags in (("pg-shared", {"shared": True}), ("pg-public", {"router:external": True})):
        net = admin.create("network", name=name, **flags)
        for i in range(2):
            admin.create("subnet", network_id=net["id"], ip_version=4,
                         cidr="10.%d.%d.0/24" % (70 + len(name), i))
        admin.create("port", network_id=net["id"])
    own = b.create("network", name="pg-own")
    b.create("subnet", network_id=own["id"], cidr="10.79.0.0/24", ip_version=4)
    for _ in range(3):
        b.create("trunk", port_id=b.create("port", network_id=own["id"])["id"])
    for collection in ("networks", "subnets", "ports", "trunks"):
        whole = [x["id"] for x in b.call("GET", "/" + collection)[1][collection]]
        assert len(whole) >= 3, (collection, whole)
        assert sorted(_all_pages(b, collection, 2)) == sorted(whole), collection
    subnets = b.call("GET", "/subnets")[1]["subnets"]
    assert sum(s["router:external"] for s in subnets) == 2, subnets


# -- the agent channel

def _agent_calls(url):
    return [("POST", url + "/agent/v1/agents", {"host": "h-auth", "agent_type":
                                               "Open vSwitch agent", "binary": "x",
                                               "configurations": {}}),
            ("GET", url + "/agent/v1/hosts/h-auth/state", None),
            ("GET", url + "/agent/v1/watch?host=h-auth&since=0&timeout=0", None),
            ("POST", url + "/agent/v1/status", {"host": "h-auth", "ports": {}, "trunks": {}})]


def test_agent_channel_needs_the_secret_or_a_service_token(server, users):
    for method, url, body in _agent_calls(server.url):
        assert requests.request(method, url, json=body, timeout=30).status_code == 401, url
        r = requests.request(method, url, json=body, timeout=30,
                             headers={"X-Auth-Token": users["member-a"].token})
        assert r.status_code == 401, url
        r = requests.request(method, url, json=body, timeout=30,
                             headers={"X-Trunkline-Agent-Secret": "wrong"})
        assert r.status_code == 401, url
    for headers in ({"X-Trunkline-Agent-Secret": SECRET},
                    {"X-Auth-Token": users["trunkline"].token}):
        for method, url, body in _agent_calls(server.url):
            r = requests.request(method, url, json=body, timeout=30, headers=headers)
            assert r.status_code in (200, 204), (url, r.text)
    hosts = [a["host"] for a in users["admin-a"].call("GET", "/agents")[1]["agents"]]
    assert "h-auth" in hosts


def test_agent_client_sends_the_secret(server):
    from trunkline.agent.client import ChannelClient, ChannelError
    with pytest.raises(ChannelError) as e:
        ChannelClient(server.url, "h-client").state()
    assert e.value.status == 401
    assert ChannelClient(server.url, "h-client", secret=SECRET).state() is not None


def test_noauth_agent_channel_is_closed_when_a_secret_is_set(secret_file, tmp_path):
    srv = Server("sqlite:///%s" % (tmp_path / "n.db"), extra=["--agent-secret-file", secret_file])
    try:
        url = srv.url + "/agent/v1/hosts/h1/state"
        assert requests.get(url, timeout=10).status_code == 401
        assert requests.get(url, timeout=10,
                            headers={"X-Trunkline-Agent-Secret": SECRET}).status_code == 200
        # the API itself stays no-auth (admin), as before
        assert requests.get(srv.url + "/v2.0/networks", timeout=10).status_code == 200
    finally:
        srv.stop()


# -- real clients through Keystone's catalog

def _cli(env, *args):
    r = subprocess.run([OPENSTACK, *args], env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_openstack_cli_and_sdk_with_clouds_yaml(keystone, server, tmp_path, monkeypatch):
    keystone.clouds_yaml(str(tmp_path / "clouds.yaml"), "member-a", "proj-a")
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    env.update(OS_CLIENT_CONFIG_FILE=str(tmp_path / "clouds.yaml"), OS_CLOUD="tl")
    net = json.loads(_cli(env, "network", "create", "cli-net", "-f", "json"))
    _cli(env, "subnet", "create", "--network", "cli-net", "--subnet-range", "10.63.0.0/24",
         "cli-subnet")
    parent = json.loads(_cli(env, "port", "create", "--network", "cli-net", "cli-parent",
                             "-f", "json"))
    _cli(env, "port", "create", "--network", "cli-net", "cli-sub")
    trunk = json.loads(_cli(env, "network", "trunk", "create", "--parent-port", "cli-parent",
                            "--subport", "port=cli-sub,segmentation-type=vlan,"
                            "segmentation-id=7", "cli-trunk", "-f", "json"))
    assert trunk["port_id"] == parent["id"]
    names = [n["Name"] for n in json.loads(_cli(env, "network", "list", "-f", "json"))]
    assert "cli-net" in names
    assert net["project_id"] == keystone.project_id("proj-a")
    subports = json.loads(_cli(env, "network", "subport", "list", "--trunk", "cli-trunk",
                               "-f", "json"))
    assert [s["Segmentation ID"] for s in subports] == [7]

    import openstack
    for key in [k for k in os.environ if k.startswith("OS_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(tmp_path / "clouds.yaml"))
    conn = openstack.connect(cloud="tl")
    try:
        assert "cli-net" in [n.name for n in conn.network.networks()]
        sdk_port = conn.network.create_port(network_id=net["id"], name="sdk-port")
        assert sdk_port.project_id == keystone.project_id("proj-a")
        assert "cli-trunk" in [t.name for t in conn.network.trunks()]
    finally:
        conn.close()
    # project B's CLI sees none of it
    keystone.clouds_yaml(str(tmp_path / "clouds.yaml"), "member-b", "proj-b")
    names = [n["Name"] for n in json.loads(_cli(env, "network", "list", "-f", "json"))]
    assert "cli-net" not in names
