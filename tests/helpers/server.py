"""Real parts for the tests: a private PostgreSQL cluster and trunkline servers started as
processes on free 127.0.0.1 ports. Everything started here is stopped by PID and removed."""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager

import requests

from trunkline.stack import free_port, stop_group

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VENV_BIN = os.path.dirname(sys.executable)
TRUNKLINE = os.path.join(VENV_BIN, "trunkline")
# server options lifting every quota, for benchmarks and tests that make more of something in
# one project than Neutron's default quotas allow
NO_QUOTAS = ("--quota-network", "-1", "--quota-subnet", "-1", "--quota-port", "-1",
             "--quota-security-group", "-1", "--quota-security-group-rule", "-1")


def wait_for(fn, timeout=15.0, what="a condition", interval=0.1):
    """``fn()``'s first truthy value; AssertionError naming ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.0f s waiting for %s" % (timeout, what))
        time.sleep(interval)


@contextmanager
def running_stack(make_env, prefix):
    """``make_env(root)`` (an e2e test's Env: a ``stack`` and a ``lab_dir`` under ``root``) with
    its stack started in a private /run/PREFIX-xxxxxxxx; afterwards (also when the setup in the
    ``with`` block fails) the lab's VMs go, the stack stops and the directory is removed."""
    from trunkline.lab import vm as labvm
    root = "/run/%s-%s" % (prefix, uuid.uuid4().hex[:8])
    os.makedirs(root)
    os.chmod(root, 0o755)       # dnsmasq runs as nobody and reads the agent's files below
    env = make_env(root)
    try:
        env.stack.start()
        yield env
    finally:
        try:
            labvm.down(env.stack.url, state_dir=env.lab_dir)
        finally:
            env.stack.stop()
            shutil.rmtree(root, ignore_errors=True)


def wait_http(url, proc=None, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError("process exited with %s" % proc.returncode)
        try:
            requests.get(url, timeout=1)
            return
        except requests.ConnectionError:
            time.sleep(0.05)
    raise RuntimeError("%s did not answer within %ss" % (url, timeout))


class Server:
    """A ``trunkline server`` process."""

    def __init__(self, db_url, workers=1, extra=()):
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.db_url = db_url
        self.log = tempfile.NamedTemporaryFile(prefix="tl-server-", suffix=".log", delete=False)
        self.proc = subprocess.Popen(
            [TRUNKLINE, "server", "--bind", "127.0.0.1:%d" % self.port, "--db", db_url,
             "--workers", str(workers), *extra],
            stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            wait_http(self.url + "/", self.proc)
        except Exception:
            output = self.output()
            self.stop()
            raise RuntimeError("server failed to start: " + output)

    def output(self):
        with open(self.log.name) as f:
            return f.read()

    def kill(self):
        """``kill -9`` of the server and its workers (its whole process group)."""
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        stop_group(self.proc)
        if os.path.exists(self.log.name):
            os.unlink(self.log.name)


class Postgres:
    """A private PostgreSQL cluster on a free port and a private socket directory."""

    def __init__(self):
        self.bindir = _pg_bindir()
        self.dir = tempfile.mkdtemp(prefix="tl-pg-")
        self.data = os.path.join(self.dir, "data")
        self.sock = os.path.join(self.dir, "sock")
        os.makedirs(self.sock)
        shutil.chown(self.dir, "postgres", "postgres")
        shutil.chown(self.sock, "postgres", "postgres")
        self.port = free_port()
        self._as_postgres([os.path.join(self.bindir, "initdb"), "-D", self.data, "-A", "trust",
                           "-U", "postgres", "--no-sync"])
        self.start()

    def start(self):
        self._as_postgres([os.path.join(self.bindir, "pg_ctl"), "-D", self.data, "-w", "-l",
                           os.path.join(self.dir, "log"), "-o",
                           "-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off "
                           "-c max_connections=300" % (self.port, self.sock), "start"])

    def halt(self, mode="fast"):
        """Stop the server (its data stays; ``start()`` brings it back on the same port)."""
        self._as_postgres([os.path.join(self.bindir, "pg_ctl"), "-D", self.data, "-m", mode,
                           "-w", "stop"])

    def _as_postgres(self, cmd):
        subprocess.run(["runuser", "-u", "postgres", "--"] + cmd, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd="/")

    def new_database(self):
        name = "tl_" + uuid.uuid4().hex[:12]
        self._as_postgres([os.path.join(self.bindir, "createdb"), "-h", self.sock, "-p",
                           str(self.port), "-U", "postgres", name])
        return "postgresql://postgres@127.0.0.1:%d/%s" % (self.port, name)

    def stop(self):
        try:
            self._as_postgres([os.path.join(self.bindir, "pg_ctl"), "-D", self.data, "-m",
                               "immediate", "-w", "stop"])
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


def _pg_bindir():
    base = "/usr/lib/postgresql"
    versions = sorted(os.listdir(base), key=lambda v: int(v.split(".")[0]))
    return os.path.join(base, versions[-1], "bin")
