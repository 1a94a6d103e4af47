"""``/healthcheck`` (oslo.middleware's answers: 200 OK / 204 / 503 with the reason) and
``/metrics`` read with prometheus-client's own parser: requests per operation, the agents,
the change log; the scrape allow-list; several workers counted together."""
import glob
import http.server
import os
import socket
import sqlite3
import tempfile
import threading

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from helpers.channel import Channel
from helpers.server import Postgres, Server


def _samples(url):
    r = requests.get(url + "/metrics", timeout=10)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(r.text) for s in family.samples}


def _value(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))))


def test_healthcheck_answers_as_oslo_middleware(server):
    r = requests.get(server.url + "/healthcheck", timeout=10)
    assert (r.status_code, r.text) == (200, "OK")
    assert r.headers["content-type"] == "text/plain; charset=UTF-8"
    r = requests.get(server.url + "/healthcheck", headers={"Accept": "application/json"},
                     timeout=10)
    assert r.json() == {"detailed": False, "reasons": ["OK"]}
    r = requests.head(server.url + "/healthcheck", timeout=10)
    assert (r.status_code, r.content) == (204, b"")
    assert requests.post(server.url + "/healthcheck", timeout=10).status_code == 405


def test_metrics_count_each_operation(server, client):
    before = _samples(server.url)
    status, net = client.post("/networks", {"network": {"name": "metrics"}})
    assert status == 201
    assert client.get("/networks/" + net["network"]["id"])[0] == 200
    assert client.get("/networks/" + "0" * 32)[0] == 404
    assert client.put("/networks/" + net["network"]["id"] + "/tags/x", None)[0] == 201
    assert client.get("/quotas")[0] == 200
    after = _samples(server.url)

    def delta(name, **labels):
        return (_value(after, name, **labels) or 0) - (_value(before, name, **labels) or 0)
    assert delta("trunkline_api_requests_total", method="POST", operation="networks:create",
                 code="201") == 1
    assert delta("trunkline_api_requests_total", method="GET", operation="networks:show",
                 code="200") == 1
    assert delta("trunkline_api_requests_total", method="GET", operation="networks:show",
                 code="404") == 1
    assert delta("trunkline_api_requests_total", method="PUT", operation="networks:tags",
                 code="201") == 1
    assert delta("trunkline_api_requests_total", method="GET", operation="quotas:get",
                 code="200") == 1
    assert delta("trunkline_api_request_duration_seconds_count", method="POST",
                 operation="networks:create") == 1
    assert _value(after, "trunkline_changelog_revision") > 0
    # made-up collections and sub-paths do not add labels
    assert requests.get(server.url + "/v2.0/nonsense", timeout=10).status_code == 404
    assert requests.get(server.url + "/v2.0/networks/x/nonsense", timeout=10).status_code == 404
    names = {labels for (name, labels) in _samples(server.url)
             if name == "trunkline_api_requests_total"}
    assert not any("nonsense" in value for labels in names for _, value in labels)


def test_metrics_show_agents_alive(server):
    host = "metrics-host-%d" % os.getpid()
    channel = Channel(server.url)
    channel.register(host, last_pass={"ok": False, "error": "RuntimeError: x",
                                      "failing_since": "2026-01-01 10:00:00"})
    # a heartbeat reports how long the agent's last pass took
    status, body = channel.post("/agents", {
        "host": host, "agent_type": "Open vSwitch agent", "binary": "trunkline-agent",
        "pass_seconds": 0.25, "configurations": {"last_pass": {
            "ok": False, "error": "RuntimeError: x", "failing_since": "2026-01-01 10:00:00"}}})
    assert status == 200, body
    status, body = channel.post("/agents", {
        "host": host, "agent_type": "Open vSwitch agent", "binary": "trunkline-agent",
        "pass_seconds": "slow"})
    assert status == 400
    samples = _samples(server.url)
    assert _value(samples, "trunkline_agents", agent_type="Open vSwitch agent",
                  alive="true") >= 1
    assert _value(samples, "trunkline_agent_pass_failing", agent_type="Open vSwitch agent",
                  host=host) == 1
    assert _value(samples, "trunkline_agent_last_pass_seconds",
                  agent_type="Open vSwitch agent", host=host) == 0.25
    status, agent = server_agent(server.url, host)
    assert "pass_seconds" not in agent      # not an API attribute


def server_agent(url, host):
    r = requests.get(url + "/v2.0/agents?host=" + host, timeout=10)
    return r.status_code, r.json()["agents"][0]


def test_metrics_refuse_clients_outside_the_allow_list(tmp_path):
    srv = Server("sqlite:///%s/t.db" % tmp_path, extra=["--metrics-allow", "192.0.2.0/24"])
    try:
        r = requests.get(srv.url + "/metrics", timeout=10)
        assert r.status_code == 403 and "--metrics-allow" in r.text
        assert requests.get(srv.url + "/healthcheck", timeout=10).status_code == 200
    finally:
        srv.stop()


def test_bad_metrics_allow_is_refused_at_start(tmp_path):
    import subprocess
    from helpers.server import TRUNKLINE
    r = subprocess.run([TRUNKLINE, "server", "--db", "sqlite:///%s/t.db" % tmp_path,
                        "--metrics-allow", "10.0.0.0/33"], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 2 and "10.0.0.0/33" in r.stderr


def _metrics_dirs():
    return set(glob.glob(os.path.join(tempfile.gettempdir(), "trunkline-metrics-*")))


def test_two_workers_count_together(tmp_path):
    before = _metrics_dirs()
    srv = Server("sqlite:///%s/t.db" % tmp_path, workers=2)
    try:
        for _ in range(40):     # a new connection each: both workers answer some
            requests.get(srv.url + "/v2.0/networks", timeout=10)
        # whichever worker answers the scrape counts every worker's requests
        for _ in range(6):
            assert _value(_samples(srv.url), "trunkline_api_requests_total", method="GET",
                          operation="networks:list", code="200") == 40
    finally:
        srv.stop()
    assert not _metrics_dirs() - before    # the shared files go with the server
    # a killed server's are removed by the next server with workers
    dead = os.path.join(tempfile.gettempdir(), "trunkline-metrics-999999999")
    os.makedirs(dead, exist_ok=True)
    srv = Server("sqlite:///%s/t2.db" % tmp_path, workers=2)
    try:
        assert not os.path.exists(dead)
    finally:
        srv.stop()


def test_disable_file_and_pending_migrations(tmp_path):
    flag = tmp_path / "drain"
    srv = Server("sqlite:///%s/t.db" % tmp_path,
                 extra=["--healthcheck-disable-file", str(flag)])
    try:
        flag.write_text("")
        r = requests.get(srv.url + "/healthcheck", timeout=10)
        assert (r.status_code, r.text) == (503, "DISABLED BY FILE")
        flag.unlink()
        assert requests.get(srv.url + "/healthcheck", timeout=10).status_code == 200
        db = sqlite3.connect(str(tmp_path / "t.db"))
        head = db.execute("SELECT version_num FROM alembic_version").fetchone()[0]
        db.execute("UPDATE alembic_version SET version_num = '0001'")
        db.commit()
        r = requests.get(srv.url + "/healthcheck", headers={"Accept": "application/json"},
                         timeout=10)
        assert r.status_code == 503
        [reason] = r.json()["reasons"]
        assert "migrations pending" in reason and head in reason
        assert "trunkline db upgrade" in reason
        assert requests.head(srv.url + "/healthcheck", timeout=10).status_code == 503
        db.execute("UPDATE alembic_version SET version_num = ?", (head,))
        db.commit()
        db.close()
        assert requests.get(srv.url + "/healthcheck", timeout=10).status_code == 200
    finally:
        srv.stop()


@pytest.mark.postgres
def test_database_down_answers_503_then_recovers():
    pg = Postgres()
    try:
        srv = Server(pg.new_database())
        try:
            assert requests.get(srv.url + "/healthcheck", timeout=10).status_code == 200
            pg.halt()
            r = requests.get(srv.url + "/healthcheck", timeout=30)
            assert (r.status_code, r.text) == (503, "database unreachable")
            pg.start()
            assert requests.get(srv.url + "/healthcheck", timeout=30).status_code == 200
        finally:
            srv.stop()
    finally:
        pg.stop()


class _Keystone(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(300)   # Keystone's version list
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def test_keystone_unreachable(tmp_path):
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()        # nothing listens there yet
    srv = Server("sqlite:///%s/t.db" % tmp_path, extra=[
        "--auth", "keystone", "--keystone-url", "http://127.0.0.1:%d/v3" % port,
        "--keystone-user", "neutron", "--keystone-password", "x",
        "--keystone-project", "service"])
    try:
        r = requests.get(srv.url + "/healthcheck", timeout=30)
        assert (r.status_code, r.text) == (503, "keystone unreachable")
        keystone = http.server.ThreadingHTTPServer(("127.0.0.1", port), _Keystone)
        threading.Thread(target=keystone.serve_forever, daemon=True).start()
        try:
            # the probe's answer is kept a few seconds
            for _ in range(100):
                r = requests.get(srv.url + "/healthcheck", timeout=30)
                if r.status_code == 200:
                    break
                threading.Event().wait(0.1)
            assert (r.status_code, r.text) == (200, "OK")
        finally:
            keystone.shutdown()
            keystone.server_close()
    finally:
        srv.stop()
