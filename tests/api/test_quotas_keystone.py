"""Quotas through a real Keystone (tests/helpers/keystone.py): Neutron's quota policies for
members, readers and admins, a limit enforced on a member's creates, and the real
``openstack quota set/show/list`` (which look the project up in Keystone, so they cannot work
in no-auth mode, with Neutron either)."""
import json
import os
import subprocess
import sys

import pytest
import requests

from helpers import keystone as ks
from helpers.server import Server

pytestmark = pytest.mark.skipif(not ks.available(), reason="no .venv-keystone: run "
                                "scripts/install.sh (it installs keystone and uwsgi)")
OPENSTACK = os.path.join(os.path.dirname(sys.executable), "openstack")


@pytest.fixture(scope="module")
def keystone():
    k = ks.Keystone()
    yield k
    k.stop()


@pytest.fixture(scope="module")
def server(keystone, tmp_path_factory):
    db = tmp_path_factory.mktemp("quotadb") / "trunkline.db"
    srv = Server("sqlite:///%s" % db, extra=[
        "--auth", "keystone", "--keystone-url", keystone.url, "--keystone-user", "trunkline",
        "--keystone-password", ks.PASSWORD, "--keystone-project", "service"])
    keystone.add_network_endpoint(srv.url)
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def as_user(keystone, server):
    tokens = {}

    def call(user, method, path, body=None):
        if user not in tokens:
            tokens[user] = keystone.token(user, ks.USERS[user][0])
        r = requests.request(method, server.url + "/v2.0" + path, json=body, timeout=30,
                             headers={"X-Auth-Token": tokens[user]})
        return r.status_code, (r.json() if r.content else None)
    return call


def _denied(answer, kind, message):
    status, body = answer
    assert status == 403, body
    assert body["NeutronError"]["type"] == kind
    assert body["NeutronError"]["message"] == message


def test_quota_policies(keystone, as_user):
    a, b = keystone.project_id("proj-a"), keystone.project_id("proj-b")
    # one's own project: anyone may read, details too
    for user in ("member-a", "reader-a"):
        for path in ("/quotas/%s" % a, "/quotas/%s/default" % a, "/quotas/%s/details" % a):
            assert as_user(user, "GET", path)[0] == 200, (user, path)
    # another project's, or all of them: get_quota (admin or project manager)
    _denied(as_user("member-a", "GET", "/quotas/%s" % b), "PolicyNotAuthorized",
            "rule:get_quota is disallowed by policy")
    _denied(as_user("member-a", "GET", "/quotas/%s/default" % b), "PolicyNotAuthorized",
            "rule:get_quota is disallowed by policy")
    _denied(as_user("member-a", "GET", "/quotas"), "PolicyNotAuthorized",
            "rule:get_quota is disallowed by policy")
    _denied(as_user("member-a", "GET", "/quotas/%s/details" % b), "AdminRequired",
            "User does not have admin privileges: Only admin is authorized to access quotas "
            "for another project.")
    # changes: admins only, their own project's limits included
    for user in ("member-a", "reader-a"):
        _denied(as_user(user, "PUT", "/quotas/%s" % a, {"quota": {"port": 1}}),
                "PolicyNotAuthorized", "rule:update_quota is disallowed by policy")
        _denied(as_user(user, "DELETE", "/quotas/%s" % a), "PolicyNotAuthorized",
                "rule:delete_quota is disallowed by policy")
    assert as_user("member-a", "GET", "/quotas/%s" % a)[1]["quota"]["port"] == 500
    status, body = as_user("admin-a", "PUT", "/quotas/%s" % b, {"quota": {"network": 1}})
    assert status == 200 and body["quota"]["network"] == 1
    assert as_user("admin-a", "GET", "/quotas/%s/details" % b)[0] == 200
    assert b in [q["project_id"] for q in as_user("admin-a", "GET", "/quotas")[1]["quotas"]]
    # enforced on the member's own creates
    assert as_user("member-b", "POST", "/networks", {"network": {"name": "one"}})[0] == 201
    status, body = as_user("member-b", "POST", "/networks", {"network": {"name": "two"}})
    assert status == 409
    assert body["NeutronError"]["message"] == "Quota exceeded for resources: ['network']."
    assert as_user("member-b", "GET", "/quotas/%s/details" % b)[1]["quota"]["network"] == {
        "limit": 1, "used": 1, "reserved": 0}
    assert as_user("admin-a", "DELETE", "/quotas/%s" % b)[0] == 204


def _cli(env, *args):
    r = subprocess.run([OPENSTACK, *args], env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return r.stdout


def _limits(out):
    """``quota show -f json``: [{"Resource": "ports", "Limit": 3}, ...] -> {"ports": 3}."""
    rows = json.loads(out)
    return rows if isinstance(rows, dict) else {r["Resource"]: r["Limit"] for r in rows}


def test_openstack_quota_set_show_list(keystone, server, tmp_path):
    keystone.clouds_yaml(str(tmp_path / "clouds.yaml"), "admin-a", "proj-a")
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    env.update(OS_CLIENT_CONFIG_FILE=str(tmp_path / "clouds.yaml"), OS_CLOUD="tl")
    _cli(env, "quota", "set", "--ports", "3", "--networks", "7", "proj-b")
    shown = _limits(_cli(env, "quota", "show", "--network", "proj-b", "-f", "json"))
    assert shown["ports"] == 3 and shown["networks"] == 7 and shown["subnets"] == 100
    listed = json.loads(_cli(env, "quota", "list", "--network", "-f", "json"))
    row = [r for r in listed if r["Project ID"] == keystone.project_id("proj-b")]
    assert len(row) == 1 and row[0]["Ports"] == 3 and row[0]["Networks"] == 7
    assert keystone.project_id("proj-a") not in [r["Project ID"] for r in listed]
    defaults = _limits(_cli(env, "quota", "show", "--network", "--default", "proj-b",
                            "-f", "json"))
    assert defaults["ports"] == 500
    _cli(env, "quota", "delete", "--network", "proj-b")
    shown = _limits(_cli(env, "quota", "show", "--network", "proj-b", "-f", "json"))
    assert shown["ports"] == 500
