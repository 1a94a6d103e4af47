"""The agent tells the truth about its passes: ``last_pass`` in its heartbeat is null before the
first pass, says the error and since when while passes fail (the same ``failing_since`` across
retries), ok again once one succeeds — each change sent at once, not at the next heartbeat — and
the failure's log line says what to do; systemd hears the failure as the agent's status and its
readiness once a pass succeeds."""
import logging
import socket
import threading
import time

from helpers.server import wait_for
from trunkline.agent.main import Agent


class FailingDriver:
    """A switch whose first ``fails`` passes raise."""
    agent_type, binary = "Open vSwitch agent", "trunkline-ovs-agent"
    ovsdb_target = "unix:/nonexistent/db.sock"

    def __init__(self, fails):
        self.fails = fails

    def configurations(self):
        return {"datapath_type": "netdev"}

    def reconcile(self, state, plugs):
        if self.fails:
            self.fails -= 1
            raise RuntimeError("ovs-ofctl: connecting to unix:/x/br-int.mgmt (No such file)")
        return {"ports": {}, "trunks": {}}

    def timing(self):
        return ""

    def reset(self):
        pass

    def watchers(self):
        return []


class FakeClient:
    servers, secret, base = ["http://127.0.0.1:1"], None, "http://127.0.0.1:1"

    def __init__(self):
        self.reports = []

    def register(self, agent_type, binary, configurations, start_flag=False,
                 pass_seconds=None):
        self.reports.append((time.monotonic(), configurations["last_pass"]))

    def begin(self, request_id):
        pass

    def state(self, dhcp=False):
        return {"revision": 1, "ports": [], "trunks": []}

    def status(self, ports, trunks):
        pass

    def watch(self, since, timeout=30, dhcp=False):
        time.sleep(0.5)
        return since


def test_last_pass_reports_failure_and_recovery_at_once(caplog):
    agent = Agent("h1", "http://127.0.0.1:1", FailingDriver(fails=3), report_interval=600)
    agent.client = FakeClient()
    caplog.set_level(logging.WARNING, logger="trunkline.agent")
    t0 = time.monotonic()
    thread = threading.Thread(target=agent.run, daemon=True)
    thread.start()
    try:
        # failures at 0, 0.5, 1.5 s (backoff), then a pass that works
        wait_for(lambda: any(r[1] and r[1]["ok"] for r in agent.client.reports), 15,
                 what="a report of a successful pass")
    finally:
        agent.stop()
        thread.join(5)
    reports = [r[1] for r in agent.client.reports]
    assert reports[0] is None                       # registered before any pass
    failing = [r for r in reports if r and not r["ok"]]
    assert failing and all("br-int.mgmt" in r["error"] for r in failing)
    assert len({r["failing_since"] for r in failing}) == 1      # since the first failure
    assert reports[-1] == {"ok": True, "error": None, "failing_since": None}
    # with a 600 s heartbeat, every report after the first is a change sent at once
    assert agent.client.reports[-1][0] - t0 < 10
    assert len(reports) == 3, reports       # null, failing (unchanged across retries), ok
    logged = [r.getMessage() for r in caplog.records if "agent pass failed" in r.getMessage()]
    assert len(logged) == 3
    assert "not wired" in logged[0] and "Open vSwitch is not working" in logged[0] \
        and "trunkline doctor" in logged[0]
    assert any("succeeded again" in r.getMessage() for r in caplog.records)


def test_systemd_hears_failing_then_ready(tmp_path, monkeypatch):
    """Type=notify: the agent is ready once a pass succeeds; failing passes are its status."""
    path = str(tmp_path / "notify")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(path)
    listener.settimeout(15)
    monkeypatch.setenv("NOTIFY_SOCKET", path)
    agent = Agent("h1", "http://127.0.0.1:1", FailingDriver(fails=1), report_interval=600)
    agent.client = FakeClient()
    thread = threading.Thread(target=agent.run, daemon=True)
    thread.start()
    try:
        failing = listener.recv(4096).decode()
        ready = listener.recv(4096).decode()
    finally:
        agent.stop()
        thread.join(5)
        listener.close()
    assert failing.startswith("STATUS=passes fail since ") and "br-int.mgmt" in failing
    assert ready == "READY=1\nSTATUS=passes succeed"
