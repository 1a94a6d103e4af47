"""What authentication and policy cost: a real Keystone (tests/helpers/keystone.py: PyPI keystone from
.venv-keystone under uwsgi), one trunkline server in no-auth mode and one with --auth keystone,
both on SQLite in a temporary directory; the access-rule check both end to end (a member's token
and an access-rule-restricted application credential's, requests interleaved) and in-process.
Prints a table, and last one JSON line.

  .venv/bin/python bench/auth.py [--requests N] [--ports N]
"""
import argparse
import http.client
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
import timeit
import types

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))

from helpers import keystone as ks  # noqa: E402  (the test Keystone)
from helpers.server import NO_QUOTAS, Server  # noqa: E402


def log(msg):
    print("[bench-auth %s] %s" % (time.strftime("%H:%M:%S"), msg), file=sys.stderr, flush=True)


class Client:
    """HTTP/1.1 keep-alive, one connection."""

    def __init__(self, url, token=None):
        host, port = url.split("//")[1].split(":")
        self.conn = http.client.HTTPConnection(host, int(port), timeout=60)
        self.headers = {"Content-Type": "application/json"}
        if token:
            self.headers["X-Auth-Token"] = token

    def call(self, method, path, body=None):
        payload = json.dumps(body) if body is not None else None
        try:
            started = time.perf_counter()
            self.conn.request(method, path, body=payload, headers=self.headers)
            resp = self.conn.getresponse()
        except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected):
            self.conn.close()  # the server ended an idle keep-alive connection: reconnect
            started = time.perf_counter()
            self.conn.request(method, path, body=payload, headers=self.headers)
            resp = self.conn.getresponse()
        data = resp.read()
        elapsed = time.perf_counter() - started
        if resp.status >= 300:
            raise RuntimeError("%s %s: %s %s" % (method, path, resp.status, data[:200]))
        return elapsed, json.loads(data) if data else None


def median_ms(client, path, n):
    return statistics.median(client.call("GET", path)[0] for _ in range(n)) * 1000


def interleaved_ms(a, b, path, n):
    """Medians of ``a``'s and ``b``'s GETs taken in turn, each first every other time (the
    machine's load drifts alike for both)."""
    times = {a: [], b: []}
    for i in range(n):
        for client in ((a, b) if i % 2 else (b, a)):
            times[client].append(client.call("GET", path)[0])
    return statistics.median(times[a]) * 1000, statistics.median(times[b]) * 1000


def access_rule_check_us(rules):
    """One in-process access-rule check of a request the last of ``rules`` allows."""
    from trunkline.api.auth import KeystoneAuth
    auth = types.SimpleNamespace(service_type="network")
    token = {"application_credential": {"id": "x", "access_rules": rules},
             "catalog": [{"type": "identity"}, {"type": "network"}]}
    req = types.SimpleNamespace(method="GET", path="/v2.0/networks")
    n = 20000
    return timeit.timeit(lambda: KeystoneAuth.check_access_rules(auth, req, token, False),
                         number=n) / n * 1e6


RULES = [{"service": "network", "method": m, "path": p} for m, p in (
    ("GET", "/v2.0/ports"), ("GET", "/v2.0/ports/*"), ("POST", "/v2.0/ports"),
    ("GET", "/v2.0/networks/*"), ("GET", "/v2.0/networks"))]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--requests", type=int, default=300, help="GETs per latency figure")
    p.add_argument("--ports", type=int, default=1000, help="ports in the list phase")
    args = p.parse_args(argv)
    if not ks.available():
        sys.exit("no .venv-keystone: run scripts/install.sh first")
    tmp = tempfile.mkdtemp(prefix="tl-bench-auth-")
    keystone = plain = secured = None
    try:
        log("starting Keystone")
        keystone = ks.Keystone()
        plain = Server("sqlite:///%s/plain.db" % tmp, extra=NO_QUOTAS)
        secured = Server("sqlite:///%s/ks.db" % tmp, extra=[
            "--auth", "keystone", "--keystone-url", keystone.url, "--keystone-user",
            "trunkline", "--keystone-password", ks.PASSWORD, "--keystone-project", "service",
            *NO_QUOTAS])
        member = Client(secured.url, keystone.token("member-a", "proj-a"))
        admin = Client(secured.url, keystone.token("admin-a", "proj-a"))
        member.call("GET", "/v2.0/networks")  # validates the service user and the token once
        log("latency: no-auth vs cached token")
        noauth_ms = median_ms(Client(plain.url), "/v2.0/networks", args.requests)
        cached_ms = median_ms(member, "/v2.0/networks", args.requests)
        log("access rules: member token vs restricted application credential, interleaved")
        keystone.add_network_endpoint(secured.url)
        restricted = Client(secured.url, keystone.app_credential_token(
            *keystone.app_credential("member-a", "proj-a", RULES)))
        restricted.call("GET", "/v2.0/networks")
        member_ms, rules_ms = interleaved_ms(member, restricted, "/v2.0/networks", args.requests)
        check_us = access_rule_check_us(RULES)
        log("first use of a token (validated by Keystone)")
        first = []
        for _ in range(10):
            client = Client(secured.url, keystone.token("member-a", "proj-a"))
            first.append(client.call("GET", "/v2.0/networks")[0])
        first_ms = statistics.median(first) * 1000
        log("list %d ports as admin and as member" % args.ports)
        net = member.call("POST", "/v2.0/networks", {"network": {"name": "bench"}})[1]
        member.call("POST", "/v2.0/subnets", {"subnet": {
            "network_id": net["network"]["id"], "cidr": "10.99.0.0/16", "ip_version": 4}})
        for start in range(0, args.ports, 100):
            member.call("POST", "/v2.0/ports", {"ports": [
                {"network_id": net["network"]["id"]}
                for _ in range(min(100, args.ports - start))]})
        path = "/v2.0/ports?network_id=" + net["network"]["id"]
        admin_list_ms = median_ms(admin, path, 10)
        member_list_ms = median_ms(member, path, 10)
    finally:
        for srv in (plain, secured):
            if srv is not None:
                srv.stop()
        if keystone is not None:
            keystone.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    rows = [("Keystone start-up (db_sync, fernet, bootstrap, uwsgi, users)", "%.1f s"
             % keystone.startup_seconds),
            ("GET /v2.0/networks, no-auth (median)", "%.2f ms" % noauth_ms),
            ("GET /v2.0/networks, cached Keystone token (median)", "%.2f ms" % cached_ms),
            ("GET /v2.0/networks, interleaved: member token (median)", "%.2f ms" % member_ms),
            ("GET /v2.0/networks, interleaved: app credential, %d access rules (median)"
             % len(RULES), "%.2f ms" % rules_ms),
            ("access-rule check in-process (%d rules, the last matches)" % len(RULES),
             "%.1f us" % check_us),
            ("first request with a new token (Keystone validates; median)", "%.1f ms"
             % first_ms),
            ("list %d ports as admin (median)" % args.ports, "%.1f ms" % admin_list_ms),
            ("list %d ports as project member (policy per port; median)" % args.ports,
             "%.1f ms" % member_list_ms)]
    width = max(len(r[0]) for r in rows)
    print("trunkline auth benchmark")
    for name, value in rows:
        print("%-*s  %s" % (width, name, value))
    print(json.dumps({"keystone_startup_s": round(keystone.startup_seconds, 1),
                      "noauth_get_ms": round(noauth_ms, 2),
                      "cached_token_get_ms": round(cached_ms, 2),
                      "interleaved_member_get_ms": round(member_ms, 2),
                      "interleaved_access_rules_get_ms": round(rules_ms, 2),
                      "access_rule_check_us": round(check_us, 1),
                      "new_token_get_ms": round(first_ms, 1),
                      "admin_list_ports_ms": round(admin_list_ms, 1),
                      "member_list_ports_ms": round(member_list_ms, 1),
                      "ports": args.ports}))


if __name__ == "__main__":
    main()
