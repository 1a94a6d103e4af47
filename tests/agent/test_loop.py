"""The agent loop (client + main) against a fake channel server: tolerant of the server being
down at start, registers, reconciles, reports statuses, follows watch wake-ups and 410s."""
import json
import socket
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from helpers.dataplane import lab, needs_root_ovs, wait_for  # noqa: F401
from trunkline.agent.main import Agent
from trunkline.agent.ovs.driver import OvsDriver

pytestmark = needs_root_ovs


class FakeChannel:
    def __init__(self, port):
        self.lock = threading.Lock()
        self.state = None
        self.statuses, self.registrations, self.watches = [], [], []
        self.gone_once = False
        fake = self

        class H(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def _send(self, code, body=None):
                data = json.dumps(body).encode() if body is not None else b""
                self.send_response(code)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                if self.path.startswith("/agent/v1/hosts/"):
                    with fake.lock:
                        return self._send(200, fake.state)
                if self.path.startswith("/agent/v1/watch"):
                    q = dict(p.split("=") for p in self.path.split("?")[1].split("&"))
                    fake.watches.append(q)
                    if fake.gone_once:
                        fake.gone_once = False
                        return self._send(410, {"error": "gone"})
                    deadline = time.monotonic() + min(float(q["timeout"]), 2)
                    while time.monotonic() < deadline:
                        with fake.lock:
                            if fake.state["revision"] > int(q["since"]):
                                return self._send(200, {"revision": fake.state["revision"]})
                        time.sleep(0.02)
                    return self._send(200, {"revision": int(q["since"])})
                self._send(404, {})

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if self.path == "/agent/v1/agents":
                    fake.registrations.append(body)
                    return self._send(200, {"agent": body})
                if self.path == "/agent/v1/status":
                    fake.statuses.append(body)
                    return self._send(204)
                self._send(404, {})

        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), H)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def test_agent_loop(lab):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    net = str(uuid.uuid4())
    p1 = {"id": str(uuid.uuid4()), "network_id": net, "mac_address": "fa:16:3e:00:01:01",
          "admin_state_up": True, "fixed_ips": []}
    state = {"revision": 5, "host": "h1", "ports": [p1], "trunks": [],
             "networks": {net: {"id": net, "network_type": "vxlan", "segmentation_id": 3,
                                "mtu": 1450}}}
    driver = OvsDriver(ovsdb_target=lab.db, ovs_rundir=lab.rundir, datapath_type="netdev",
                       netns=lab.sw)
    agent = Agent("h1", "http://127.0.0.1:%d" % port, driver, state_dir=lab.rundir + "/state",
                  report_interval=1.0)
    t = threading.Thread(target=agent.run, daemon=True)
    t.start()
    fake = None
    try:
        time.sleep(0.8)                   # server down: the agent retries with backoff
        assert t.is_alive()
        fake = FakeChannel(port)
        fake.state = state
        assert wait_for(lambda: fake.statuses, 10)
        reg = fake.registrations[0]
        assert reg["agent_type"] == "Open vSwitch agent" and reg["host"] == "h1"
        assert reg["configurations"]["datapath_type"] == "netdev"
        assert reg["configurations"]["netns"] == lab.sw
        # what the server's binding takes from it, as from Neutron's agent
        assert reg["configurations"]["integration_bridge"] == "br-int"
        assert reg["configurations"]["ovs_hybrid_plug"] is False
        assert fake.statuses[-1]["ports"] == {p1["id"]: "DOWN"}
        # the VM gets plugged and a new revision appears: the agent wakes from watch
        lab.plug_vm("br-int", lab.ns("vm"), p1["id"], p1["mac_address"])
        with fake.lock:
            fake.state = dict(state, revision=6)
        assert wait_for(lambda: fake.statuses[-1]["ports"] == {p1["id"]: "ACTIVE"}, 10)
        with fake.lock:       # the server now has ACTIVE: nothing more to report
            fake.state = dict(state, revision=7, ports=[dict(p1, status="ACTIVE")])
        assert wait_for(lambda: any(w["since"] == "7" for w in fake.watches), 5)
        # (a pass that still saw revision 6 may have repeated ACTIVE; from 7 on, silence)
        nstat = len(fake.statuses)
        assert lab.ports()[("tap" + p1["id"])[:14]]["tag"] == 1
        # 410: refetch; heartbeats keep coming
        n = len(fake.registrations)
        fake.gone_once = True
        assert wait_for(lambda: len(fake.registrations) > n + 1, 5)
        assert len(fake.statuses) == nstat
    finally:
        agent.stop()
        t.join(10)
        if fake:
            fake.stop()
    assert not t.is_alive()
