"""Remove what a ``trunkline up`` left under its state directory, whether it stopped cleanly,
was killed or still runs: its recorded processes (agent, server: by PID, only while their
command line is the recorded one), the DHCP servers its agent started (dnsmasq, their
``qdhcp-`` namespaces and so their veths), its private Open vSwitch (ovsdb-server,
ovs-vswitchd, the internal ports' devices and ``ovs-netdev``) and the switch's namespace of an
isolated stack. What it finds comes from the record (ops/record.py) and from the state
directory itself (pid files, DHCP configuration directories), so a run older than its record
is found too."""
import os

from trunkline.agent import netns as nsutil
from trunkline.agent.dhcp import DhcpManager
from trunkline.agent.ovs import daemon
from trunkline.ops import record


def layout(state_dir, rec=None):
    """(agent state dir, private OVS run dir, switch namespace) of the stack in STATE_DIR."""
    rec = rec or {}
    return (rec.get("agent_state_dir") or os.path.join(state_dir, "agent"),
            rec.get("ovs_rundir") or os.path.join(state_dir, "ovs"), rec.get("netns"))


def remove(state_dir, rec=None, procs=True):
    """Remove everything of the stack in STATE_DIR (REC: its record, if any); returns what was
    removed, as short phrases ("server pid 123", "2 dnsmasq", ...). ``procs=False``: the caller
    has stopped the processes it started itself."""
    state_dir = os.path.abspath(state_dir)
    rec = rec if rec is not None else record.load(state_dir) or {}
    agent_dir, rundir, netns = layout(state_dir, rec)
    done = []
    if procs:
        for p in reversed(rec.get("procs") or []):        # the agent before the server
            if record.stop_process(p["pid"], p["cmdline"]):
                done.append("%s pid %d" % (p["name"], p["pid"]))
    if os.path.isdir(os.path.join(agent_dir, "dhcp")):
        dhcp = DhcpManager(agent_dir, netns=netns)
        nets = dhcp.managed_networks()
        running = [n for n in nets if dhcp.pid(n)]
        spaces = [n for n in nets if nsutil.exists(dhcp.namespace(n))]
        dhcp.teardown_all()
        if running:
            done.append("%d dnsmasq" % len(running))
        if spaces:
            done.append("%d qdhcp- namespace%s" % (len(spaces), "s" if len(spaces) > 1 else ""))
    if os.path.isdir(rundir) and os.path.dirname(rundir) == state_dir:   # a private switch
        # a run in another network namespace left its devices there, not here
        devices = bool(netns) or rec.get("netns_inode") in (None, record.netns_inode())
        had_netdev = devices and daemon.NETDEV_DEVICE in nsutil.links(netns)
        done += daemon.OvsInstance(rundir, netns=netns).stop(devices=devices)
        if had_netdev and daemon.NETDEV_DEVICE not in nsutil.links(netns):
            done.append(daemon.NETDEV_DEVICE)
    if netns and nsutil.exists(netns):
        nsutil.delete(netns)
        done.append("namespace " + netns)
    if rec.get("netns_inode") and not rec.get("isolated"):
        record.drop_stale_netns_lock(rec["netns_inode"])
    record.forget(state_dir)
    return done
