"""A real Keystone for the auth tests: PyPI ``keystone`` from ``.venv-keystone`` (made by
scripts/install.sh) under uwsgi, SQLite in a private directory, on a free 127.0.0.1 port.
Bootstrapped like a small cloud: projects A and B, users with member, reader and admin roles in
them, a ``service`` user in the ``service`` project, and a catalog entry for trunkline's
network endpoint. Application credentials (with access rules), a restart with another token
lifetime, and a TLS proxy in front of Keystone with a self-signed certificate made here.
Everything is removed by ``stop()``; the uwsgi process is ended by its PID."""
import datetime
import os
import select
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import time

import requests

from trunkline.stack import free_port, stop_group

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VENV = os.path.join(ROOT, ".venv-keystone")
PASSWORD = "tl-secret-pw"
# user name -> (project, role)
USERS = {
    "admin-a": ("proj-a", "admin"),
    "member-a": ("proj-a", "member"),
    "reader-a": ("proj-a", "reader"),
    "member-b": ("proj-b", "member"),
    "reader-b": ("proj-b", "reader"),
    "trunkline": ("service", "service"),
}

CONF = """[DEFAULT]
log_file = {dir}/keystone.log
[database]
connection = sqlite:///{dir}/keystone.db
[fernet_tokens]
key_repository = {dir}/fernet-keys
[fernet_receipts]
key_repository = {dir}/fernet-receipts
[credential]
key_repository = {dir}/credential-keys
[token]
expiration = {expiration}
[cache]
enabled = false
[identity]
# bcrypt's fewest rounds: test passwords need no strength, and every user created or token
# issued hashes one (seconds apiece on a busy machine at the default 12)
password_hash_rounds = 4
"""


def _env():
    """The environment for Keystone's processes: nothing that would make its Python find
    trunkline's modules (this very file is named keystone.py)."""
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}


def available():
    return os.path.exists(os.path.join(VENV, "bin", "keystone-manage")) and \
        os.path.exists(os.path.join(VENV, "bin", "uwsgi"))


class Keystone:
    def __init__(self, token_expiration=3600, threads=4):
        """``threads=1`` serialises Keystone's requests: concurrent writes (several clients
        creating and deleting projects and users, as tempest does) otherwise fail on SQLite's
        lock ("database is locked": a 500, or the connection dropped)."""
        self.dir = tempfile.mkdtemp(prefix="tl-ks-")
        self.port = free_port()
        self.url = "http://127.0.0.1:%d/v3" % self.port
        self.conf = os.path.join(self.dir, "keystone.conf")
        with open(self.conf, "w") as f:
            f.write(CONF.format(dir=self.dir, expiration=token_expiration))
        self.threads = threads
        self.proc = None
        self.ids = {}
        started = time.monotonic()
        try:
            self._manage("db_sync")
            self._manage("fernet_setup", "--keystone-user", "root", "--keystone-group", "root")
            self._manage("credential_setup", "--keystone-user", "root",
                         "--keystone-group", "root")
            self._manage("bootstrap", "--bootstrap-password", PASSWORD,
                         "--bootstrap-admin-url", self.url, "--bootstrap-public-url", self.url,
                         "--bootstrap-internal-url", self.url,
                         "--bootstrap-region-id", "RegionOne")
            self._start()
            self._populate()
        except Exception:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - started

    def _manage(self, *args):
        r = subprocess.run([os.path.join(VENV, "bin", "keystone-manage"), "--config-file",
                            self.conf, *args], cwd=self.dir, env=_env(),
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if r.returncode != 0:
            raise RuntimeError("keystone-manage %s failed: %s" % (args[0], r.stderr[-2000:]))

    def _start(self):
        log = open(os.path.join(self.dir, "uwsgi.log"), "wb")
        env = dict(_env(), OS_KEYSTONE_CONFIG_FILES=self.conf)
        self.proc = subprocess.Popen(
            [os.path.join(VENV, "bin", "uwsgi"), "--http-socket", "127.0.0.1:%d" % self.port,
             "--virtualenv", VENV, "--module", "keystone.wsgi.api:application",
             "--master", "--processes", "1", "--threads", str(self.threads), "--die-on-term",
             "--need-app", "--disable-logging",
             "--add-header", "Connection: close"],
            stdout=log, stderr=subprocess.STDOUT, env=env, cwd=self.dir,
            start_new_session=True)
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("keystone under uwsgi exited: " + self.log())
            try:
                if requests.get(self.url, timeout=10).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise RuntimeError("keystone did not answer within 60 s: " + self.log())

    def log(self):
        try:
            with open(os.path.join(self.dir, "uwsgi.log"), errors="replace") as f:
                return f.read()[-3000:]
        except OSError:
            return ""

    # -- the cloud

    def _api(self, method, path, token, body=None, expect=(200, 201, 204)):
        r = requests.request(method, self.url + path, json=body,
                             headers={"X-Auth-Token": token}, timeout=30)
        assert r.status_code in expect, (method, path, r.status_code, r.text)
        return r.json() if r.content else None

    def _populate(self):
        admin = self.token("admin", "admin")
        roles = {r["name"]: r["id"] for r in self._api("GET", "/roles", admin)["roles"]}
        if "service" not in roles:
            roles["service"] = self._api("POST", "/roles", admin,
                                         {"role": {"name": "service"}})["role"]["id"]
        projects = {p["name"]: p["id"] for p in self._api("GET", "/projects", admin)["projects"]}
        for name in ("proj-a", "proj-b", "service"):
            if name not in projects:
                projects[name] = self._api("POST", "/projects", admin, {"project": {
                    "name": name, "domain_id": "default"}})["project"]["id"]
        users = {}
        for name, (project, role) in USERS.items():
            users[name] = self._api("POST", "/users", admin, {"user": {
                "name": name, "password": PASSWORD, "domain_id": "default"}})["user"]["id"]
            self._api("PUT", "/projects/%s/users/%s/roles/%s" % (
                projects[project], users[name], roles[role]), admin)
        self.ids = {"projects": projects, "users": users, "roles": roles}

    def add_network_endpoint(self, url):
        """The catalog entry clients find trunkline by (type ``network``)."""
        admin = self.token("admin", "admin")
        service = self._api("POST", "/services", admin, {"service": {
            "type": "network", "name": "trunkline"}})["service"]["id"]
        for interface in ("public", "internal", "admin"):
            self._api("POST", "/endpoints", admin, {"endpoint": {
                "service_id": service, "interface": interface, "url": url,
                "region_id": "RegionOne"}})

    def project_id(self, name):
        return self.ids["projects"][name]

    def token(self, user, project):
        """A project-scoped token for ``user`` (password auth, as a client does)."""
        body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
            "name": user, "domain": {"id": "default"}, "password": PASSWORD}}},
            "scope": {"project": {"name": project, "domain": {"id": "default"}}}}}
        r = requests.post(self.url + "/auth/tokens", json=body, timeout=30)
        assert r.status_code == 201, r.text
        return r.headers["X-Subject-Token"]

    def short_lived_token(self, trustor, trustee, project, seconds):
        """A token that expires in ``seconds``: ``trustee`` acting for ``trustor`` (member of
        ``project``) through a trust that ends then; Keystone ends the token with the trust."""
        trustor_token = self.token(trustor, project)
        until = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(
            seconds=seconds)
        trust = self._api("POST", "/OS-TRUST/trusts", trustor_token, {"trust": {
            "trustor_user_id": self.ids["users"][trustor],
            "trustee_user_id": self.ids["users"][trustee],
            "project_id": self.ids["projects"][project], "impersonation": True,
            "roles": [{"name": "member"}],
            "expires_at": until.strftime("%Y-%m-%dT%H:%M:%S.%fZ")}})["trust"]
        body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
            "name": trustee, "domain": {"id": "default"}, "password": PASSWORD}}},
            "scope": {"OS-TRUST:trust": {"id": trust["id"]}}}}
        r = requests.post(self.url + "/auth/tokens", json=body, timeout=30)
        assert r.status_code == 201, r.text
        return r.headers["X-Subject-Token"], until

    def revoke(self, token):
        r = requests.delete(self.url + "/auth/tokens", timeout=30,
                            headers={"X-Auth-Token": token, "X-Subject-Token": token})
        assert r.status_code == 204, r.text

    def clouds_yaml(self, path, user, project):
        with open(path, "w") as f:
            f.write("clouds:\n  tl:\n    auth:\n      auth_url: %s\n      username: %s\n"
                    "      password: %s\n      project_name: %s\n"
                    "      user_domain_id: default\n      project_domain_id: default\n"
                    "    region_name: RegionOne\n    identity_api_version: 3\n"
                    % (self.url, user, PASSWORD, project))

    def app_credential(self, user, project, access_rules=None):
        """A new application credential of ``user`` (its token scoped to ``project``), limited
        to ``access_rules`` ([{"service", "method", "path"}]) when given: (id, secret)."""
        body = {"name": "tl-ac-%d" % time.monotonic_ns()}
        if access_rules is not None:
            body["access_rules"] = access_rules
        cred = self._api("POST", "/users/%s/application_credentials" % self.ids["users"][user],
                         self.token(user, project), {"application_credential": body})
        cred = cred["application_credential"]
        return cred["id"], cred["secret"]

    def app_credential_token(self, cred_id, secret):
        body = {"auth": {"identity": {"methods": ["application_credential"],
                                      "application_credential": {"id": cred_id,
                                                                 "secret": secret}}}}
        r = requests.post(self.url + "/auth/tokens", json=body, timeout=30)
        assert r.status_code == 201, r.text
        return r.headers["X-Subject-Token"]

    def restart(self, token_expiration):
        """Keystone again on the same port, data and keys, issuing tokens that live
        ``token_expiration`` seconds (tokens issued before keep their own lifetime)."""
        stop_group(self.proc, 15)
        self.proc = None
        with open(self.conf, "w") as f:
            f.write(CONF.format(dir=self.dir, expiration=token_expiration))
        self._start()

    def stop(self):
        if self.proc is not None:
            stop_group(self.proc, 15)
        shutil.rmtree(self.dir, ignore_errors=True)


def make_cert(directory, name):
    """A self-signed certificate for 127.0.0.1 and its key (PEM files), made with openssl:
    (cert path, key path). It is its own CA, so the cert file is also the CA bundle."""
    cert, key = os.path.join(directory, name + ".pem"), os.path.join(directory, name + ".key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", key, "-out", cert], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return cert, key


class TlsProxy:
    """HTTPS on a free 127.0.0.1 port, forwarding each connection's bytes to Keystone's plain
    HTTP port (threads in the test process). ``client_ca``: a client certificate signed by it
    is required."""

    def __init__(self, target_port, cert, key, client_ca=None):
        self.target = target_port
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(cert, key)
        if client_ca:
            self.ctx.verify_mode = ssl.CERT_REQUIRED
            self.ctx.load_verify_locations(client_ca)
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.url = "https://127.0.0.1:%d/v3" % self.port
        self.handshake_errors = []
        self.stopping = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        try:
            conn.settimeout(10)
            tls = self.ctx.wrap_socket(conn, server_side=True)
        except (ssl.SSLError, OSError) as e:
            self.handshake_errors.append(str(e))
            conn.close()
            return
        upstream = socket.create_connection(("127.0.0.1", self.target), timeout=30)
        try:
            tls.settimeout(None)
            while True:
                ready, _, _ = select.select([tls, upstream], [], [], 30)
                if not ready:
                    return
                for src in ready:
                    dst = upstream if src is tls else tls
                    data = src.recv(65536)
                    if not data:
                        return
                    dst.sendall(data)
                    while src is tls and tls.pending():  # decrypted bytes select cannot see
                        dst.sendall(tls.recv(tls.pending()))
        except OSError:
            return
        finally:
            upstream.close()
            tls.close()

    def stop(self):
        self.stopping = True
        self.sock.close()
