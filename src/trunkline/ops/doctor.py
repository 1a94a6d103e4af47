"""``trunkline doctor``: check a host and say, for each failure, how to fix it.

The checks, each a row (name, status OK/WARN/FAIL/SKIP, detail, fix):

- ``up``: the ``trunkline up`` recorded in the state directory runs (or was killed and left
  its processes, namespaces and devices);
- ``server``: the API answers;
- ``agent``: this host's L2 agent is registered and alive, and ``agent last pass``: its
  ``configurations.last_pass`` (agent/health.py) says its passes succeed;
- ``ovsdb-server``, ``ovs-vswitchd``: the agent's Open vSwitch answers (OVSDB, the integration
  bridge's OpenFlow socket), and ``datapath``: the integration bridge exists on a working
  datapath of the configured type (its Interface has no error and an OpenFlow port);
- ``dhcp <network>``: per network the local DHCP agent serves, dnsmasq runs (its pid file's
  process), its namespace exists and something listens on UDP port 67 there;
- ``strays``: ``qdhcp-`` namespaces nothing runs in and no local DHCP agent owns, an
  ``ovs-netdev`` device without an ovs-vswitchd in its namespace, ``tap`` devices on no switch
  port and in no bridge.

Where things are comes from the agent's registered configurations when the server answers,
else from the up's record (ops/record.py), else from Open vSwitch's system defaults."""
import json
import os
import socket
import time
import urllib.request

from trunkline import constants as c
from trunkline import names
from trunkline.agent import netns as nsutil
from trunkline.agent import ovsdb
from trunkline.agent.dhcp import DhcpManager
from trunkline.agent.ovs import daemon
from trunkline.ops import record

OK, WARN, FAIL, SKIP = "OK", "WARN", "FAIL", "SKIP"
SYSTEM_RUNDIR = "/var/run/openvswitch"
NS_MIN_AGE = 5.0        # a namespace younger than this may be one an agent is filling now
DHCP_PORT = 67


class Report:
    def __init__(self):
        self.rows = []

    def add(self, check, status, detail, fix=""):
        self.rows.append({"check": check, "status": status, "detail": detail,
                          "fix": fix if status in (FAIL, WARN) else ""})

    @property
    def failed(self):
        return any(r["status"] == FAIL for r in self.rows)


def _get_json(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return json.loads(r.read() or b"null")


def run(state_dir=record.DEFAULT_STATE_DIR, endpoint=None, host=None):
    """All checks; returns the Report."""
    state_dir = os.path.abspath(state_dir)
    rep = Report()
    rec = record.load(state_dir)
    endpoint = (endpoint or (rec or {}).get("url") or os.environ.get("OS_ENDPOINT")
                or "http://127.0.0.1:9696").rstrip("/")
    host = host or (rec or {}).get("host") or socket.gethostname()
    _check_up(rep, state_dir, rec)
    agent = _check_server_and_agent(rep, endpoint, host)
    conf = (agent or {}).get("configurations") or {}
    rundir = conf.get("ovs_rundir") or (rec or {}).get("ovs_rundir") or SYSTEM_RUNDIR
    target = conf.get("ovsdb_connection") or "unix:%s/db.sock" % rundir
    netns = conf.get("netns") if agent else (rec or {}).get("netns")
    bridge = conf.get("integration_bridge") or c.INTEGRATION_BRIDGE
    ifaces = _check_ovs(rep, target, rundir, bridge, conf.get("datapath_type")
                        or daemon.datapath_type())
    agent_dir = (rec or {}).get("agent_state_dir") or (
        os.path.join(state_dir, "agent") if os.path.isdir(os.path.join(state_dir, "agent"))
        else state_dir)
    managed = _check_dhcp(rep, agent_dir, netns)
    _check_strays(rep, managed, netns, ifaces)
    return rep


def _check_up(rep, state_dir, rec):
    if rec is None:
        rep.add("up", SKIP, "no trunkline up recorded in %s" % state_dir)
    elif record.up_running(rec):
        rep.add("up", OK, "trunkline up pid %d since %s (%s)" % (
            rec["pid"], rec.get("started_at"), state_dir))
    else:
        rep.add("up", FAIL, "the trunkline up of %s (pid %s) was killed: what it started may "
                "still run" % (state_dir, rec.get("pid")),
                "trunkline down --state-dir %s (or start trunkline up again: it reclaims what "
                "the killed run left)" % state_dir)


def _check_server_and_agent(rep, endpoint, host):
    try:
        _get_json(endpoint + "/")
        rep.add("server", OK, "answers at %s" % endpoint)
    except (OSError, ValueError) as e:
        rep.add("server", FAIL, "no answer at %s (%s)" % (endpoint, e),
                "start `trunkline up` (or `trunkline server`); elsewhere: --endpoint URL")
        rep.add("agent", SKIP, "the server does not answer")
        return None
    try:
        agents = _get_json(endpoint + "/v2.0/agents?host=" + urllib.request.quote(host))
    except (OSError, ValueError) as e:
        rep.add("agent", FAIL, "GET /v2.0/agents failed: %s" % e, "see the server's log")
        return None
    l2 = [a for a in agents.get("agents") or [] if a["agent_type"] in c.L2_AGENT_TYPES]
    if not l2:
        rep.add("agent", FAIL, "no L2 agent registered for host %s" % host,
                "start `trunkline agent --host %s ...` (trunkline up starts one); another "
                "host: --host H" % host)
        return None
    agent = l2[0]
    if not agent["alive"]:
        rep.add("agent", FAIL, "%s of host %s is dead (last heartbeat %s)" % (
            agent["agent_type"], host, agent.get("heartbeat_timestamp")),
            "start its `trunkline agent` again; its log says why it stopped")
    else:
        rep.add("agent", OK, "%s of host %s alive" % (agent["agent_type"], host))
    last = (agent.get("configurations") or {}).get("last_pass")
    if last is None:
        rep.add("agent last pass", WARN, "the agent has not finished a pass yet",
                "wait a few seconds; if it stays so, see the agent's log")
    elif last.get("ok"):
        rep.add("agent last pass", OK, "its passes succeed")
    else:
        rep.add("agent last pass", FAIL, "failing since %s: %s" % (
            last.get("failing_since"), last.get("error")),
            "the agent's log line says what to do; mostly Open vSwitch (the rows below)")
    return agent


def _check_ovs(rep, target, rundir, bridge, dp_type):
    """Returns {interface name: row} of the switch (None when OVSDB does not answer)."""
    try:
        with ovsdb.Ovsdb(target, timeout=3) as db:
            ifaces = {r["name"]: r for r in db.select("Interface",
                                                      ["name", "type", "error", "ofport"])}
            root = db.select("Open_vSwitch", ["datapath_types"])
    except (OSError, ovsdb.OvsdbError) as e:
        rep.add("ovsdb-server", FAIL, "no answer at %s (%s)" % (target, e),
                "start it: a killed `trunkline up` left its switch stopped or half-running: "
                "`trunkline down`, then `trunkline up`; the system's: systemctl start "
                "openvswitch-switch")
        rep.add("ovs-vswitchd", SKIP, "OVSDB does not answer")
        rep.add("datapath", SKIP, "OVSDB does not answer")
        return None
    rep.add("ovsdb-server", OK, "answers at %s" % target)
    mgmt = os.path.join(rundir, bridge + ".mgmt")
    pid = _vswitchd_pid(rundir)
    answers = _connects(mgmt)
    if pid and (answers or not os.path.exists(mgmt)):
        rep.add("ovs-vswitchd", OK, "pid %d%s" % (pid, ", answers at " + mgmt if answers
                                                  else ""))
    else:
        rep.add("ovs-vswitchd", FAIL, "not running (%s)" % (
            "pid file %s/ovs-vswitchd.pid names no ovs-vswitchd" % rundir if not pid
            else "%s does not answer" % mgmt),
            "start ovs-vswitchd: restart `trunkline up` (it starts its own), or systemctl "
            "start openvswitch-switch; the agent re-adds its flows by itself")
    types = ovsdb.py(root[0]["datapath_types"]) if root else []
    row = ifaces.get(bridge)
    if rep.rows[-1]["status"] == FAIL:
        rep.add("datapath", SKIP, "ovs-vswitchd is not running")
    elif row is None:
        rep.add("datapath", WARN, "no %s yet (the agent creates it on its first pass)" % bridge,
                "if it stays so, see the agent's log")
    elif ovsdb.opt(row.get("error")) or (ovsdb.opt(row.get("ofport")) or -1) < 0:
        rep.add("datapath", FAIL, "%s could not be created on datapath %s: %s" % (
            bridge, dp_type, ovsdb.opt(row.get("error")) or "no OpenFlow port"),
            "see %s/ovs-vswitchd.log; a device left by an earlier switch in this namespace "
            "(`trunkline down` removes it); datapath 'system' needs the openvswitch kernel "
            "module, else use --datapath-type netdev" % rundir)
    elif types and dp_type not in types:
        rep.add("datapath", FAIL, "ovs-vswitchd supports datapath types %s, not %s"
                % (", ".join(types), dp_type), "run the agent with --datapath-type %s"
                % types[0])
    else:
        rep.add("datapath", OK, "%s on datapath %s" % (bridge, dp_type))
    return ifaces


def _vswitchd_pid(rundir):
    try:
        with open(os.path.join(rundir, "ovs-vswitchd.pid")) as f:
            pid = int(f.read().strip())
        with open("/proc/%d/comm" % pid) as f:
            return pid if f.read().strip() == "ovs-vswitchd" else None
    except (OSError, ValueError):
        return None


def _connects(path):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(2)
        try:
            s.connect(path)
            return True
        except OSError:
            return False


def _listens_udp(netns, port):
    """Does a socket in NETNS listen on UDP PORT (IPv4)?"""
    try:
        out = nsutil.run(["cat", "/proc/net/udp"], netns=netns)
    except (nsutil.CommandError, OSError):
        return False
    want = ":%04X" % port
    return any(line.split()[1].endswith(want) for line in out.splitlines()[1:]
               if len(line.split()) > 1)


def _check_dhcp(rep, agent_dir, netns):
    """Returns the network ids the local DHCP agent manages."""
    if not os.path.isdir(os.path.join(agent_dir, "dhcp")):
        rep.add("dhcp", SKIP, "no DHCP agent state in %s" % agent_dir)
        return set()
    dhcp = DhcpManager(agent_dir, netns=netns)
    nets = dhcp.managed_networks()
    if not nets:
        rep.add("dhcp", OK, "no network to serve")
    for net in nets:
        ns, pid = dhcp.namespace(net), dhcp.pid(net)
        fix = ("the agent starts it again on its next pass (at most 30 s); if not, see its log "
               "and %s" % dhcp.confdir(net))
        if not pid:
            rep.add("dhcp " + net, FAIL, "dnsmasq is not running", fix)
        elif not nsutil.exists(ns):
            rep.add("dhcp " + net, FAIL, "namespace %s is missing" % ns, fix)
        elif not _listens_udp(ns, DHCP_PORT):
            rep.add("dhcp " + net, FAIL, "dnsmasq pid %d does not listen on UDP %d in %s"
                    % (pid, DHCP_PORT, ns), fix)
        else:
            rep.add("dhcp " + net, OK, "dnsmasq pid %d serving in %s" % (pid, ns))
    return set(nets)


def _stray_namespaces(managed):
    try:
        spaces = os.listdir(nsutil.NETNS_DIR)
    except FileNotFoundError:
        return []
    out = []
    for ns in sorted(spaces):
        net = ns[len(names.DHCP_NS_PREFIX):]
        # qdhcp-<uuid> exactly: suffixed ones belong to lab hosts
        if not ns.startswith(names.DHCP_NS_PREFIX) or len(net) != 36 or net in managed:
            continue
        try:
            if time.time() - os.stat(os.path.join(nsutil.NETNS_DIR, ns)).st_mtime < NS_MIN_AGE:
                continue
        except OSError:
            continue
        if not nsutil.run(["ip", "netns", "pids", ns], check=False).split():
            out.append(ns)
    return out


def _check_strays(rep, managed, netns, ifaces):
    found = []
    for ns in _stray_namespaces(managed):
        found.append(("namespace " + ns, "ip netns del %s" % ns))
    links = nsutil.links(netns)
    if daemon.NETDEV_DEVICE in links and not daemon.vswitchd_in(netns):
        found.append(("device %s (no ovs-vswitchd runs in its namespace)" % daemon.NETDEV_DEVICE,
                      "ip link del %s" % daemon.NETDEV_DEVICE))
    if ifaces is not None:
        for name, link in sorted(links.items()):
            if name.startswith(names.TAP_PREFIX) and name not in ifaces and \
                    "master" not in link:
                found.append(("device %s (on no switch port and no bridge)" % name,
                              "ip link del %s" % name))
    if not found:
        rep.add("strays", OK, "no namespace or device without an owner")
    for what, fix in found:
        rep.add("strays", FAIL, what + " has no owner",
                fix + " (`trunkline down --state-dir DIR` removes what a killed up left)")


def table(rep):
    rows = [("CHECK", "STATUS", "DETAIL", "FIX")] + [
        (r["check"], r["status"], r["detail"], r["fix"]) for r in rep.rows]
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    return "\n".join("  ".join(str(v).ljust(w) for v, w in zip(r[:3], widths)) +
                     ("  " + r[3] if r[3] else "") for r in rows).rstrip()
