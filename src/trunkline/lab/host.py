"""Lab hosts: several simulated hypervisors on this machine, each a network namespace with its
own switch and its own ``trunkline agent`` process, joined by a lab underlay.

A lab (one state directory) has an id; its underlay is namespace ``tlul-<id>`` holding the Linux
bridges ``br-ul`` (tunnels, VTEP addresses 192.0.2.N/24) and ``br-phys`` (the "physical"
network for flat/VLAN provider networks). Host NAME is namespace ``tlh-<id>-NAME`` with NIC
``eth1`` on br-ul and, with a physnet, ``eth2`` on br-phys (their underlay ends are ``ulN`` and
``phN``, N = the host's number, its VTEP being 192.0.2.N).

- ``ovs``: a private ovsdb-server + ovs-vswitchd (userspace datapath) started inside the
  namespace, run directory ``/run/tlh-<id>-NAME``. OVS's native tunnelling on the userspace
  datapath routes and ARPs for itself, so the VTEP address sits on ``br-phy``, a netdev bridge
  holding eth1 (the host's underlay configuration, like an operator's).
- ``linuxbridge``: nothing extra; the VTEP address sits on eth1.

The agent runs in the root namespace (it reaches the server on 127.0.0.1) with ``--netns``, and
is stopped by its PID. Everything is recorded in the lab state (lab/state.py) before it is made,
so ``del_host``/``down`` remove it even after a failure half-way.
"""
import ipaddress
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid

from trunkline import constants as c
from trunkline.agent import netns as nsutil
from trunkline.agent.dhcp import DhcpManager
from trunkline.agent.ovs import daemon
from trunkline.lab import neutron as neutron_api
from trunkline.lab.state import LabState

DRIVERS = ("ovs", "linuxbridge")
L2_AGENTS = {"ovs": c.AGENT_OVS, "linuxbridge": c.AGENT_LINUXBRIDGE}
UNDERLAY = ipaddress.ip_network("192.0.2.0/24")
UL_BRIDGE, PHYS_BRIDGE = "br-ul", "br-phys"
OVS_UNDERLAY_BRIDGE = "br-phy"
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")


class HostError(RuntimeError):
    pass


def _bin(name):
    return os.path.join(os.path.dirname(sys.executable), name)


def lab_id(state):
    """This lab's id (made on first use): it keeps two labs' namespaces apart."""
    with state.edit() as data:
        data.setdefault("lab_id", uuid.uuid4().hex[:6])
        data.setdefault("hosts", {})
        return data["lab_id"]


def underlay_ns(lid):
    return "tlul-" + lid


def _ensure_underlay(ns):
    nsutil.add(ns)
    have = set(nsutil.links(ns))
    nsutil.ip_batch(["link add %s type bridge" % br for br in (UL_BRIDGE, PHYS_BRIDGE)
                     if br not in have]
                    + ["link set %s up" % br for br in (UL_BRIDGE, PHYS_BRIDGE)], netns=ns)


def add_host(name, driver="ovs", endpoint=None, dhcp=False, physnet=None, tunnel_types=None,
             arp_responder=False, vxlan_group=None, state_dir=None, timeout=30.0):
    """Create lab host NAME and start its agent; returns its record once the agent is alive.
    ``vxlan_group``: a linuxbridge host without L2 population, flooding to that group."""
    if not _NAME_RE.match(name or ""):
        raise HostError("bad host name %r: letters, digits, '.', '_', '-' (max 32)" % name)
    if driver not in DRIVERS:
        raise HostError("unknown driver %r (choose from %s)" % (driver, ", ".join(DRIVERS)))
    if vxlan_group and driver != "linuxbridge":
        raise HostError("a VXLAN multicast group needs --driver linuxbridge (Open vSwitch "
                        "floods to each VTEP from L2 population)")
    state = LabState(state_dir)
    lid = lab_id(state)
    endpoint = (endpoint or neutron_api.default_endpoint()).rstrip("/")
    _check_server(endpoint)
    with state.edit() as data:              # record first: `lab down` must find it
        hosts = data["hosts"]
        if name in hosts:
            raise HostError("lab host %s already exists (trunkline lab host del %s)"
                            % (name, name))
        used = {h["index"] for h in hosts.values()}
        index = next((i for i in range(1, 255) if i not in used), None)
        if index is None:
            raise HostError("the lab underlay %s is full (254 hosts)" % UNDERLAY)
        rec = {
            "name": name, "driver": driver, "index": index, "dhcp": bool(dhcp),
            "physnet": physnet, "tunnel_ip": str(UNDERLAY[index]),
            "arp_responder": bool(arp_responder), "vxlan_group": vxlan_group,
            "tunnel_types": list(tunnel_types or ["vxlan"]),
            "netns": "tlh-%s-%s" % (lid, name), "underlay_ns": underlay_ns(lid),
            "ul_dev": "ul%d" % index, "ph_dev": "ph%d" % index if physnet else None,
            "rundir": "/run/tlh-%s-%s" % (lid, name) if driver == "ovs" else None,
            "dir": os.path.join(state.dir, "hosts", name), "endpoint": endpoint,
            "agent_pid": None, "agent_argv": None,
        }
        hosts[name] = rec
    try:
        _build(rec)
        rec["agent_argv"] = _agent_argv(rec)
        proc = _spawn(rec)
        rec["agent_pid"] = proc.pid
        with state.edit() as data:
            data["hosts"][name] = rec
        _wait_alive(rec, proc, timeout)
    except BaseException:
        _forget(state, rec)
        raise
    return rec


def _forget(state, rec):
    """Tear host ``rec`` down and drop it from the lab's state; the underlay goes with the
    last host."""
    _teardown(rec)
    with state.edit() as data:
        data["hosts"].pop(rec["name"], None)
        last = not data["hosts"]
    if last:
        nsutil.delete(rec["underlay_ns"])


def _check_server(endpoint):
    try:
        neutron_api.Neutron(endpoint).agents()
    except neutron_api.NeutronError as e:
        raise HostError(str(e))


def _build(rec):
    ns, ul = rec["netns"], rec["underlay_ns"]
    _ensure_underlay(ul)
    if nsutil.exists(ns):
        raise HostError("namespace %s already exists" % ns)
    nsutil.add(ns)
    os.makedirs(rec["dir"], exist_ok=True)
    # dnsmasq (nobody) reads the DHCP agent's files below the lab directory
    for d in (os.path.dirname(os.path.dirname(rec["dir"])), os.path.dirname(rec["dir"]),
              rec["dir"]):
        os.chmod(d, 0o755)
    nics = [("eth1", rec["ul_dev"], UL_BRIDGE)]
    if rec["ph_dev"]:
        nics.append(("eth2", rec["ph_dev"], PHYS_BRIDGE))
    for nic, peer, bridge in nics:
        nsutil.ip(["link", "add", nic, "type", "veth", "peer", "name", peer, "netns", ul],
                  netns=ns)
        nsutil.ip_batch(["link set %s master %s up" % (peer, bridge)], netns=ul)
        nsutil.ip(["link", "set", nic, "up"], netns=ns)
    cidr = "%s/%d" % (rec["tunnel_ip"], UNDERLAY.prefixlen)
    if rec["driver"] == "ovs":
        ovs = daemon.start(rec["rundir"], netns=ns, system_id=rec["name"])
        mac = nsutil.run(["cat", "/sys/class/net/eth1/address"], netns=ns).strip()
        ovs.vsctl("--may-exist", "add-br", OVS_UNDERLAY_BRIDGE, "--", "set", "Bridge",
                  OVS_UNDERLAY_BRIDGE, "datapath_type=netdev", "other_config:hwaddr=" + mac,
                  "--", "--may-exist", "add-port", OVS_UNDERLAY_BRIDGE, "eth1")
        _wait(lambda: OVS_UNDERLAY_BRIDGE in nsutil.links(ns), 10, "br-phy to appear")
        nsutil.ip_batch(["addr add %s dev %s" % (cidr, OVS_UNDERLAY_BRIDGE),
                         "link set %s up" % OVS_UNDERLAY_BRIDGE], netns=ns)
        # The userspace datapath reads eth1 with AF_PACKET and forwards a frame whose
        # checksum a sender (a Linux bridge host) left to "hardware" unfinished: the
        # underlay's port towards this host finishes checksums, so frames
        # between Linux bridge hosts keep their offloads
        for _, peer, _ in nics:
            nsutil.run(["ethtool", "-K", peer, "tx", "off"], netns=ul)
    else:
        nsutil.ip(["addr", "add", cidr, "dev", "eth1"], netns=ns)


def dhcp_suffix(rec):
    """Lab hosts share one kernel: each names its DHCP namespaces qdhcp-<net id>-<its netns>,
    so two DHCP hosts (or `trunkline up`'s own agent) can serve the same network."""
    return "-" + rec["netns"]


def _agent_argv(rec):
    argv = [_bin("trunkline"), "agent", "--driver", rec["driver"], "--host", rec["name"],
            "--server", rec["endpoint"], "--tunnel-ip", rec["tunnel_ip"],
            "--netns", rec["netns"], "--state-dir", os.path.join(rec["dir"], "agent"),
            "--log-level", "info"]
    if rec["driver"] == "ovs":
        argv += ["--ovs-rundir", rec["rundir"], "--datapath-type", "netdev",
                 "--tunnel-types", ",".join(rec["tunnel_types"])]
    if rec["dhcp"]:
        argv += ["--dhcp", "--dhcp-namespace-suffix=" + dhcp_suffix(rec)]
    if rec.get("arp_responder"):
        argv.append("--arp-responder")
    if rec.get("vxlan_group"):
        argv += ["--no-l2-population", "--vxlan-group", rec["vxlan_group"]]
    if rec["physnet"]:
        argv += ["--physnet-mapping", "%s:eth2" % rec["physnet"]]
    return argv


def log_path(rec):
    return os.path.join(rec["dir"], "agent.log")


def _spawn(rec):
    with open(log_path(rec), "ab") as log:
        return subprocess.Popen(rec["agent_argv"], stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)


def _wait(probe, timeout, what):
    deadline = time.monotonic() + timeout
    while not probe():
        if time.monotonic() > deadline:
            raise HostError("timed out waiting for " + what)
        time.sleep(0.05)


def _agent_alive(rec):
    try:
        agents = neutron_api.Neutron(rec["endpoint"], timeout=5).agents(
            host=rec["name"], agent_type=L2_AGENTS[rec["driver"]])
    except neutron_api.NeutronError:
        return False
    return any(a["alive"] for a in agents)


def _wait_alive(rec, proc, timeout):
    """Until the agent we just started (``proc``) reports alive. Whether it exited comes from
    its exit status, not from /proc: a process still starting (forked, not yet exec'd into the
    agent) looks like another program there."""
    deadline = time.monotonic() + timeout
    while not _agent_alive(rec):
        if proc.poll() is not None:
            raise HostError("the agent of host %s exited; see %s:\n%s"
                            % (rec["name"], log_path(rec), _tail(log_path(rec))))
        if time.monotonic() > deadline:
            raise HostError("the agent of host %s did not register within %.0f s; see %s"
                            % (rec["name"], timeout, log_path(rec)))
        time.sleep(0.1)


def _tail(path, n=15):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-n:])
    except OSError:
        return ""


def _running(rec):
    """Is the recorded agent PID still our agent (not a reused PID)?"""
    pid = rec.get("agent_pid")
    if not pid:
        return False
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            cmd = f.read().split(b"\0")
        with open("/proc/%d/stat" % pid) as f:
            if f.read().rsplit(")", 1)[-1].split()[0] == "Z":
                return False
    except OSError:
        return False
    return b"agent" in cmd and rec["name"].encode() in cmd


def _stop_agent(rec, timeout=10.0):
    if not _running(rec):
        return
    pid = rec["agent_pid"]
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while _running(rec) and time.monotonic() < deadline:
        time.sleep(0.05)
    if _running(rec):
        os.kill(pid, signal.SIGKILL)
    try:
        os.waitpid(pid, os.WNOHANG)     # our child when started by this process
    except ChildProcessError:
        pass


def restart_agent(name, state_dir=None, timeout=30.0):
    """Stop host NAME's agent by its PID and start it again with the same command line; waits
    until the new process runs and the host's agent is alive (the old heartbeat may still count
    for that: callers that need the new agent's first pass wait for its effect)."""
    state = LabState(state_dir)
    rec = state.host(name)
    if rec is None:
        raise HostError("no lab host named %s" % name)
    _stop_agent(rec)
    proc = _spawn(rec)
    rec["agent_pid"] = proc.pid
    with state.edit() as data:
        data["hosts"][name] = rec
    _wait_alive(rec, proc, timeout)
    return rec


def _teardown(rec):
    """Remove everything of host REC that exists (idempotent)."""
    _stop_agent(rec)
    ns = rec["netns"]
    if rec.get("dhcp"):
        DhcpManager(os.path.join(rec["dir"], "agent"), netns=ns,
                    namespace_suffix=dhcp_suffix(rec)).teardown_all()
    if rec.get("rundir"):
        daemon.OvsInstance(rec["rundir"], netns=ns).stop()
        shutil.rmtree(rec["rundir"], ignore_errors=True)
    nsutil.delete(ns)       # eth1/eth2 go, and with them their underlay ends
    shutil.rmtree(rec["dir"], ignore_errors=True)


def del_host(name, state_dir=None):
    """Delete lab host NAME: its lab VMs, agent, DHCP servers, switch and namespace; the
    underlay goes with the last host."""
    from trunkline.lab import vm as labvm
    state = LabState(state_dir)
    data = state.load()
    rec = data["hosts"].get(name)
    if rec is None:
        raise HostError("no lab host named %s (trunkline lab host list)" % name)
    warnings = []
    for vm_name, vm in sorted(data["vms"].items()):
        if vm.get("host") == name:
            warnings += labvm.delete_vm(vm_name, state_dir=state_dir)
    _forget(state, rec)
    return warnings


def list_hosts(state_dir=None):
    out = []
    for name, rec in sorted(LabState(state_dir).hosts().items()):
        rec = dict(rec, agent_running=_running(rec), present=nsutil.exists(rec["netns"]))
        out.append(rec)
    return out


def down(state_dir=None):
    """Delete every lab host. Returns the warnings."""
    warnings = []
    for rec in list_hosts(state_dir):
        warnings += del_host(rec["name"], state_dir)
    return warnings
