#!/usr/bin/env python3
"""L2 population control-plane benchmark: how fast a new port reaches every other host's
switch, and what an agent restart costs, on N lab hosts (Open vSwitch, userspace datapath).

    .venv/bin/python bench/dataplane_control.py                       # 20 hosts x 50 ports
    .venv/bin/python bench/dataplane_control.py --hosts 8 --ports 50 --samples 20

Set-up: a trunkline server (SQLite), N lab hosts (trunkline.lab.host: a namespace, a private
ovsdb-server + ovs-vswitchd and an agent with --tunnel-ip each), one VXLAN network, P ports
per host bound to it and plugged (one ovs-vsctl batch of internal ports per host, as Nova +
os-vif would plug VIFs), until every host's br-tun has an l2pop flow for every remote port.

Phases:
* population: from the first port POST until every host has (N-1) x P l2pop flows;
* port → everywhere (SAMPLES times, one port at a time, hosts in turn): from POST /v2.0/ports
  (bound to host i, then plugged) until every other host's br-tun table 20 has a flow for its
  MAC, as ovs-vswitchd reports it (one ``ovs-ofctl monitor br-tun watch:`` per host, pushed:
  polling N switches with ``dump-flows`` would itself take a core of the two it measures);
  p50 / p99 / max; split into the port turning ACTIVE (its own host wired it and reported,
  polled every 50 ms) and the fan-out from there; and the CPU time all processes spent per
  sample (server, agents with their ``ovs-ofctl`` children, ovs-vswitchd, ovsdb-server: from
  /proc, steadier than wall time on a shared machine), less what they spend idle (heartbeats,
  resyncs: measured for a few seconds before);
* agent restart (3 times, host 1): SIGTERM + start with the same command line → its first
  pass done (the new process logs ``reconciled in X s``: start-up, registration, state fetch
  and the pass), and that pass's own duration — the resync of a host whose switch already
  matches; br-tun's flows must be unchanged.

Prints a table and, LAST, one JSON line. Progress goes to stderr. Everything it makes (server,
hosts, namespaces, OVS daemons, agents) is removed at the end, also on failure or SIGTERM.
"""
import argparse
import json
import os
import re
import selectors
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from api import Http, log  # noqa: E402  (bench/api.py: keep-alive JSON client, stderr log)

from trunkline.agent.ovs import daemon  # noqa: E402
from trunkline.lab import host as labhost  # noqa: E402
from trunkline.lab.state import LabState  # noqa: E402
from trunkline.stack import free_port, stop_group  # noqa: E402

TARGET_P99_S = 1.0
VENV_BIN = os.path.dirname(sys.executable)
CLK_TCK = os.sysconf("SC_CLK_TCK")
FLOW_EVENT = re.compile(r"event=(?:ADDED|MODIFIED) table=20 .*dl_dst=([0-9a-f:]{17})")


def cpu_seconds(pid):
    """CPU time of a process and its waited-for children (user + system), 0 when gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (OSError, TypeError):
        return 0.0
    return sum(int(v) for v in fields[11:15]) / CLK_TCK


class FlowWatch:
    """One ``ovs-ofctl monitor br-tun watch:!initial,table=20`` per host: each l2pop flow the
    moment ovs-vswitchd installs it, without polling anything."""

    def __init__(self, bench):
        self.sel = selectors.DefaultSelector()
        self.procs, self.seen, self.partial = [], {}, {}
        for name in bench.names:
            ovs = bench.ovs(name)
            p = subprocess.Popen(["stdbuf", "-oL", "ovs-ofctl", "monitor", ovs.mgmt("br-tun"),
                                  "watch:!initial,table=20"], env=ovs.env(),
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                 stdin=subprocess.DEVNULL, start_new_session=True)
            self.procs.append(p)
            self.seen[name], self.partial[name] = {}, b""
            self.sel.register(p.stdout, selectors.EVENT_READ, name)

    def read(self, timeout):
        """Take what the monitors printed within ``timeout`` seconds."""
        for key, _ in self.sel.select(timeout):
            data = os.read(key.fileobj.fileno(), 1 << 16)
            now, host = time.monotonic(), key.data
            if not data:
                raise RuntimeError("ovs-ofctl monitor on %s ended" % host)
            lines = (self.partial[host] + data).split(b"\n")
            self.partial[host] = lines.pop()
            for line in lines:
                m = FLOW_EVENT.search(line.decode(errors="replace"))
                if m:
                    self.seen[host].setdefault(m.group(1), now)

    def has(self, host, mac):
        return mac in self.seen[host]

    def close(self):
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
                p.wait(5)
            p.stdout.close()
        self.sel.close()


class Bench:
    def __init__(self, hosts, ports):
        self.n, self.p = hosts, ports
        self.root = tempfile.mkdtemp(prefix="tl-l2bench-", dir="/run")
        os.chmod(self.root, 0o755)
        self.lab = os.path.join(self.root, "lab")
        self.server = None
        self.names = ["b%02d" % i for i in range(1, hosts + 1)]
        self.active = []        # per sample: POST -> the port ACTIVE (its own host wired it)
        self.watch = None

    def start_server(self):
        port = free_port()
        self.url = "http://127.0.0.1:%d" % port
        log_f = open(os.path.join(self.root, "server.log"), "ab")
        self.server = subprocess.Popen(
            [os.path.join(VENV_BIN, "trunkline"), "server", "--bind", "127.0.0.1:%d" % port,
             "--db", "sqlite:///" + os.path.join(self.root, "trunkline.db"),
             "--quota-network", "-1", "--quota-subnet", "-1", "--quota-port", "-1"],
            stdout=log_f, stderr=subprocess.STDOUT, start_new_session=True)
        log_f.close()
        self.http = Http(self.url, "l2bench")
        deadline = time.monotonic() + 30
        while True:
            try:
                if self.http.request("GET", "/")[0] == 200:
                    return
            except OSError:
                pass
            if time.monotonic() > deadline or self.server.poll() is not None:
                raise RuntimeError("the server did not start; see %s/server.log" % self.root)
            time.sleep(0.1)

    def api(self, method, path, body=None, ok=(200, 201)):
        status, raw = self.http.request(method, "/v2.0" + path, body)
        data = json.loads(raw) if raw else None
        if status not in ok:
            raise RuntimeError("%s %s: %s %s" % (method, path, status, data))
        return data

    def ovs(self, name):
        rec = LabState(self.lab).host(name)
        return daemon.OvsInstance(rec["rundir"], netns=rec["netns"])

    # -- set-up --------------------------------------------------------------------------------
    def setup(self):
        self.start_server()
        t = time.monotonic()
        for name in self.names:
            labhost.add_host(name, endpoint=self.url, state_dir=self.lab, timeout=60)
        self.hosts_s = time.monotonic() - t
        log("%d hosts up in %.1f s" % (self.n, self.hosts_s))
        net = self.api("POST", "/networks", {"network": {
            "name": "l2bench", "provider:network_type": "vxlan"}})["network"]
        self.net = net["id"]
        self.api("POST", "/subnets", {"subnet": {"network_id": self.net, "cidr": "10.80.0.0/16",
                                                 "ip_version": 4}})
        t = time.monotonic()
        plugs = {}
        for name in self.names:
            plugs[name] = [self.create_port(name) for _ in range(self.p)]
        for name in self.names:
            self.plug(name, plugs[name])
        want = (self.n - 1) * self.p
        deadline = time.monotonic() + 600
        pending = list(self.names)
        while pending and time.monotonic() < deadline:
            pending = [h for h in pending if self.l2pop_flows(h) < want]
            if pending:
                time.sleep(0.5)
        if pending:
            raise RuntimeError("hosts %s did not converge to %d l2pop flows" % (pending, want))
        self.population_s = time.monotonic() - t
        log("population of %d ports converged in %.1f s" % (self.n * self.p, self.population_s))

    def create_port(self, host):
        return self.api("POST", "/ports", {"port": {
            "network_id": self.net, "device_owner": "compute:nova",
            "device_id": str(uuid.uuid4()), "binding:host_id": host}})["port"]

    def plug(self, host, ports):
        """One ovs-vsctl call plugs PORTS on HOST's br-int (internal ports, os-vif's ids)."""
        args = []
        for p in ports:
            tap = ("tap" + p["id"])[:14]
            args += ["--", "add-port", "br-int", tap, "--", "set", "Interface", tap,
                     "type=internal", "external_ids:iface-id=" + p["id"],
                     "external_ids:attached-mac=" + p["mac_address"],
                     "external_ids:iface-status=active"]
        self.ovs(host).vsctl(*args)

    def l2pop_flows(self, host, mac=None):
        match = "table=20" + (",dl_dst=" + mac if mac else "")
        out = subprocess.run(["ovs-ofctl", "dump-flows", "--no-stats",
                              self.ovs(host).mgmt("br-tun"), match],
                             capture_output=True, text=True).stdout
        return sum(1 for line in out.splitlines() if "priority=2" in line)

    # -- phases --------------------------------------------------------------------------------
    def cpu(self):
        """{process kind: CPU seconds so far} of the server and every host's processes."""
        out = {"server": cpu_seconds(self.server.pid), "agents": 0.0, "ovs-vswitchd": 0.0,
               "ovsdb-server": 0.0}
        lab = LabState(self.lab)
        for name in self.names:
            out["agents"] += cpu_seconds(lab.host(name)["agent_pid"])
            ovs = self.ovs(name)
            for d in ("ovs-vswitchd", "ovsdb-server"):
                out[d] += cpu_seconds(ovs.pid(d))
        return out

    def idle_cpu(self, seconds=5.0):
        """CPU seconds per second of the whole set-up while nothing changes."""
        c0, t0 = self.cpu(), time.monotonic()
        time.sleep(seconds)
        c1, dt = self.cpu(), time.monotonic() - t0
        return {k: (c1[k] - c0[k]) / dt for k in c0}

    def port_to_everywhere(self, samples, timeout=30.0):
        self.watch = FlowWatch(self)
        time.sleep(1.0)         # the monitors are connected
        idle = self.idle_cpu()
        times = []
        c0, t_start = self.cpu(), time.monotonic()
        for i in range(samples):
            host = self.names[i % self.n]
            others = [h for h in self.names if h != host]
            t0 = time.monotonic()
            port = self.create_port(host)
            self.plug(host, [port])
            mac, active, polled = port["mac_address"], None, 0.0
            pending = others
            while pending and time.monotonic() - t0 < timeout:
                if active is None and time.monotonic() - polled >= 0.05:
                    polled = time.monotonic()
                    if self.api("GET", "/ports/" + port["id"])["port"]["status"] == "ACTIVE":
                        active = polled - t0
                self.watch.read(0.05 if active is None else 0.5)
                pending = [h for h in pending if not self.watch.has(h, mac)]
            took = max([self.watch.seen[h].get(mac, float("inf")) for h in others]) - t0
            self.active.append(active if active is not None else took)
            if pending:
                log("sample %d: %d hosts still without the flow after %.0f s"
                    % (i, len(pending), timeout))
            times.append(took)
            log("sample %d: port on %s ACTIVE after %.3f s, in every other host's br-tun "
                "after %.3f s" % (i, host, self.active[-1], took))
        c1, dt = self.cpu(), time.monotonic() - t_start
        self.cpu_per_sample = {k: max(0.0, (c1[k] - c0[k]) - idle[k] * dt) / samples
                               for k in c0}
        self.idle = idle
        self.watch.close()
        self.watch = None
        return times

    def restarts(self, count=3):
        host = self.names[0]
        out = []
        for _ in range(count):
            before = self.tun_flows(host)
            rec = LabState(self.lab).host(host)
            log_path = labhost.log_path(rec)
            offset = os.path.getsize(log_path)
            t0 = time.monotonic()
            labhost.restart_agent(host, state_dir=self.lab, timeout=60)
            pass_s = None
            deadline = time.monotonic() + 60
            while pass_s is None and time.monotonic() < deadline:
                with open(log_path, errors="replace") as f:
                    f.seek(offset)
                    m = re.search(r"reconciled in ([0-9.]+) s", f.read())
                if m:
                    pass_s = float(m.group(1))
                else:
                    time.sleep(0.05)
            first = time.monotonic() - t0
            same = self.tun_flows(host) == before
            log("restart: first pass done %.2f s after the restart, the pass itself %.3f s, "
                "flows unchanged: %s" % (first, pass_s or -1, same))
            out.append({"first_pass_s": pass_s, "done_s": first, "flows_unchanged": same})
        return out

    def tun_flows(self, host):
        out = subprocess.run(["ovs-ofctl", "dump-flows", "--no-stats",
                              self.ovs(host).mgmt("br-tun")], capture_output=True,
                             text=True).stdout
        return sorted(line for line in out.splitlines() if "hard_timeout" not in line)

    def close(self):
        if self.watch is not None:
            self.watch.close()
        try:
            labhost.down(self.lab)
        except Exception as e:
            log("cleanup: %s" % e)
        if self.server is not None:
            stop_group(self.server)
        shutil.rmtree(self.root, ignore_errors=True)


def pct(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--hosts", type=int, default=20, help="lab hosts (default: %(default)s)")
    p.add_argument("--ports", type=int, default=50, help="ports per host (default: %(default)s)")
    p.add_argument("--samples", type=int, default=20,
                   help="ports timed one by one (default: %(default)s)")
    args = p.parse_args(argv)
    bench = Bench(args.hosts, args.ports)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        bench.setup()
        times = bench.port_to_everywhere(args.samples)
        restarts = bench.restarts()
    finally:
        bench.close()
    p50, p99 = pct(times, 0.5), pct(times, 0.99)
    first = statistics.median(r["first_pass_s"] or float("inf") for r in restarts)
    done = statistics.median(r["done_s"] for r in restarts)
    rows = [
        ("lab hosts up (s)", "%.1f" % bench.hosts_s, ""),
        ("population %dx%d converged (s)" % (args.hosts, args.ports),
         "%.1f" % bench.population_s, ""),
        ("port -> every other host p50 (s)", "%.3f" % p50, ""),
        ("port -> every other host p99 (s)", "%.3f" % p99, "< %.0f s %s" % (
            TARGET_P99_S, "PASS" if p99 < TARGET_P99_S else "FAIL")),
        ("port -> every other host max (s)", "%.3f" % max(times), ""),
        ("  of which: port ACTIVE on its host p50 (s)", "%.3f" % pct(bench.active, 0.5), ""),
        ("  of which: ACTIVE -> every other host p50 (s)", "%.3f" % pct(
            [t - a for t, a in zip(times, bench.active)], 0.5), ""),
        ("CPU per sample, all processes, less idle (ms)", "%.0f" % (
            1000 * sum(bench.cpu_per_sample.values())), ""),
    ] + [("  %s (ms)" % kind, "%.0f" % (1000 * v), "")
         for kind, v in bench.cpu_per_sample.items()] + [
        ("idle CPU, all processes (ms per s)", "%.0f" % (1000 * sum(bench.idle.values())), ""),
        ("agent restart -> first pass done (s, median)", "%.2f" % done, ""),
        ("agent restart: that pass (s, median)", "%.3f" % first, ""),
        ("agent restart: flows unchanged", "%d/%d" % (
            sum(r["flows_unchanged"] for r in restarts), len(restarts)), ""),
        ("machine load average (1 min, at the end)", "%.1f" % os.getloadavg()[0], ""),
    ]
    width = max(len(r[0]) for r in rows)
    print("%-*s  %10s  %s" % (width, "metric", "value", "target"))
    for name, value, target in rows:
        print("%-*s  %10s  %s" % (width, name, value, target))
    print(json.dumps({"hosts": args.hosts, "ports_per_host": args.ports,
                      "samples": args.samples, "hosts_up_s": round(bench.hosts_s, 2),
                      "population_s": round(bench.population_s, 2),
                      "l2pop_p50_s": round(p50, 3), "l2pop_p99_s": round(p99, 3),
                      "l2pop_max_s": round(max(times), 3),
                      "port_active_p50_s": round(pct(bench.active, 0.5), 3),
                      "cpu_per_sample_ms": {k: round(1000 * v, 1)
                                            for k, v in bench.cpu_per_sample.items()},
                      "idle_cpu_ms_per_s": round(1000 * sum(bench.idle.values()), 1),
                      "load_avg_1m": round(os.getloadavg()[0], 1),
                      "restart_resynced_s": round(done, 2), "restart_pass_s": first,
                      "restart_flows_unchanged": all(r["flows_unchanged"] for r in restarts)}),
          flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
