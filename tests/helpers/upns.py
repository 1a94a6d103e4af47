"""``trunkline up`` as a user runs it, inside a private test network namespace: the namespace
(``nsenter --net``, so the mount namespace — and with it /run/netns — stays the machine's),
commands run in it (``trunkline ...``, ``openstack ...``), and what a stack may leave behind
(processes, namespaces, devices, lock files) to compare before and after."""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import uuid

from helpers.server import wait_for
from trunkline.agent import netns as nsutil

BIN = os.path.dirname(sys.executable)
RUN_DIR = "/run/trunkline"


class UpNamespace:
    """A private network namespace (lo up) and a temporary directory; ``close()`` stops what
    still runs (`trunkline down`, by the test's state directories) and removes both."""

    def __init__(self):
        self.name = "tlu-" + uuid.uuid4().hex[:8]
        nsutil.add(self.name)
        self.root = tempfile.mkdtemp(prefix=self.name + "-", dir="/run")
        os.chmod(self.root, 0o755)
        self.ups = []
        self.inode = os.stat(os.path.join(nsutil.NETNS_DIR, self.name)).st_ino

    def argv(self, *argv):
        return ["nsenter", "--net=" + os.path.join(nsutil.NETNS_DIR, self.name), *argv]

    def run(self, *argv, timeout=120, env=None):
        """Run ``trunkline``/``openstack``/any command in the namespace; a CompletedProcess."""
        argv = list(argv)
        if argv[0] in ("trunkline", "openstack"):
            argv[0] = os.path.join(BIN, argv[0])
        e = dict(os.environ, OS_AUTH_TYPE="none", OS_ENDPOINT="http://127.0.0.1:9696")
        e.update(env or {})
        return subprocess.run(self.argv(*argv), capture_output=True, text=True,
                              timeout=timeout, env=e)

    def osc(self, cmd):
        """``openstack CMD -f json`` in the namespace, parsed."""
        r = self.run("openstack", *cmd.split(), "-f", "json")
        assert r.returncode == 0, (cmd, r.stderr)
        return json.loads(r.stdout) if r.stdout.strip() else None

    def api(self, path):
        r = self.run("curl", "-sf", "http://127.0.0.1:9696" + path)
        assert r.returncode == 0, (path, r.stderr)
        return json.loads(r.stdout)

    def state_dir(self, name="up"):
        return os.path.join(self.root, name)

    def up(self, name="up", wait=True):
        """Start ``trunkline up --state-dir ROOT/NAME``; with ``wait``, until it printed its
        ``export`` line (or exited). Returns the Up."""
        up = Up(self, self.state_dir(name))
        self.ups.append(up)
        if wait:
            up.wait_ready()
        return up

    # -- what a stack may leave ------------------------------------------------------------
    def leftovers(self, state_dirs=None, net_ids=()):
        """What of a stack exists outside its state directory: processes that run in this
        namespace or name a state directory, qdhcp- namespaces of NET_IDS, devices besides lo,
        this namespace's lock file."""
        state_dirs = state_dirs or [u.state_dir for u in self.ups]
        procs = []
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                with open("/proc/%s/cmdline" % pid, "rb") as f:
                    cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
                inode = os.stat("/proc/%s/ns/net" % pid).st_ino
            except OSError:
                continue
            if not cmd:
                continue
            if inode == self.inode or any(d in cmd for d in state_dirs):
                if "nsenter" in cmd.split()[0] or int(pid) == os.getpid():
                    continue
                procs.append("%s %s" % (pid, cmd[:120]))
        spaces = sorted(n for n in os.listdir(nsutil.NETNS_DIR)
                        if any(n.startswith("qdhcp-" + i) for i in net_ids))
        devices = sorted(set(nsutil.links(self.name)) - {"lo"})
        lock = os.path.join(RUN_DIR, "up-netns-%d.lock" % self.inode)
        files = [lock] if os.path.exists(lock) else []
        return {"processes": procs, "namespaces": spaces, "devices": devices, "files": files}

    @property
    def lab_dir(self):
        return os.path.join(self.root, "lab")

    def lab(self, *argv, timeout=120):
        """``trunkline lab VERB(S) --state-dir ROOT/lab REST`` in the namespace."""
        verbs = 1 if argv[0] == "down" else 2
        return self.run("trunkline", "lab", *argv[:verbs], "--state-dir", self.lab_dir,
                        *argv[verbs:], timeout=timeout)

    def close(self):
        if os.path.isdir(self.lab_dir):
            self.lab("down")
        for up in self.ups:
            up.kill()
        for up in self.ups:
            self.run("trunkline", "down", "--state-dir", up.state_dir, timeout=90)
        for n in os.listdir(nsutil.NETNS_DIR):       # the test's own lab VMs
            if n.startswith("tlvm-" + self.name):
                nsutil.delete(n)
        nsutil.delete(self.name)
        shutil.rmtree(self.root, ignore_errors=True)


NOTHING = {"processes": [], "namespaces": [], "devices": [], "files": []}


class Up:
    def __init__(self, ns, state_dir):
        self.ns = ns
        self.state_dir = state_dir
        self.log = state_dir + ".out"
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(
                ns.argv(os.path.join(BIN, "trunkline"), "up", "--state-dir", state_dir),
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def output(self):
        with open(self.log, errors="replace") as f:
            return f.read()

    def wait_ready(self, timeout=90):
        wait_for(lambda: "export OS_AUTH_TYPE" in self.output() or self.proc.poll() is not None,
                 timeout, what="trunkline up to be ready")
        assert self.proc.poll() is None, self.output()
        return self

    def stop(self, sig=signal.SIGTERM, timeout=60):
        """Send SIG to the up (nsenter execs it: its PID is the up's); its exit code."""
        self.proc.send_signal(sig)
        return self.proc.wait(timeout)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def until(fn, timeout=30, what="a condition"):
    return wait_for(fn, timeout, what=what, interval=0.2)
