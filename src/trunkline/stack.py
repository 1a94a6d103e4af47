"""The all-in-one stack behind ``trunkline up`` and ``trunkline demo``: the API server, Open
vSwitch (the machine's own when it is running, else a private instance under the state
directory) and one agent with DHCP for the local host. Every process it starts is stopped by
PID; with ``isolated=True`` the switch lives in a private network namespace the stack creates
and removes (the demo and tests), so nothing reaches the machine's own network.

The stack owns what it starts and removes all of it when it stops: DHCP servers, their
namespaces and the private switch's devices too (a plain ``trunkline agent`` restart leaves
dnsmasq serving; ``up`` is the all-in-one). It records what it started (ops/record.py) and
holds a lock per state directory and, unless isolated, per network namespace; a start first
removes what a killed run left (ops/cleanup.py). It is ready once its agent has made one
successful pass."""
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid

from trunkline import constants as c
from trunkline.agent import netns as nsutil
from trunkline.agent import ovsdb
from trunkline.agent.ovs import daemon
from trunkline.ops import cleanup, record

SYSTEM_OVS_RUNDIR = "/var/run/openvswitch"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop_group(proc, timeout=10):
    """Stop the process group a Popen started with ``start_new_session``: SIGTERM, then
    SIGKILL after ``timeout`` seconds; returns once the process is reaped."""
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def _bin(name):
    return os.path.join(os.path.dirname(sys.executable), name)


def _get_json(url, timeout=2, headers=None):
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}),
                                timeout=timeout) as r:
        return json.loads(r.read() or b"null")


class StackError(RuntimeError):
    """The stack cannot start: another one holds its lock, or a part did not get ready."""


class Stack:
    def __init__(self, state_dir, bind=None, db_url=None, host=None, isolated=False,
                 workers=1, server_args=(), agent_args=(), log=print, agent_secret_file=None,
                 policy_file=None, api_headers=None):
        """``server_args``/``agent_args``: extra options for ``trunkline server``/``agent``
        (e.g. ``--agent-down-time``, ``--report-interval``); ``api_headers``: sent with the
        API calls the stack makes itself (an admin's ``X-Auth-Token`` for a Keystone server)."""
        self.api_headers = dict(api_headers or {})
        self.state_dir = os.path.abspath(state_dir)
        self.agent_secret_file = agent_secret_file
        self.policy_file = policy_file
        self.bind = bind or "127.0.0.1:%d" % free_port()
        self.url = "http://" + self.bind
        self.db_url = db_url or "sqlite:///" + os.path.join(self.state_dir, "trunkline.db")
        self.isolated = isolated
        self.workers = workers
        self.server_args = list(server_args)
        self.agent_args = list(agent_args)
        tag = uuid.uuid4().hex[:6]
        self.host = host or (("tl-%s" % tag) if isolated else socket.gethostname())
        self.netns = "tlhost-%s" % tag if isolated else None
        self.log = log
        self.ovs = None
        self.procs = []
        self.locks = []
        self.record = None

    # -- start ---------------------------------------------------------------------------------

    def start(self, timeout=60):
        """Start everything; returns once the agent's first pass succeeded. Raises StackError
        (with the reason) when another stack holds a lock or a part cannot get ready; what was
        started is stopped again."""
        os.makedirs(self.state_dir, exist_ok=True)
        # dnsmasq reads its files as "nobody": the agent's state must be reachable for it
        os.chmod(self.state_dir, 0o755)
        started = time.monotonic()
        self._lock()
        try:
            self._reclaim()
            self._write_record()
            rundir = self._start_ovs()
            argv = [_bin("trunkline"), "server", "--bind", self.bind, "--db", self.db_url,
                    "--workers", str(self.workers), *self.server_args]
            if self.policy_file:
                argv += ["--policy-file", self.policy_file]
            if self.agent_secret_file:
                argv += ["--agent-secret-file", self.agent_secret_file]
            self._spawn("server", argv)
            self._wait(lambda: _get_json(self.url + "/"), "the API server")
            self.log("server   %s (database %s)" % (self.url, self.db_url))
            argv = [_bin("trunkline"), "agent", "--host", self.host, "--server", self.url,
                    "--dhcp", "--ovs-rundir", rundir,
                    "--state-dir", self.agent_state_dir]
            if self.netns:
                argv += ["--netns", self.netns]
            if self.agent_secret_file:
                argv += ["--agent-secret-file", self.agent_secret_file]
            self._spawn("agent", argv + self.agent_args)
            self._wait(self._agent_ready, "the agent's first successful pass", timeout)
            self.log("agent    host %s, DHCP on%s" % (
                self.host, ", switch in namespace %s" % self.netns if self.netns else ""))
            self.log("ready in %.1f s" % (time.monotonic() - started))
        except BaseException:
            self.stop()
            raise
        return self

    @property
    def agent_state_dir(self):
        return os.path.join(self.state_dir, "agent")

    def _lock(self):
        me = {"pid": os.getpid(), "state_dir": self.state_dir}
        locks = [record.state_lock(self.state_dir)]
        if not self.isolated:
            locks.append(record.netns_lock())
        for lock in locks:
            if not lock.acquire(me):
                for held in self.locks:
                    held.release()
                self.locks = []
                other = lock.holder()
                where = "this network namespace" if lock.remove else "state directory %s" \
                    % self.state_dir
                raise StackError(
                    "another `trunkline up` (pid %s, state directory %s) runs in %s; stop it "
                    "(Ctrl-C, or `trunkline down --state-dir %s`) before starting another"
                    % (other.get("pid", "?"), other.get("state_dir", "?"), where,
                       other.get("state_dir", self.state_dir)))
            self.locks.append(lock)

    def _reclaim(self):
        old = record.load(self.state_dir)
        done = cleanup.remove(self.state_dir, old)
        if done:
            self.log("reclaimed what an earlier run%s left in %s: %s" % (
                " (pid %s)" % old["pid"] if old and old.get("pid") else "", self.state_dir,
                ", ".join(done)))

    def _write_record(self):
        self.record = {
            "pid": os.getpid(), "cmdline": record.cmdline(os.getpid()),
            "netns_inode": record.netns_inode(), "isolated": self.isolated,
            "netns": self.netns, "ovs_rundir": None, "agent_state_dir": self.agent_state_dir,
            "url": self.url, "host": self.host, "procs": [],
            "started_at": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())}
        record.save(self.state_dir, self.record)

    def _start_ovs(self):
        if not self.isolated and _answers("unix:%s/db.sock" % SYSTEM_OVS_RUNDIR):
            self.log("ovs      the machine's Open vSwitch (%s)" % SYSTEM_OVS_RUNDIR)
            return SYSTEM_OVS_RUNDIR
        if self.netns:
            nsutil.add(self.netns)
        rundir = os.path.join(self.state_dir, "ovs")
        self.record["ovs_rundir"] = rundir
        record.save(self.state_dir, self.record)
        self.ovs = daemon.start(rundir, netns=self.netns, system_id=self.host)
        self.log("ovs      private ovsdb-server + ovs-vswitchd in %s (datapath %s)"
                 % (rundir, daemon.datapath_type()))
        return rundir

    def _spawn(self, name, argv, at=None):
        logf = open(os.path.join(self.state_dir, name + ".log"), "ab")
        proc = subprocess.Popen(argv, stdout=logf, stderr=subprocess.STDOUT,
                                start_new_session=True)
        logf.close()
        if at is None:
            self.procs.append((name, proc))
        else:
            self.procs[at] = (name, proc)
        if self.record is not None:
            self.record["procs"] = [{"name": n, "pid": p.pid, "cmdline": list(p.args)}
                                    for n, p in self.procs]
            record.save(self.state_dir, self.record)
        return proc

    def restart(self, name, timeout=10):
        """Stop process NAME ("server" or "agent") by its PID (SIGTERM to its process group,
        SIGKILL after TIMEOUT s) and start it again with the same command line. Returns the new
        Popen; the caller waits for whatever readiness it needs."""
        for at, (n, proc) in enumerate(self.procs):
            if n == name:
                break
        else:
            raise KeyError(name)
        stop_group(proc, timeout)
        return self._spawn(name, list(proc.args), at=at)

    def _wait(self, probe, what, timeout=30):
        deadline = time.monotonic() + timeout
        self.waiting_for = None
        while time.monotonic() < deadline:
            for name, proc in self.procs:
                if proc.poll() is not None:
                    raise StackError("%s exited (code %s); see %s" % (
                        name, proc.returncode, os.path.join(self.state_dir, name + ".log")))
            try:
                if probe():
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise StackError("timed out after %.0f s waiting for %s%s" % (
            timeout, what, "; %s" % self.waiting_for if self.waiting_for else ""))

    def _agent_ready(self):
        """The agent is alive and says its last pass succeeded (configurations.last_pass);
        a failing pass is kept as the reason to give when the wait times out."""
        agents = _get_json(self.url + "/v2.0/agents?host=" + self.host,
                           headers=self.api_headers)["agents"]
        for a in agents:
            if a["alive"] and a["agent_type"] == c.AGENT_OVS:
                last = (a.get("configurations") or {}).get("last_pass") or {}
                if last.get("ok"):
                    return True
                if last.get("error"):
                    if self.waiting_for is None:
                        self.log("agent    its pass failed (%s); waiting for one to succeed"
                                 % last["error"])
                    self.waiting_for = "its passes fail since %s: %s (see %s)" % (
                        last.get("failing_since"), last["error"],
                        os.path.join(self.state_dir, "agent.log"))
        return False

    # -- run and stop --------------------------------------------------------------------------

    def wait(self):
        """Block until SIGINT/SIGTERM or until a process dies."""
        stop = []
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.append(1))
        while not stop:
            for name, proc in self.procs:
                if proc.poll() is not None:
                    self.log("%s exited (code %s)" % (name, proc.returncode))
                    return 1
            time.sleep(0.2)
        return 0

    def stop(self):
        """Stop the processes this stack started, then remove everything else it made (DHCP
        servers and namespaces, the private switch, its devices, the isolated namespace) and
        release its locks."""
        for _, proc in reversed(self.procs):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for _, proc in reversed(self.procs):
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        self.procs = []
        if self.locks:              # the stack got as far as owning its state directory
            cleanup.remove(self.state_dir, self.record, procs=False)
            self.record = None
        self.ovs = None
        for lock in reversed(self.locks):
            lock.release()
        self.locks = []


def _answers(target):
    try:
        with ovsdb.Ovsdb(target, timeout=2) as db:
            db.call("list_dbs", [])
        return True
    except (OSError, ovsdb.OvsdbError):
        return False
