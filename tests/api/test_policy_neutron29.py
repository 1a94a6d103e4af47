"""Neutron 29's own generated policy file (tests/api/data/neutron-29-policy.yaml, every rule
``oslopolicy-policy-generator --namespace neutron`` writes) loaded with ``--policy-file`` answers
exactly as trunkline's built-in defaults: two servers on one database, one with each, asked the
same questions — a matrix of callers (admin, member and reader of the owning project, member
and reader of another) × resources of both projects (networks private and shared, subnets,
ports on one's own and on another's network, trunks, security groups and rules) × operations
(show, list, update, delete, create a port)."""
import itertools
import os

import pytest

from helpers import keystone as ks
from helpers.server import Server

HERE = os.path.dirname(os.path.abspath(__file__))
POLICY = os.path.join(HERE, "data", "neutron-29-policy.yaml")
CALLERS = ("admin-a", "member-a", "reader-a", "member-b", "reader-b")


@pytest.fixture(scope="module")
def keystone():
    k = ks.Keystone()
    yield k
    k.stop()


@pytest.fixture(scope="module")
def servers(keystone, tmp_path_factory):
    db = "sqlite:///%s" % (tmp_path_factory.mktemp("policy29") / "trunkline.db")
    args = ["--auth", "keystone", "--keystone-url", keystone.url, "--keystone-user",
            "trunkline", "--keystone-password", ks.PASSWORD, "--keystone-project", "service"]
    ours = Server(db, extra=args)
    theirs = Server(db, extra=args + ["--policy-file", POLICY])
    yield ours, theirs
    theirs.stop()
    ours.stop()


class Caller:
    def __init__(self, keystone, name):
        import requests
        project = ks.USERS[name][0]
        self.session = requests.Session()
        self.session.headers["X-Auth-Token"] = keystone.token(name, project)
        self.project_id = keystone.project_id(project)

    def call(self, url, method, path, body=None):
        r = self.session.request(method, url + "/v2.0" + path, json=body, timeout=30)
        return r.status_code, (r.json() if r.content else None)


def _answer(status, body, path):
    """What a caller sees: the status, and for a list the ids in it."""
    if status == 200 and isinstance(body, dict):
        key = path.strip("/").split("?")[0].split("/")[0].replace("-", "_")
        if key in body and isinstance(body[key], list):
            return status, sorted(x["id"] for x in body[key])
    return status, None


def _world(admin, url, keystone):
    """Resources of proj-a and proj-b, made by an admin."""
    a, b = keystone.project_id("proj-a"), keystone.project_id("proj-b")

    def make(kind, collection, **attrs):
        status, body = admin.call(url, "POST", "/" + collection, {kind: attrs})
        assert status == 201, (kind, body)
        return body[kind]["id"]
    w = {}
    w["net-a"] = make("network", "networks", name="net-a", project_id=a)
    w["net-b-shared"] = make("network", "networks", name="net-b", project_id=b, shared=True)
    w["sub-a"] = make("subnet", "subnets", network_id=w["net-a"], cidr="10.91.0.0/24",
                      ip_version=4, project_id=a)
    w["sub-b"] = make("subnet", "subnets", network_id=w["net-b-shared"], cidr="10.92.0.0/24",
                      ip_version=4, project_id=b)
    w["port-a"] = make("port", "ports", network_id=w["net-a"], project_id=a)
    w["port-b-on-a"] = make("port", "ports", network_id=w["net-a"], project_id=b)
    w["port-b-shared"] = make("port", "ports", network_id=w["net-b-shared"], project_id=b)
    w["parent-a"] = make("port", "ports", network_id=w["net-a"], project_id=a)
    w["trunk-a"] = make("trunk", "trunks", port_id=w["parent-a"], project_id=a)
    w["sg-a"] = make("security_group", "security-groups", name="sg-a", project_id=a)
    w["rule-a"] = make("security_group_rule", "security-group-rules",
                       security_group_id=w["sg-a"], direction="ingress", protocol="tcp",
                       port_range_min=22, port_range_max=22, project_id=a)
    return w


PATHS = {"net": "networks", "sub": "subnets", "port": "ports", "parent": "ports",
         "trunk": "trunks", "sg": "security-groups", "rule": "security-group-rules"}
UPDATES = {"networks": {"network": {"description": "x"}},
           "subnets": {"subnet": {"description": "x"}},
           "ports": {"port": {"description": "x"}},
           "trunks": {"trunk": {"description": "x"}},
           "security-groups": {"security_group": {"description": "x"}},
           "security-group-rules": {"security_group_rule": {"description": "x"}}}


def test_neutron_29_policy_file_answers_as_the_defaults(keystone, servers):
    ours, theirs = servers
    callers = {n: Caller(keystone, n) for n in CALLERS}
    world = _world(callers["admin-a"], ours.url, keystone)
    differ = []

    def ask(name, method, path, body=None):
        got = [_answer(*callers[name].call(srv.url, method, path, body), path)
               for srv in (ours, theirs)]
        if got[0] != got[1]:
            differ.append((name, method, path, got))

    for name, (label, rid) in itertools.product(CALLERS, sorted(world.items())):
        collection = PATHS[label.split("-")[0]]
        ask(name, "GET", "/%s/%s" % (collection, rid))
        ask(name, "PUT", "/%s/%s" % (collection, rid), UPDATES[collection])
    for name, collection in itertools.product(CALLERS, sorted(set(PATHS.values()))):
        ask(name, "GET", "/" + collection)
    # creates (what one may do on whose network), then deletes of resources made for it
    for name in CALLERS:
        for net in ("net-a", "net-b-shared"):
            made = []
            for srv in (ours, theirs):
                status, body = callers[name].call(srv.url, "POST", "/ports", {"port": {
                    "network_id": world[net]}})
                made.append(status)
                if status == 201:
                    callers["admin-a"].call(ours.url, "DELETE", "/ports/" + body["port"]["id"])
            if made[0] != made[1]:
                differ.append((name, "POST", "/ports on " + net, made))
        for net, owner in (("net-a", "proj-a"), ("net-a", "proj-b"),
                           ("net-b-shared", "proj-b")):
            answers = []
            for srv in (ours, theirs):
                status, body = callers["admin-a"].call(ours.url, "POST", "/ports", {"port": {
                    "network_id": world[net], "project_id": keystone.project_id(owner)}})
                assert status == 201, body
                answers.append(callers[name].call(srv.url, "DELETE", "/ports/" +
                                                  body["port"]["id"])[0])
                callers["admin-a"].call(ours.url, "DELETE", "/ports/" + body["port"]["id"])
            if answers[0] != answers[1]:
                differ.append((name, "DELETE", "a port of %s on %s" % (owner, net), answers))
    assert differ == [], "\n".join(map(str, differ))
