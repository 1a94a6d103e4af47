"""Start and stop a private Open vSwitch: ovsdb-server + ovs-vswitchd with their own database,
run directory, pid files and control sockets, optionally inside a network namespace.

Used by the tests, the lab and `trunkline up`. Starting ovs-vswitchd *inside* the namespace
makes the taps of internal ports belong to that namespace, so they go when it goes.
Every command gets OVS_RUNDIR/OVS_DBDIR/OVS_LOGDIR = the private run directory, so nothing of the
system's OVS (/var/run/openvswitch) is touched.
"""
import json
import os
import signal
import subprocess
import time

from trunkline.agent import netns as nsutil

SCHEMA = "/usr/share/openvswitch/vswitch.ovsschema"
# the userspace datapath's own tap device, one per network namespace; it outlives ovs-vswitchd
NETDEV_DEVICE = "ovs-netdev"


def datapath_type():
    """`system` when the openvswitch kernel module is there, else `netdev` (userspace)."""
    return "system" if os.path.exists("/sys/module/openvswitch") else "netdev"


def _read_pid(path):
    try:
        with open(path) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def _alive(pid):
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:   # a zombie child of ours counts as gone
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def netns_inode(netns=None):
    """The inode that identifies network namespace NETNS (None: this process's)."""
    return os.stat(os.path.join(nsutil.NETNS_DIR, netns) if netns
                   else "/proc/self/ns/net").st_ino


def vswitchd_in(netns=None):
    """PIDs of the ovs-vswitchd processes running in network namespace NETNS (None: ours),
    whoever started them: the userspace datapath's device is theirs while one runs."""
    try:
        want = netns_inode(netns)
    except OSError:
        return []
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/comm" % entry) as f:
                if f.read().strip() != "ovs-vswitchd":
                    continue
            if os.stat("/proc/%s/ns/net" % entry).st_ino == want and _alive(int(entry)):
                pids.append(int(entry))
        except OSError:
            continue
    return pids


class OvsInstance:
    """A private OVS instance rooted at `rundir`; `db` is the `unix:` target of its ovsdb-server."""

    def __init__(self, rundir, netns=None, system_id=None):
        self.rundir = os.path.abspath(rundir)
        self.netns = netns
        self.system_id = system_id or os.path.basename(self.rundir)
        self.db_sock = os.path.join(self.rundir, "db.sock")
        self.db = "unix:" + self.db_sock

    # -- helpers ---------------------------------------------------------------
    def env(self):
        e = dict(os.environ)
        e.update(OVS_RUNDIR=self.rundir, OVS_DBDIR=self.rundir, OVS_LOGDIR=self.rundir)
        return e

    def _run(self, argv, in_ns=False, check=True, input=None):
        if in_ns and self.netns:
            argv = ["ip", "netns", "exec", self.netns] + list(argv)
        p = subprocess.run(argv, env=self.env(), capture_output=True, text=True, input=input,
                           timeout=60)
        if check and p.returncode != 0:
            raise nsutil.CommandError("%s: %s" % (" ".join(argv), p.stderr.strip()))
        return p.stdout

    def vsctl(self, *args, check=True):
        return self._run(["ovs-vsctl", "--timeout=30", "--db=" + self.db] + list(args), check=check)

    def ofctl(self, *args, check=True, input=None):
        """ovs-ofctl; give the bridge as a plain name, it is mapped to its private mgmt socket."""
        return self._run(["ovs-ofctl"] + list(args), check=check, input=input)

    def mgmt(self, bridge):
        return "unix:%s/%s.mgmt" % (self.rundir, bridge)

    def pidfile(self, daemon):
        return os.path.join(self.rundir, daemon + ".pid")

    def pid(self, daemon):
        """The PID of this instance's DAEMON while it runs: its pid file's PID, and only when
        that process's command line names this pid file (a PID reused by another process is
        not ours)."""
        pid = _read_pid(self.pidfile(daemon))
        if not pid:
            return None
        try:
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                cmd = f.read().split(b"\0")
        except OSError:
            return None
        return pid if ("--pidfile=" + self.pidfile(daemon)).encode() in cmd else None

    def internal_interfaces(self):
        """Names of the internal ports in this instance's database: from the running
        ovsdb-server, else read from the database file itself."""
        if _alive(self.pid("ovsdb-server")):
            out = self.vsctl("--bare", "--columns=name", "find", "Interface", "type=internal",
                             check=False)
            return out.split()
        conf = os.path.join(self.rundir, "conf.db")
        if not os.path.exists(conf):
            return []
        query = json.dumps(["Open_vSwitch", {"op": "select", "table": "Interface",
                                             "where": [["type", "==", "internal"]],
                                             "columns": ["name"]}])
        try:
            rows = json.loads(self._run(["ovsdb-tool", "query", conf, query]))[0]["rows"]
        except (nsutil.CommandError, ValueError, KeyError, IndexError):
            return []
        return [r["name"] for r in rows]

    # -- lifecycle -------------------------------------------------------------
    def start(self, vswitchd=True):
        os.makedirs(self.rundir, exist_ok=True)
        conf = os.path.join(self.rundir, "conf.db")
        if not os.path.exists(conf):
            self._run(["ovsdb-tool", "create", conf, SCHEMA])
        if not _alive(self.pid("ovsdb-server")):
            # the managers in the database (the agent's --ovsdb-manager) are served too
            self._run(["ovsdb-server", conf, "--remote=punix:" + self.db_sock,
                       "--remote=db:Open_vSwitch,Open_vSwitch,manager_options",
                       "--pidfile=" + self.pidfile("ovsdb-server"),
                       "--unixctl=" + os.path.join(self.rundir, "ovsdb-server.ctl"),
                       "--log-file=" + os.path.join(self.rundir, "ovsdb-server.log"),
                       "--detach", "--no-chdir"], in_ns=True)
            self.vsctl("--no-wait", "init", "--", "set", "Open_vSwitch", ".",
                       "external_ids:system-id=" + self.system_id,
                       "external_ids:hostname=" + self.system_id)
        if vswitchd:
            self.start_vswitchd()
        return self.db

    def start_vswitchd(self):
        if _alive(self.pid("ovs-vswitchd")):
            return
        self._run(["ovs-vswitchd", self.db, "--pidfile=" + self.pidfile("ovs-vswitchd"),
                   "--unixctl=" + os.path.join(self.rundir, "ovs-vswitchd.ctl"),
                   "--log-file=" + os.path.join(self.rundir, "ovs-vswitchd.log"),
                   "--detach", "--no-chdir"], in_ns=True)

    def stop_daemon(self, daemon, timeout=10.0):
        pid = self.pid(daemon)
        if not _alive(pid):
            return
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.02)
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
            while _alive(pid) and time.monotonic() < deadline + timeout:
                time.sleep(0.02)

    def stop(self, devices=True):
        """Stop both daemons (vswitchd first); returns the names of those that ran. Bridges
        stay in the database file; their internal-port devices and the datapath's
        ``ovs-netdev`` are removed (unless ``devices=False``: they are in a namespace that is
        not this instance's any more), since on the userspace datapath those taps would
        outlive ovs-vswitchd; a restart recreates them."""
        internal = self.internal_interfaces() if devices else []
        ran = [d for d in ("ovs-vswitchd", "ovsdb-server") if _alive(self.pid(d))]
        self.stop_daemon("ovs-vswitchd")
        self.stop_daemon("ovsdb-server")
        # while another ovs-vswitchd runs in the namespace (the machine's), the devices are its
        if not devices or vswitchd_in(self.netns):
            return ran
        have = nsutil.links(self.netns)
        for dev in internal + [NETDEV_DEVICE]:
            if dev in have:
                nsutil.ip(["link", "del", dev], netns=self.netns, check=False)
        return ran

    def restart_vswitchd(self):
        self.stop_daemon("ovs-vswitchd")
        self.start_vswitchd()


def start(rundir, netns=None, system_id=None, vswitchd=True):
    """Start (or reuse) a private OVS at rundir; returns the OvsInstance (`.db` = unix:… socket)."""
    inst = OvsInstance(rundir, netns=netns, system_id=system_id)
    inst.start(vswitchd=vswitchd)
    return inst
