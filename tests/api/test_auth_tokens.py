"""Tokens as keystonemiddleware treats them, against a real Keystone (tests/helpers/keystone.py):
application credential access rules, service tokens and ``allow_expired``, Keystone behind
TLS (CA bundle, insecure, client certificate), the service user authenticating with an
application credential, and ``trunkline lab`` authenticating from ``OS_*`` variables (up to a
lab VM plugged on a Keystone-mode stack: root and Open vSwitch). One Keystone for the module."""
import os
import shutil
import subprocess
import sys
import tempfile
import time

import pytest
import requests

from helpers import keystone as ks
from helpers.dataplane import needs_root_ovs
from helpers.server import Server, wait_for
from trunkline.stack import Stack

pytestmark = pytest.mark.skipif(not ks.available(), reason="no .venv-keystone: run "
                                "scripts/install.sh (it installs keystone and uwsgi)")
TRUNKLINE = os.path.join(os.path.dirname(sys.executable), "trunkline")
GET_NETWORKS = {"service": "network", "method": "GET", "path": "/v2.0/networks"}
GET_A_NETWORK = {"service": "network", "method": "GET", "path": "/v2.0/networks/*"}


@pytest.fixture(scope="module")
def keystone():
    k = ks.Keystone()
    print("\nkeystone started in %.1f s" % k.startup_seconds)
    yield k
    k.stop()


def _service_user(url=None):
    return ["--auth", "keystone", "--keystone-url", url, "--keystone-user", "trunkline",
            "--keystone-password", ks.PASSWORD, "--keystone-project", "service"]


@pytest.fixture(scope="module")
def server(keystone, tmp_path_factory):
    db = tmp_path_factory.mktemp("tokdb") / "trunkline.db"
    srv = Server("sqlite:///%s" % db, extra=_service_user(keystone.url))
    keystone.add_network_endpoint(srv.url)  # access rules are checked for the catalog's type
    yield srv
    srv.stop()


def _call(url, method, path, token=None, service_token=None, body=None):
    headers = {}
    if token:
        headers["X-Auth-Token"] = token
    if service_token:
        headers["X-Service-Token"] = service_token
    r = requests.request(method, url + path, json=body, headers=headers, timeout=30)
    return r.status_code, (r.json() if r.content else None)


# -- application credential access rules

def test_access_rules_allow_exactly_what_they_list(keystone, server):
    member = keystone.token("member-a", "proj-a")
    status, body = _call(server.url, "POST", "/v2.0/networks", member,
                         body={"network": {"name": "ac-net"}})
    assert status == 201, body
    net = body["network"]["id"]
    cred = keystone.app_credential("member-a", "proj-a", [GET_NETWORKS, GET_A_NETWORK])
    token = keystone.app_credential_token(*cred)

    status, body = _call(server.url, "GET", "/v2.0/networks", token)
    assert status == 200 and net in [n["id"] for n in body["networks"]], body
    assert _call(server.url, "GET", "/v2.0/networks?name=ac-net", token)[0] == 200
    assert _call(server.url, "GET", "/v2.0/networks/" + net, token)[0] == 200
    # what no rule lists is refused as keystonemiddleware refuses it: the token is not valid
    for method, path, body in (("POST", "/v2.0/networks", {"network": {"name": "no"}}),
                               ("GET", "/v2.0/ports", None),
                               ("DELETE", "/v2.0/networks/" + net, None),
                               ("GET", "/v2.0/networks/%s/extra" % net, None)):
        status, answer = _call(server.url, method, path, token, body=body)
        assert status == 401, (method, path, answer)
        assert answer["NeutronError"]["type"] == "HTTPUnauthorized"
    # nothing was created by the refused POST, and the network is still there
    status, body = _call(server.url, "GET", "/v2.0/networks?name=no", member)
    assert status == 200 and body["networks"] == []
    assert _call(server.url, "GET", "/v2.0/networks/" + net, member)[0] == 200


def test_rules_for_another_service_or_none_at_all(keystone, server):
    other = keystone.app_credential("member-a", "proj-a", [
        {"service": "compute", "method": "GET", "path": "/v2.0/networks"}])
    token = keystone.app_credential_token(*other)
    assert _call(server.url, "GET", "/v2.0/networks", token)[0] == 401
    # an application credential without access rules has all its roles' rights
    free = keystone.app_credential_token(*keystone.app_credential("member-a", "proj-a"))
    status, body = _call(server.url, "POST", "/v2.0/networks", free,
                         body={"network": {"name": "free"}})
    assert status == 201, body


def test_a_service_token_lifts_the_access_rules(keystone, server):
    token = keystone.app_credential_token(*keystone.app_credential(
        "member-a", "proj-a", [GET_NETWORKS]))
    service = keystone.token("trunkline", "service")
    assert _call(server.url, "GET", "/v2.0/ports", token)[0] == 401
    status, body = _call(server.url, "GET", "/v2.0/ports", token, service)
    assert status == 200, body
    # still the user's request: the user's project, not the service's
    status, body = _call(server.url, "POST", "/v2.0/networks", token, service,
                         body={"network": {"name": "for-user"}})
    assert status == 201, body
    assert body["network"]["project_id"] == keystone.project_id("proj-a")


# -- service tokens

def test_service_tokens(keystone, server):
    member = keystone.token("member-a", "proj-a")
    service = keystone.token("trunkline", "service")
    assert _call(server.url, "GET", "/v2.0/networks", member, service)[0] == 200
    # an invalid service token fails the request, as does one without the service role
    assert _call(server.url, "GET", "/v2.0/networks", member, "gAAAAAnotatoken")[0] == 401
    not_service = keystone.token("member-b", "proj-b")
    assert _call(server.url, "GET", "/v2.0/networks", member, not_service)[0] == 401
    # a service token alone is no user token
    assert _call(server.url, "GET", "/v2.0/networks", None, service)[0] == 401


def test_expired_user_token_passes_only_with_a_service_token(keystone, server):
    keystone.restart(token_expiration=6)
    try:
        expired = keystone.token("member-a", "proj-a")
        # used while valid too, so it sits in the token cache until it expires
        assert _call(server.url, "GET", "/v2.0/networks", expired)[0] == 200
    finally:
        keystone.restart(token_expiration=3600)
    service = keystone.token("trunkline", "service")
    not_service = keystone.token("member-b", "proj-b")
    deadline = time.monotonic() + 30
    while _call(server.url, "GET", "/v2.0/networks", expired)[0] != 401:
        assert time.monotonic() < deadline, "the short-lived token never expired"
        time.sleep(0.5)
    status, body = _call(server.url, "GET", "/v2.0/networks", expired, service)
    assert status == 200, body
    status, body = _call(server.url, "POST", "/v2.0/networks", expired, service,
                         body={"network": {"name": "late"}})
    assert status == 201 and body["network"]["project_id"] == keystone.project_id("proj-a")
    assert _call(server.url, "GET", "/v2.0/networks", expired, not_service)[0] == 401
    assert _call(server.url, "GET", "/v2.0/networks", expired)[0] == 401


def test_service_token_roles_are_options(keystone, tmp_path):
    # the roles a service token needs; without the requirement a non-service token is
    # accepted as a service token but never lets an expired token through
    srv = Server("sqlite:///%s" % (tmp_path / "r.db"), extra=_service_user(keystone.url) + [
        "--keystone-service-token-roles", "reader", "--no-keystone-service-token-roles-required"])
    try:
        member = keystone.token("member-a", "proj-a")
        service = keystone.token("trunkline", "service")
        assert _call(srv.url, "GET", "/v2.0/networks", member, service)[0] == 200
        assert _call(srv.url, "GET", "/v2.0/networks", member,
                     keystone.token("member-b", "proj-b"))[0] == 200
    finally:
        srv.stop()


# -- Keystone over TLS

@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("certs"))
    return {"server": ks.make_cert(d, "keystone"), "client": ks.make_cert(d, "client")}


def _tls_server(tmp_path, url, *extra):
    return Server("sqlite:///%s" % (tmp_path / ("t%d.db" % time.monotonic_ns())),
                  extra=_service_user(url) + list(extra))


def test_keystone_over_tls_with_a_ca_bundle(keystone, certs, tmp_path):
    proxy = ks.TlsProxy(keystone.port, *certs["server"])
    member = keystone.token("member-a", "proj-a")
    try:
        srv = _tls_server(tmp_path, proxy.url, "--keystone-cafile", certs["server"][0])
        try:
            status, body = _call(srv.url, "GET", "/v2.0/networks", member)
            assert status == 200, (body, srv.output())
        finally:
            srv.stop()
        # without the CA the certificate is not trusted: 503, and the log says what to set
        srv = _tls_server(tmp_path, proxy.url)
        try:
            status, body = _call(srv.url, "GET", "/v2.0/networks", member)
            assert status == 503, body
            assert "Keystone" in body["NeutronError"]["message"]
            out = srv.output()
            assert "CERTIFICATE_VERIFY_FAILED" in out and "--keystone-cafile" in out, out
        finally:
            srv.stop()
        srv = _tls_server(tmp_path, proxy.url, "--keystone-insecure")
        try:
            assert _call(srv.url, "GET", "/v2.0/networks", member)[0] == 200
        finally:
            srv.stop()
    finally:
        proxy.stop()


def test_keystone_wanting_a_client_certificate(keystone, certs, tmp_path):
    cert, key = certs["client"]
    proxy = ks.TlsProxy(keystone.port, *certs["server"], client_ca=cert)
    member = keystone.token("member-a", "proj-a")
    try:
        srv = _tls_server(tmp_path, proxy.url, "--keystone-cafile", certs["server"][0],
                          "--keystone-certfile", cert, "--keystone-keyfile", key)
        try:
            status, body = _call(srv.url, "GET", "/v2.0/networks", member)
            assert status == 200, (body, srv.output())
        finally:
            srv.stop()
        srv = _tls_server(tmp_path, proxy.url, "--keystone-cafile", certs["server"][0])
        try:
            assert _call(srv.url, "GET", "/v2.0/networks", member)[0] == 503
        finally:
            srv.stop()
    finally:
        proxy.stop()


def test_tls_files_must_exist(tmp_path):
    r = subprocess.run([TRUNKLINE, "server", "--bind", "127.0.0.1:1", "--db",
                        "sqlite:///%s" % (tmp_path / "x.db")] + _service_user(
        "https://127.0.0.1:1/v3") + ["--keystone-cafile", str(tmp_path / "missing.pem")],
        capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    assert "--keystone-cafile" in r.stderr and "no such file" in r.stderr


# -- the service user with an application credential

def test_service_user_with_an_application_credential(keystone, tmp_path, monkeypatch):
    cred_id, secret = keystone.app_credential("trunkline", "service")
    args = ["--auth", "keystone", "--keystone-url", keystone.url,
            "--keystone-auth-type", "v3applicationcredential",
            "--keystone-application-credential-id", cred_id]
    member = keystone.token("member-a", "proj-a")
    monkeypatch.setenv("TRUNKLINE_KEYSTONE_APPLICATION_CREDENTIAL_SECRET", secret)
    srv = Server("sqlite:///%s" % (tmp_path / "ac.db"), extra=args)
    try:
        status, body = _call(srv.url, "GET", "/v2.0/networks", member)
        assert status == 200, (body, srv.output())
        assert secret not in srv.output()
    finally:
        srv.stop()
    # the secret is what authenticates it: a wrong one cannot validate any token
    monkeypatch.setenv("TRUNKLINE_KEYSTONE_APPLICATION_CREDENTIAL_SECRET", "wrong")
    srv = Server("sqlite:///%s" % (tmp_path / "ac2.db"), extra=args)
    try:
        assert _call(srv.url, "GET", "/v2.0/networks", member)[0] == 503
    finally:
        srv.stop()
    monkeypatch.delenv("TRUNKLINE_KEYSTONE_APPLICATION_CREDENTIAL_SECRET")
    r = subprocess.run([TRUNKLINE, "server", "--bind", "127.0.0.1:1", "--db",
                        "sqlite:///%s" % (tmp_path / "x.db")] + args,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    assert "--keystone-application-credential-secret" in r.stderr
    assert "TRUNKLINE_KEYSTONE_APPLICATION_CREDENTIAL_SECRET" in r.stderr


# -- trunkline lab with OS_* credentials

def _os_env(keystone, user, project):
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    env.update(OS_AUTH_URL=keystone.url, OS_USERNAME=user, OS_PASSWORD=ks.PASSWORD,
               OS_PROJECT_NAME=project, OS_USER_DOMAIN_NAME="Default",
               OS_PROJECT_DOMAIN_NAME="Default", OS_IDENTITY_API_VERSION="3",
               OS_REGION_NAME="RegionOne")
    return env


def test_lab_client_authenticates_from_os_variables(keystone, server, monkeypatch,
                                                     tmp_path):
    from trunkline.lab import neutron
    admin = keystone.token("admin-a", "proj-a")
    status, body = _call(server.url, "POST", "/v2.0/networks", admin,
                         body={"network": {"name": "lab-net"}})
    assert status == 201
    status, body = _call(server.url, "POST", "/v2.0/ports", admin,
                         body={"port": {"network_id": body["network"]["id"], "name": "lab-p"}})
    assert status == 201
    port = body["port"]["id"]
    for k in [k for k in os.environ if k.startswith("OS_")]:
        monkeypatch.delenv(k)
    neutron.keystone.cache_clear()
    with pytest.raises(neutron.NeutronError, match="HTTP 401"):
        neutron.Neutron(server.url).find_port("lab-p")
    for k, v in _os_env(keystone, "admin-a", "proj-a").items():
        if k.startswith("OS_"):
            monkeypatch.setenv(k, v)
    neutron.keystone.cache_clear()
    try:
        api = neutron.Neutron()                     # the endpoint from Keystone's catalog
        assert api.endpoint == server.url
        assert api.find_port("lab-p")["id"] == port
        assert api.update_port(port, device_id="vm-x")["device_id"] == "vm-x"
        assert api.agents() == []
        # the same from clouds.yaml
        for k in [k for k in os.environ if k.startswith("OS_")]:
            monkeypatch.delenv(k)
        keystone.clouds_yaml(str(tmp_path / "clouds.yaml"), "admin-a", "proj-a")
        monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(tmp_path / "clouds.yaml"))
        monkeypatch.setenv("OS_CLOUD", "tl")
        neutron.keystone.cache_clear()
        api = neutron.Neutron()
        assert api.endpoint == server.url
        assert api.find_port("lab-p")["device_id"] == "vm-x"
    finally:
        neutron.keystone.cache_clear()


def test_lab_cli_against_a_keystone_server(keystone, server, tmp_path):
    admin = keystone.token("admin-a", "proj-a")
    status, body = _call(server.url, "POST", "/v2.0/networks", admin,
                         body={"network": {"name": "lab-cli-net"}})
    status, body = _call(server.url, "POST", "/v2.0/ports", admin,
                         body={"port": {"network_id": body["network"]["id"], "name": "lab-cli"}})
    assert status == 201
    argv = [TRUNKLINE, "lab", "vm", "create", "vm1", "--port", "lab-cli",
            "--state-dir", str(tmp_path)]
    noauth = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    r = subprocess.run(argv + ["--endpoint", server.url], env=noauth, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 1 and "HTTP 401" in r.stderr, r.stderr
    # with OS_* the lab finds the server in the catalog, finds the port and asks for the
    # host's agent: it gets as far as this server allows (it has no agents)
    r = subprocess.run(argv, env=_os_env(keystone, "admin-a", "proj-a"), capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 1, r.stdout
    assert "no live" in r.stderr and "401" not in r.stderr, r.stderr


@pytest.mark.root
@pytest.mark.ovs
@needs_root_ovs
def test_lab_vm_on_a_keystone_stack(keystone, tmp_path):
    """The whole lab path in Keystone mode: a stack (private Open vSwitch, agent with the
    agent secret) whose server validates tokens, and `trunkline lab vm create/del` with only
    OS_* credentials."""
    root = tempfile.mkdtemp(prefix="tl-kslab-", dir="/run")
    os.chmod(root, 0o755)
    secret = os.path.join(root, "agent-secret")
    with open(secret, "w") as f:
        f.write("kslab-secret-0123456789\n")
    admin = keystone.token("admin-a", "proj-a")
    stack = Stack(os.path.join(root, "stack"), isolated=True, log=lambda *_: None,
                  agent_secret_file=secret, server_args=_service_user(keystone.url),
                  api_headers={"X-Auth-Token": admin})
    env = _os_env(keystone, "admin-a", "proj-a")
    lab = [TRUNKLINE, "lab", "vm"]
    where = ["--endpoint", stack.url, "--state-dir", os.path.join(root, "lab")]
    try:
        stack.start()
        status, net = _call(stack.url, "POST", "/v2.0/networks", admin,
                            body={"network": {"name": "kslab"}})
        assert status == 201, net
        net = net["network"]["id"]
        assert _call(stack.url, "POST", "/v2.0/subnets", admin, body={"subnet": {
            "network_id": net, "cidr": "10.77.0.0/24", "ip_version": 4}})[0] == 201
        status, port = _call(stack.url, "POST", "/v2.0/ports", admin,
                             body={"port": {"network_id": net, "name": "kslab-p"}})
        assert status == 201, port
        port = port["port"]["id"]
        r = subprocess.run(lab + ["create", "ksvm", "--port", "kslab-p"] + where, env=env,
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        assert "bound to %s" % stack.host in r.stdout, r.stdout
        p = _call(stack.url, "GET", "/v2.0/ports/" + port, admin)[1]["port"]
        assert p["binding:host_id"] == stack.host and p["device_owner"].startswith("compute:")
        wait_for(lambda: _call(stack.url, "GET", "/v2.0/ports/" + port, admin)[1]["port"][
            "status"] == "ACTIVE", 60, "the lab VM's port to go ACTIVE")
        r = subprocess.run(lab + ["del", "ksvm"] + where, env=env, capture_output=True,
                           text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        p = _call(stack.url, "GET", "/v2.0/ports/" + port, admin)[1]["port"]
        assert p["device_id"] == "" and p["binding:host_id"] == ""
    finally:
        subprocess.run([TRUNKLINE, "lab", "down"] + where, env=env, capture_output=True,
                       timeout=120)
        stack.stop()
        shutil.rmtree(root, ignore_errors=True)
