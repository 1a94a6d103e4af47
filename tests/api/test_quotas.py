"""Quotas as Neutron 29 serves and enforces them, on SQLite and PostgreSQL: the defaults, a
project's own limits (set, show, list, delete), usage in ``/details``, 409 ``OverQuota`` for
each kind of resource (bulk creates counted whole, a security group's template rules counted
against the rule quota), the usage check on PUT, the bad inputs Neutron refuses, concurrent
creates that never pass a limit, limit writes that wake no agent, and the ``--quota-*``
options. Each test works in a project of its own (no-auth: the caller is an admin)."""
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from helpers.api import Client, error_type
from helpers.server import Server

DEFAULTS = {"network": 100, "subnet": 100, "port": 500, "security_group": 10,
            "security_group_rule": 100, "trunk": -1}


def over(resource):
    return "Quota exceeded for resources: ['%s']." % resource


def project():
    return "quota-" + uuid.uuid4().hex[:12]


def set_quota(client, project_id, **limits):
    status, body = client.put("/quotas/%s" % project_id, {"quota": limits})
    assert status == 200, body
    return body["quota"]


def used(client, project_id):
    status, body = client.get("/quotas/%s/details" % project_id)
    assert status == 200, body
    return {name: d["used"] for name, d in body["quota"].items()}


def new_group(client, p, name):
    status, body = client.post("/security-groups", {"security_group": {"project_id": p,
                                                                        "name": name}})
    assert status == 201, body
    return body["security_group"]


def refused(status, body, resource):
    assert status == 409, body
    assert body["NeutronError"] == {"type": "OverQuota", "message": over(resource), "detail": ""}


# -- the API

def test_defaults_are_neutrons(client):
    p = project()
    for path in ("/quotas/%s" % p, "/quotas/%s/default" % p):
        status, body = client.get(path)
        assert status == 200
        assert body == {"quota": DEFAULTS}
    status, body = client.get("/quotas")
    assert status == 200
    assert p not in [q["project_id"] for q in body["quotas"]]


def test_set_show_list_and_delete(client):
    p = project()
    assert set_quota(client, p, port=3, trunk=2) == dict(DEFAULTS, port=3, trunk=2)
    assert client.get("/quotas/%s" % p)[1] == {"quota": dict(DEFAULTS, port=3, trunk=2)}
    # the defaults stay the defaults
    assert client.get("/quotas/%s/default" % p)[1] == {"quota": DEFAULTS}
    listed = [q for q in client.get("/quotas")[1]["quotas"] if q["project_id"] == p]
    assert listed == [dict(DEFAULTS, port=3, trunk=2, project_id=p, tenant_id=p)]
    # a second PUT changes what it names and keeps the rest
    assert set_quota(client, p, port=-1) == dict(DEFAULTS, port=-1, trunk=2)
    status, body = client.delete("/quotas/%s" % p)
    assert status == 204 and body is None
    assert client.get("/quotas/%s" % p)[1] == {"quota": DEFAULTS}
    assert p not in [q["project_id"] for q in client.get("/quotas")[1]["quotas"]]
    status, body = client.delete("/quotas/%s" % p)
    assert status == 404
    assert body["NeutronError"]["type"] == "TenantQuotaNotFound"
    assert body["NeutronError"]["message"] == "Quota for project %s could not be found." % p


def test_project_and_unsupported_methods(client):
    status, body = client.get("/quotas/project", headers={"X-Project-Id": "me-123"})
    assert (status, body) == (200, {"project": {"project_id": "me-123"}})
    status, body = client.get("/quotas/tenant", headers={"X-Project-Id": "me-123"})
    assert (status, body) == (200, {"tenant": {"tenant_id": "me-123"}})
    status, body = client.post("/quotas", {"quota": {"port": 1}})
    assert status == 501
    assert body["NeutronError"] == {"type": "HTTPNotImplemented", "detail": "",
                                    "message": "POST requests are not supported on this "
                                               "resource."}
    assert client.get("/quotas/x/nothing")[0] == 404


def test_details_count_what_the_project_has(client):
    p = project()
    net = client.create("network", project_id=p)
    client.create("subnet", project_id=p, network_id=net["id"], cidr="10.81.0.0/24",
                  ip_version=4)
    parent = client.create("port", project_id=p, network_id=net["id"])
    client.create("port", project_id=p, network_id=net["id"])
    client.create("trunk", project_id=p, port_id=parent["id"])
    new_group(client, p, "web")
    client.create("network", project_id=project())      # another project's counts elsewhere
    set_quota(client, p, port=10)
    status, body = client.get("/quotas/%s/details" % p)
    assert status == 200
    want_used = {"network": 1, "subnet": 1, "port": 2, "trunk": 1,
                 # the default group (4 rules) and "web" (2 egress rules)
                 "security_group": 2, "security_group_rule": 6}
    assert body == {"quota": {name: {"limit": 10 if name == "port" else limit,
                                     "used": want_used[name], "reserved": 0}
                              for name, limit in DEFAULTS.items()}}


# -- enforcement

def _network(client, p):
    return client.post("/networks", {"network": {"project_id": p}})


def _subnet(client, p, net, i):
    return client.post("/subnets", {"subnet": {"project_id": p, "network_id": net,
                                               "cidr": "10.82.%d.0/24" % i, "ip_version": 4}})


@pytest.mark.parametrize("kind", ["network", "subnet", "port", "trunk", "security_group",
                                  "security_group_rule"])
def test_a_create_at_the_limit_is_refused(client, kind):
    p = project()
    net = client.create("network", project_id=p)
    group = new_group(client, p, "g")
    ports = [client.create("port", project_id=p, network_id=net["id"]) for _ in range(3)]
    make = {
        "network": lambda i: _network(client, p),
        "subnet": lambda i: _subnet(client, p, net["id"], i),
        "port": lambda i: client.post("/ports", {"port": {"project_id": p,
                                                          "network_id": net["id"]}}),
        "trunk": lambda i: client.post("/trunks", {"trunk": {"project_id": p,
                                                             "port_id": ports[i]["id"]}}),
        "security_group": lambda i: client.post("/security-groups", {"security_group": {
            "project_id": p, "name": "g%d" % i}}),
        "security_group_rule": lambda i: client.post("/security-group-rules", {
            "security_group_rule": {"project_id": p, "security_group_id": group["id"],
                                    "direction": "ingress", "protocol": "tcp",
                                    "port_range_min": 100 + i, "port_range_max": 100 + i}}),
    }[kind]
    if kind in ("security_group", "security_group_rule"):
        # a new group brings two egress rules: let the group quota be what stops it
        set_quota(client, p, security_group_rule=-1)
    base = used(client, p)[kind]
    set_quota(client, p, **{kind: base + 2})
    for i in range(2):
        status, body = make(i)
        assert status == 201, body
    status, body = make(2)
    refused(status, body, kind)
    assert used(client, p)[kind] == base + 2
    # unlimited lets it through
    set_quota(client, p, **{kind: -1})
    status, body = make(2)
    assert status == 201, body


def test_bulk_creates_count_the_whole_request(client):
    p = project()
    net = client.create("network", project_id=p)
    set_quota(client, p, port=3)
    item = {"project_id": p, "network_id": net["id"]}
    status, body = client.post("/ports", {"ports": [item] * 4})
    refused(status, body, "port")
    assert used(client, p)["port"] == 0          # nothing of the refused request stays
    status, body = client.post("/ports", {"ports": [item] * 3})
    assert status == 201 and len(body["ports"]) == 3
    refused(*client.post("/ports", {"port": item}), "port")
    # a bulk across projects counts each project's part against its own quota
    other = project()
    client.create("network", project_id=other)
    set_quota(client, other, network=1)
    status, body = client.post("/networks", {"networks": [{"project_id": other},
                                                          {"project_id": project()}]})
    refused(status, body, "network")
    status, body = client.post("/networks", {"networks": [{"project_id": project()},
                                                          {"project_id": project()}]})
    assert status == 201


def test_bulk_rules_count_the_whole_request(client):
    p = project()
    group = new_group(client, p, "g")
    base = used(client, p)["security_group_rule"]       # the default group's 4, and g's 2
    set_quota(client, p, security_group_rule=base + 2)
    rules = [{"project_id": p, "security_group_id": group["id"], "direction": "ingress",
              "protocol": "udp", "port_range_min": port, "port_range_max": port}
             for port in (53, 67, 123)]
    refused(*client.post("/security-group-rules", {"security_group_rules": rules}),
            "security_group_rule")
    assert used(client, p)["security_group_rule"] == base
    status, body = client.post("/security-group-rules", {"security_group_rules": rules[:2]})
    assert status == 201, body


def test_a_security_group_counts_its_template_rules(client):
    p = project()
    client.create("network", project_id=p)                  # the default group: 4 rules
    assert used(client, p)["security_group_rule"] == 4
    set_quota(client, p, security_group_rule=5)              # one short of a group's 2
    refused(*client.post("/security-groups", {"security_group": {"project_id": p,
                                                                  "name": "web"}}),
            "security_group_rule")
    assert used(client, p)["security_group"] == 1           # no group was left behind
    set_quota(client, p, security_group_rule=6)
    status, body = client.post("/security-groups", {"security_group": {"project_id": p,
                                                                        "name": "web"}})
    assert status == 201, body
    assert used(client, p)["security_group_rule"] == 6


def test_the_default_group_and_its_quotas(client):
    """Neutron 29: the lazily created default group is not held to the group quota, but its
    rules are checked against the rule quota, so a first network create can fail on it."""
    p = project()
    set_quota(client, p, security_group=0)
    status, body = _network(client, p)
    assert status == 201, body
    assert used(client, p)["security_group"] == 1
    q = project()
    set_quota(client, q, security_group_rule=3)
    refused(*_network(client, q), "security_group_rule")
    assert used(client, q) == dict.fromkeys(DEFAULTS, 0)    # the network went too
    set_quota(client, q, security_group_rule=4)
    assert _network(client, q)[0] == 201


def test_a_limit_below_the_usage_is_refused_unless_forced(client):
    p = project()
    for _ in range(2):
        client.create("network", project_id=p)
    status, body = client.put("/quotas/%s" % p, {"quota": {"subnet": 5, "network": 1}})
    assert status == 400
    assert body["NeutronError"] == {
        "type": "HTTPBadRequest", "detail": "",
        "message": "Quota limit 1 for network must be greater than or equal to already used 2"}
    assert client.get("/quotas/%s" % p)[1]["quota"] == DEFAULTS     # nothing was applied
    # check_limit is accepted (it is the default since Epoxy); force skips the check
    assert set_quota(client, p, network=2, check_limit=True)["network"] == 2
    assert set_quota(client, p, network=1, force=True)["network"] == 1
    refused(*_network(client, p), "network")
    assert set_quota(client, p, network=-1)["network"] == -1


BAD = [
    ({"quota": {"port": -2}}, "HTTPBadRequest",
     "Invalid input for port. Reason: '-2' is too small - must be at least '-1'."),
    ({"quota": {"port": 2147483648}}, "HTTPBadRequest",
     "Invalid input for port. Reason: '2147483648' is too large - must be no larger than "
     "'2147483647'."),
    ({"quota": {"port": "abc"}}, "InvalidInput",
     "Invalid input for operation: 'abc' is not an integer."),
    ({"quota": {"port": "1.5"}}, "InvalidInput",
     "Invalid input for operation: '1.5' is not an integer."),
    ({"quota": {"port": None}}, "InvalidInput",
     "Invalid input for operation: 'None' is not an integer."),
    ({"quota": {"port": [1]}}, "InvalidInput",
     "Invalid input for operation: '[1]' is not an integer."),
    ({"quota": {"port": -5, "network": "x"}}, "InvalidInput",
     "Invalid input for operation: 'x' is not an integer."),
    ({"quota": {"foo": 3}}, "HTTPBadRequest", "Unrecognized attribute(s) 'foo'"),
    ({"quota": {"port": 1, "foo": 2, "bar": 1}}, "HTTPBadRequest",
     "Unrecognized attribute(s) 'bar, foo'"),
    ({"quota": {"project_id": "x"}}, "HTTPBadRequest",
     "Unrecognized attribute(s) 'project_id, tenant_id'"),
    # Neutron answers these three with a 500
    ({"port": 3}, "HTTPBadRequest", "Unable to find 'quota' in request body"),
    ([], "HTTPBadRequest", "Unable to find 'quota' in request body"),
    ({"quota": "abc"}, "HTTPBadRequest", "Object 'quota' contains invalid data"),
]


@pytest.mark.parametrize("body,kind,message", BAD)
def test_bad_limits_are_refused_whole(client, body, kind, message):
    p = project()
    status, answer = client.put("/quotas/%s" % p, body)
    assert status == 400, answer
    assert answer["NeutronError"] == {"type": kind, "message": message, "detail": ""}
    assert p not in [q["project_id"] for q in client.get("/quotas")[1]["quotas"]]


def test_a_project_id_longer_than_any_project(client):
    long_id = "p" * 256
    assert client.get("/quotas/%s" % long_id)[1] == {"quota": DEFAULTS}
    status, body = client.put("/quotas/%s" % long_id, {"quota": {"port": 3}})
    assert status == 400, body
    assert body["NeutronError"]["message"] == (
        "Invalid input for project_id. Reason: '%s' exceeds maximum length of 255." % long_id)
    assert client.delete("/quotas/%s" % long_id)[0] == 404
    assert set_quota(client, "p" * 255, port=3)["port"] == 3


def test_what_neutron_converts_is_accepted(client):
    p = project()
    assert set_quota(client, p, port="5")["port"] == 5
    assert set_quota(client, p, port=1.5)["port"] == 1
    assert set_quota(client, p, port=True)["port"] == 1
    assert set_quota(client, p, port=2147483647)["port"] == 2147483647


def test_limit_writes_wake_no_agent(client, server):
    """A quota concerns no host: its writes take no revision of the change log."""
    def revision():
        r = requests.get(server.url + "/agent/v1/hosts/h-quota/state", timeout=10)
        assert r.status_code == 200, r.text
        return r.json()["revision"]
    before = revision()
    p = project()
    set_quota(client, p, port=7)
    client.delete("/quotas/%s" % p)
    assert revision() == before
    client.create("network", project_id=p)
    assert revision() > before


# -- concurrency: a multi-worker server, many clients at once

THREADS = 16


@pytest.fixture(scope="module")
def workers(backend, db_url_factory):
    srv = Server(db_url_factory(backend), workers=4)
    yield srv
    srv.stop()


def _post(url, path, body):
    r = requests.post(url + "/v2.0" + path, json=body, timeout=60)
    return r.status_code, r.json()


def test_concurrent_creates_never_pass_the_limit(workers):
    client = Client(workers.url)
    p = project()
    net = client.create("network", project_id=p)
    set_quota(client, p, port=5, network=3)
    with ThreadPoolExecutor(THREADS) as pool:
        ports = list(pool.map(lambda _: _post(workers.url, "/ports", {"port": {
            "project_id": p, "network_id": net["id"]}}), range(24)))
        nets = list(pool.map(lambda _: _post(workers.url, "/networks", {"network": {
            "project_id": p}}), range(12)))
    for results, kind, free in ((ports, "port", 5), (nets, "network", 2)):
        assert sorted(s for s, _ in results) == [201] * free + [409] * (len(results) - free)
        assert all(b["NeutronError"]["message"] == over(kind) for s, b in results if s == 409)
    assert used(client, p)["port"] == 5 and used(client, p)["network"] == 3


def test_concurrent_bulk_creates_never_pass_the_limit(workers):
    client = Client(workers.url)
    p = project()
    net = client.create("network", project_id=p)
    set_quota(client, p, port=7)
    item = {"project_id": p, "network_id": net["id"]}
    with ThreadPoolExecutor(THREADS) as pool:
        results = list(pool.map(lambda _: _post(workers.url, "/ports", {"ports": [item] * 2}),
                                range(12)))
    assert sorted(s for s, _ in results) == [201] * 3 + [409] * 9   # 3 x 2; a 4th pair is 8
    assert used(client, p)["port"] == 6


# -- the server's defaults

def test_quota_options_set_the_defaults(db_url_factory):
    srv = Server(db_url_factory("sqlite"), extra=["--quota-network", "2", "--quota-port", "-1",
                                                   "--quota-trunk", "0"])
    try:
        client = Client(srv.url)
        p = project()
        want = dict(DEFAULTS, network=2, port=-1, trunk=0)
        assert client.get("/quotas/%s/default" % p)[1] == {"quota": want}
        assert client.get("/quotas/%s" % p)[1] == {"quota": want}
        for _ in range(2):
            assert _network(client, p)[0] == 201
        refused(*_network(client, p), "network")
        # a project's own limit overrides the option
        set_quota(client, p, network=3)
        assert _network(client, p)[0] == 201
    finally:
        srv.stop()
