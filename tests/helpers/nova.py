"""A fake Nova for the notifier's tests: ``POST /v2.1/os-server-external-events`` on a free
127.0.0.1 port, in a thread of the test process.

It does what the real API does with such a request: the token must be one the real Keystone
(helpers/keystone.py) issued, with the ``service`` or ``admin`` role (Nova's policy); the body
must pass the JSON schema the ``nova`` package itself ships for this API (its file is read from
the wheel scripts/install.sh unpacked; nothing of nova is imported); events of instances it does
not know answer 404 each, all unknown 404 for the request, some 207. A test may script the next
answers (``fail_next``) and reads what arrived (``received``: accepted events, ``requests``:
every request: its answer, headers, body and arrival time)."""
import ast
import http.server
import json
import os
import threading
import time
import types
import uuid

import jsonschema
import requests

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NOVA_VERSION = "34.0.0"
NOVA_DIR = os.path.join(ROOT, ".venv", "nova-wheel", NOVA_VERSION)
SCHEMA_FILE = os.path.join(NOVA_DIR, "nova", "api", "openstack", "compute", "schemas",
                           "server_external_events.py")
EVENTS_FILE = os.path.join(NOVA_DIR, "nova", "objects", "external_event.py")
ROLES = {"service", "admin"}


def available():
    return os.path.exists(SCHEMA_FILE) and os.path.exists(EVENTS_FILE)


def _assigned(path, name):
    """The literal assigned to ``name`` at the top of the Python file ``path``."""
    with open(path) as f:
        tree = ast.parse(f.read())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == name for t in node.targets):
            return ast.literal_eval(node.value)
    raise LookupError("%s assigns no %s" % (path, name))


def load_schema():
    """Nova's ``create`` schema (microversion 2.1) from its own file: the module runs with its
    nova imports replaced by the one value it takes from them (``EVENT_STATUSES``, read from
    nova's external_event.py); a new dependency on nova fails loudly (a NameError)."""
    with open(SCHEMA_FILE) as f:
        tree = ast.parse(f.read())
    tree.body = [n for n in tree.body
                 if not (isinstance(n, ast.ImportFrom) and (n.module or "").startswith("nova"))]
    scope = {"external_event_obj": types.SimpleNamespace(
        EVENT_STATUSES=_assigned(EVENTS_FILE, "EVENT_STATUSES"))}
    exec(compile(tree, SCHEMA_FILE, "exec"), scope)
    return scope["create"]


_FORMATS = jsonschema.FormatChecker()


@_FORMATS.checks("uuid", raises=ValueError)
def _is_uuid(value):
    # nova's format checker is oslo.utils' is_uuid_like: uuid.UUID's reading, dashes, braces
    # and a urn:uuid: prefix optional, any case
    if not isinstance(value, str):
        return True
    plain = value.replace("urn:", "").replace("uuid:", "").strip("{}").replace("-", "")
    return str(uuid.UUID(value)).replace("-", "") == plain.lower()


class FakeNova:
    def __init__(self, keystone):
        self.keystone = keystone
        self.validator = jsonschema.Draft4Validator(load_schema(), format_checker=_FORMATS)
        self.servers = set()        # instance UUIDs it knows (others answer 404)
        self.received = []          # (arrival time, event) of every event it accepted
        self.requests = []          # (status, headers, body) of every request
        self.invalid = []           # (body, error) of bodies the schema refused
        self._script = []           # answers to give next: a status, or "207-500"
        self._tokens = {}           # token -> its roles (validated once with Keystone)
        self._admin = None          # the token the fake validates tokens with
        self._lock = threading.Lock()
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.port = self.httpd.server_address[1]
        self.url = "http://127.0.0.1:%d/v2.1" % self.port
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def fail_next(self, *answers):
        """Answer the next requests with these statuses (500, 401, ...) or "207-500" (every
        event of the batch answered 500 inside a 207)."""
        with self._lock:
            self._script.extend(answers)

    def events(self, name=None, tag=None):
        with self._lock:
            return [e for _, e in self.received
                    if (name is None or e["name"] == name) and (tag is None or e.get("tag") == tag)]

    def wait_events(self, timeout=10, **match):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.events(**match)
            if found:
                return found
            time.sleep(0.05)
        raise AssertionError("no event %s reached the fake Nova in %s s; it got %s"
                             % (match, timeout, self.events()))

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    # -- the request

    def _roles(self, token):
        with self._lock:
            if token in self._tokens:
                return self._tokens[token]
        if self._admin is None:
            self._admin = self.keystone.token("admin", "admin")
        r = requests.get(self.keystone.url + "/auth/tokens", timeout=30,
                         headers={"X-Auth-Token": self._admin, "X-Subject-Token": token})
        roles = {x["name"] for x in r.json()["token"].get("roles", [])} \
            if r.status_code == 200 else None
        with self._lock:
            self._tokens[token] = roles
        return roles

    def answer(self, headers, raw, arrived):
        """(status, body) for one request."""
        token = headers.get("X-Auth-Token")
        roles = self._roles(token) if token else None
        if roles is None:
            return 401, {"error": {"code": 401, "title": "Unauthorized",
                                   "message": "The request you have made requires "
                                              "authentication."}}
        if not roles & ROLES:
            return 403, {"forbidden": {"code": 403, "message": "Policy doesn't allow "
                                       "os_compute_api:os-server-external-events:create"}}
        if headers.get("X-OpenStack-Nova-API-Version") != "2.1":
            return 400, {"badRequest": {"code": 400, "message": "expected microversion 2.1"}}
        try:
            body = json.loads(raw)
            self.validator.validate(body)
        except (ValueError, jsonschema.ValidationError) as e:
            self.invalid.append((raw, str(e)))
            return 400, {"badRequest": {"code": 400, "message": "Invalid input: %s" % e}}
        with self._lock:
            scripted = self._script.pop(0) if self._script else None
        if scripted == "207-500":
            return 207, {"events": [dict(e, code=500, status=e.get("status", "completed"))
                                    for e in body["events"]]}
        if scripted is not None:
            return scripted, {"computeFault": {"code": scripted, "message": "scripted"}}
        out, accepted = [], []
        for e in body["events"]:
            known = e["server_uuid"] in self.servers
            out.append(dict(e, code=200, status=e.get("status", "completed")) if known
                       else dict(e, code=404, status="failed"))
            if known:
                accepted.append(e)
        with self._lock:
            self.received.extend((arrived, e) for e in accepted)
        if not accepted:
            return 404, {"itemNotFound": {"code": 404, "message": "No instances found for "
                                          "any event"}}
        return (207 if len(accepted) < len(out) else 200), {"events": out}

    def _handler(self):
        nova = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                arrived = time.monotonic()
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.path != "/v2.1/os-server-external-events":
                    status, body = 404, {"itemNotFound": {"code": 404, "message": self.path}}
                else:
                    status, body = nova.answer(self.headers, raw, arrived)
                with nova._lock:
                    nova.requests.append((status, dict(self.headers), raw, arrived))
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        return Handler
