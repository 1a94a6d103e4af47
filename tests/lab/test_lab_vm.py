"""lab/vm.py and `trunkline lab`: os-vif-style plugging on a private OVS (tests/helpers/dataplane.py),
driven by a fake Neutron API (a few canned endpoints in a thread) — no trunkline server or agent
needed.  Every namespace/bridge/process is private to the test and removed afterwards."""
import contextlib
import io
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest
import yaml

from helpers.dataplane import lab, needs_root_ovs, ping  # noqa: F401  (lab is a fixture)
from trunkline import names
from trunkline.agent import vlan
from trunkline.cli import main as cli
from trunkline.lab import neutron, vm as labvm

pytestmark = needs_root_ovs

NET = "9a0c3c2e-0000-4000-8000-000000000001"
PARENT = "b7d4c968-af00-4000-8000-000000000001"
PLAIN = "e1e1e1e1-0000-4000-8000-000000000002"
TRUNK = "a5f0be95-6000-4000-8000-000000000003"


class FakeNeutron:
    """Ports, one network and agents as the trunkline API would serve them; binding follows
    docs/agent-channel.md (tbr-<trunk id[:10]> for a trunk parent)."""

    def __init__(self, agents):
        self.agents = agents
        self.ports = {
            PARENT: self._port(PARENT, "trunkparent", "fa:16:3e:90:7a:ca", "10.0.4.7", TRUNK),
            PLAIN: self._port(PLAIN, "plain", "fa:16:3e:11:22:33", "10.0.4.8", None),
        }
        self.puts = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def _send(self, code, body):
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                u = urlparse(self.path)
                q = {k: v[0] for k, v in parse_qs(u.query).items()}
                m = re.fullmatch(r"/v2.0/ports/([^/]+)", u.path)
                if m:
                    p = fake.ports.get(m.group(1))
                    return self._send(200, {"port": fake.view(p)}) if p else \
                        self._send(404, {"NeutronError": {"message": "Port not found"}})
                if u.path == "/v2.0/ports":
                    return self._send(200, {"ports": [fake.view(p) for p in fake.ports.values()
                                                      if p["name"] == q.get("name", p["name"])]})
                if u.path == "/v2.0/networks/" + NET:
                    return self._send(200, {"network": {"id": NET, "mtu": 1450}})
                if u.path == "/v2.0/agents":
                    return self._send(200, {"agents": [
                        a for a in fake.agents
                        if all(a.get(k) == v for k, v in q.items())]})
                self._send(404, {"NeutronError": {"message": "nothing at " + u.path}})

            def do_PUT(self):
                pid = self.path.rsplit("/", 1)[1]
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))["port"]
                fake.puts.append((pid, body))
                fake.ports[pid].update(body)
                self._send(200, {"port": fake.view(fake.ports[pid])})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = "http://127.0.0.1:%d" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @staticmethod
    def _port(pid, name, mac, ip, trunk):
        return {"id": pid, "name": name, "network_id": NET, "mac_address": mac,
                "fixed_ips": [{"ip_address": ip}], "device_id": "", "device_owner": "",
                "binding:host_id": "", "_trunk": trunk}

    def view(self, p):
        v = {k: val for k, val in p.items() if not k.startswith("_")}
        host = p["binding:host_id"]
        live = [a for a in self.agents if a["host"] == host and a["alive"]]
        if not host:
            v["binding:vif_type"], v["binding:vif_details"] = "unbound", {}
        elif not live:
            v["binding:vif_type"], v["binding:vif_details"] = "binding_failed", {}
        else:
            bridge = ("tbr-" + p["_trunk"])[:14] if p["_trunk"] else "br-int"
            v["binding:vif_type"] = "ovs"
            v["binding:vif_details"] = {"port_filter": True, "connectivity": "l2",
                                        "ovs_hybrid_plug": False, "datapath_type": "netdev",
                                        "bridge_name": bridge}
        return v

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake(lab):  # noqa: F811
    lab.add_bridge("br-int")
    f = FakeNeutron([{"id": "a1", "host": "h1", "agent_type": neutron.OVS_AGENT, "alive": True,
                      "configurations": {"ovsdb_connection": lab.db, "netns": lab.sw,
                                         "integration_bridge": "br-int",
                                         "datapath_type": "netdev"}}])
    try:
        yield f
    finally:
        f.close()


def run_cli(*argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = cli.main(list(argv))
    return rc, out.getvalue(), err.getvalue()


def test_plug_and_unplug_trunk_bridge(lab):  # noqa: F811
    lab.add_bridge("br-int")
    prefix = lab.prefix + "-"
    vifs = []
    for name, pid, mac, bridge in (("a", PARENT, "fa:16:3e:00:00:0a", "tbr-a5f0be95-6"),
                                   ("b", PLAIN, "fa:16:3e:00:00:0b", "tbr-a5f0be95-6")):
        vif = {"vm_netns": prefix + name, "host_netns": lab.sw, "tap": names.tap(pid),
               "mac": mac, "mtu": 1450, "bridge": bridge, "integration_bridge": "br-int",
               "datapath_type": "netdev", "ovsdb": lab.db, "port_id": pid, "vm_uuid": "u-" + name}
        lab.track_ns(vif["vm_netns"])
        labvm.plug(vif)
        vifs.append(vif)
    assert lab.vsctl("get", "Bridge", "tbr-a5f0be95-6", "datapath_type").strip() == "netdev"
    ports = lab.ports()
    ext = ports["tapb7d4c968-af"]["iface"]["external_ids"]
    assert ports["tapb7d4c968-af"]["bridge"] == "tbr-a5f0be95-6"
    assert ext == {"iface-id": PARENT, "iface-status": "active",
                   "attached-mac": "fa:16:3e:00:00:0a", "vm-uuid": "u-a"}
    link = labvm._ip(prefix + "a", "-j", "link", "show", "eth0").stdout
    assert '"mtu":1450' in link and "fa:16:3e:00:00:0a" in link
    # both guests on the same (standalone, NORMAL) bridge talk, also over a guest VLAN
    for vif, last in zip(vifs, (1, 2)):
        labvm._ip(vif["vm_netns"], "addr", "add", "10.66.0.%d/24" % last, "dev", "eth0")
        vlan.add_vlan(vif["vm_netns"], "eth0", "eth0.3", 3)
        labvm._ip(vif["vm_netns"], "addr", "add", "10.66.3.%d/24" % last, "dev", "eth0.3")
    assert ping(prefix + "a", "10.66.0.2")
    assert ping(prefix + "a", "10.66.3.2")

    labvm.unplug(vifs[0])                     # a VM port is left: the trunk bridge stays
    assert "tbr-a5f0be95-6" in lab.vsctl("list-br")
    labvm.unplug(vifs[1])
    assert "tbr-a5f0be95-6" not in lab.vsctl("list-br")
    assert "tap" not in labvm._ip(lab.sw, "-o", "link").stdout
    assert not labvm.netns_exists(prefix + "a") and not labvm.netns_exists(prefix + "b")
    labvm.unplug(vifs[1])                     # idempotent


def test_create_list_exec_delete_and_down(lab, fake, tmp_path):  # noqa: F811
    state = str(tmp_path / "lab")
    for name in ("vm1", "vm2"):
        lab.track_ns(lab.prefix + "-vm-" + name)
    common = ["--endpoint", fake.endpoint, "--state-dir", state]

    rec = labvm.create_vm(fake.endpoint, "vm1", "trunkparent", state_dir=state,
                          ns_prefix=lab.prefix + "-vm-")
    assert rec["bridge"] == "tbr-a5f0be95-6" and rec["host"] == "h1" and rec["mtu"] == 1450
    pid, body = fake.puts[0]
    assert pid == PARENT and body["device_owner"] == "compute:nova"
    assert body["binding:host_id"] == "h1" and body["device_id"] == rec["vm_uuid"]
    ports = lab.ports()
    assert ports["tapb7d4c968-af"]["bridge"] == "tbr-a5f0be95-6"
    assert ports["tapb7d4c968-af"]["iface"]["external_ids"]["vm-uuid"] == rec["vm_uuid"]

    rc, out, err = run_cli("lab", "vm", "create", "vm1", "--port", PLAIN, *common)
    assert rc == 1 and "already exists" in err

    rc, out, err = run_cli("lab", "vm", "vlan", "vm1", "--vid", "1", "--mac",
                           "fa:16:3e:cc:b9:27", *common)
    assert rc == 0, err
    rc, out, err = run_cli("lab", "vm", "list", "-f", "json", *common)
    listed = json.loads(out)
    assert [v["name"] for v in listed] == ["vm1"] and listed[0]["present"]
    assert listed[0]["vlans"][0]["vid"] == 1
    rc, out, err = run_cli("lab", "vm", "list", *common)
    assert "trunkparent" in out and "eth0.1:1" in out
    rc, out, err = run_cli("lab", "vm", "list", "-f", "yaml", *common)
    assert yaml.safe_load(out) == listed
    rc, out, err = run_cli("lab", "vm", "list", "-f", "value", *common)
    assert out.split()[0] == "vm1" and "eth0.1:1" in out.split() and "Name" not in out
    r = labvm.exec_vm("vm1", ["ip", "-br", "link", "show", "eth0.1"], state_dir=state,
                      capture_output=True, text=True)
    assert r.returncode == 0 and "fa:16:3e:cc:b9:27" in r.stdout

    rc, out, err = run_cli("lab", "vm", "create", "vm2", "--port", "nosuch", *common)
    assert rc == 1 and "no port with name or id" in err
    rc, out, err = run_cli("lab", "vm", "create", "vm2", "--port", "plain", "--host", "h9",
                           *common)
    assert rc == 1 and "no live Open vSwitch agent on host 'h9'" in err

    labvm.create_vm(fake.endpoint, "vm2", "plain", state_dir=state,
                    ns_prefix=lab.prefix + "-vm-")
    assert lab.ports()["tape1e1e1e1-00"]["bridge"] == "br-int"

    rc, out, err = run_cli("lab", "vm", "del", "vm1", *common)
    assert rc == 0, err
    assert "tbr-a5f0be95-6" not in lab.vsctl("list-br")
    assert fake.ports[PARENT]["binding:host_id"] == "" and fake.ports[PARENT]["device_id"] == ""

    fake.close()                              # `lab down` works without the API
    rc, out, err = run_cli("lab", "down", *common)
    assert rc == 0 and "vm2" in out and "warning" in err
    assert labvm.list_vms(state) == []
    assert "tap" not in labvm._ip(lab.sw, "-o", "link").stdout
    assert not labvm.netns_exists(lab.prefix + "-vm-vm2")
    assert lab.vsctl("list-ports", "br-int").strip() == ""
