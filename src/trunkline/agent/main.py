"""The agent loop: register -> fetch state -> reconcile (DHCP, then OVS in one transaction) ->
report statuses -> long-poll watch(since=revision) -> refetch on wake or every 30 s.

Level-triggered: every pass works from the full desired state, so a missed event costs nothing.
Woken by the server's watch, by an OVSDB Interface monitor and by a restarted ovs-vswitchd (its
br-int management socket is created anew; the pass re-installs the flows it lost).
Heartbeat (re-registration) every `report_interval` s. A server that is down or answers errors
is retried with exponential backoff (0.5 s .. 30 s); 410 from watch means refetch.
"""
import logging
import os
import signal
import threading
import time

from trunkline.agent import ovsdb
from trunkline.agent.client import ChannelClient, Gone, read_secret
from trunkline.agent.dhcp import DhcpManager
from trunkline.agent.ovs import Wiring
from trunkline.agent.ovs.daemon import datapath_type as detect_datapath

LOG = logging.getLogger("trunkline.agent")

OVS_AGENT = ("Open vSwitch agent", "trunkline-agent")
OWN_PATCH_PREFIXES = ("tpi-", "tpt-", "spi-", "spt-")
DHCP_AGENT = ("DHCP agent", "trunkline-dhcp")


class Agent:
    def __init__(self, host, server, ovsdb_target=None, state_dir="/var/lib/trunkline",
                 integration_bridge="br-int", datapath_type=None, dhcp=False, netns=None,
                 ovs_rundir=None, report_interval=10.0, resync_interval=30.0, secret=None):
        self.host = host
        self.client = ChannelClient(server, host, secret=secret)
        self.ovs_rundir = ovs_rundir or os.environ.get("OVS_RUNDIR", "/var/run/openvswitch")
        self.ovsdb_target = ovsdb_target or "unix:%s/db.sock" % self.ovs_rundir
        self.datapath_type = datapath_type or detect_datapath()
        self.netns = netns
        self.dhcp_enabled = dhcp
        self.integration_bridge = integration_bridge
        self.report_interval = report_interval
        self.resync_interval = resync_interval
        self.db = ovsdb.Ovsdb(self.ovsdb_target)
        self.wiring = Wiring(self.db, integration_bridge, self.datapath_type, self.ovs_rundir)
        self.dhcp = DhcpManager(state_dir, netns=netns, datapath_type=self.datapath_type) \
            if dhcp else None
        self.dhcp_ports = {}        # net id -> (subnet ids, port)
        self.revision = None
        self.stopping = threading.Event()
        self.wake = threading.Event()
        self.registered = False

    def configurations(self):
        return {"ovsdb_connection": self.ovsdb_target, "netns": self.netns,
                "integration_bridge": self.integration_bridge,
                "datapath_type": self.datapath_type, "dhcp": self.dhcp_enabled,
                "bridge_mappings": {}, "tunnel_types": [], "l2_population": False,
                "ovs_rundir": self.ovs_rundir}

    # -- pieces ------------------------------------------------------------------
    def heartbeat(self):
        first = not self.registered     # the first report after a (re)start says so
        self.client.register(*OVS_AGENT, self.configurations(), start_flag=first)
        if self.dhcp_enabled:
            self.client.register(*DHCP_AGENT, self.configurations(), start_flag=first)
        self.registered = True

    def _dhcp_ports(self, dhcp):
        ports = {}
        for net_id, entry in (dhcp or {}).items():
            subs = tuple(sorted(s["id"] for s in entry.get("subnets") or []
                                if s.get("enable_dhcp", True)))
            if not subs:
                continue
            cached = self.dhcp_ports.get(net_id)
            if not cached or cached[0] != subs:
                cached = (subs, self.client.dhcp_port(net_id))
                self.dhcp_ports[net_id] = cached
            ports[net_id] = cached[1]
        for net_id in list(self.dhcp_ports):
            if net_id not in ports:
                del self.dhcp_ports[net_id]
        return ports

    def sync(self):
        """One full pass; returns the revision it made true."""
        t_pass = time.monotonic()
        state = self.client.state(dhcp=self.dhcp_enabled)
        plugs = []
        if self.dhcp is not None:
            plugs = self.dhcp.reconcile(state.get("dhcp") or {},
                                        self._dhcp_ports(state.get("dhcp")))
        t = time.monotonic()
        statuses = self.wiring.reconcile(state, plugs)
        lt = self.wiring.last_timing
        LOG.info("revision %s reconciled in %.3f s (%s OVSDB ops; read+diff %.3f, commit %.3f, "
                 "vswitchd applied %.3f, flows %.3f; state+DHCP %.3f)", state.get("revision"),
                 time.monotonic() - t, lt.get("ops"), lt.get("read_diff", 0),
                 lt.get("commit", 0), lt.get("applied", 0), lt.get("flows", 0), t - t_pass)
        # report what differs from the statuses the server has (level-triggered: a status the
        # API reset, e.g. trunk DOWN after add_subports, is corrected on the next pass)
        have_p = {p["id"]: p.get("status") for p in state.get("ports") or []}
        have_t = {t["id"]: t.get("status") for t in state.get("trunks") or []}
        ports = {k: v for k, v in statuses["ports"].items() if have_p.get(k) != v}
        trunks = {k: v for k, v in statuses["trunks"].items() if have_t.get(k) != v}
        if ports or trunks:
            self.client.status(ports, trunks)
        self.revision = state.get("revision")
        return self.revision

    # -- the loop ----------------------------------------------------------------
    # The loop passes when woken: by the server (a relevant change, watched in a thread) or by
    # the switch (a VM or trunk bridge plugged or unplugged, followed with an OVSDB monitor, as
    # Neutron's agent follows Interface rows), and at least every resync_interval seconds.
    def run(self):
        for target in (self._watch_server, self._watch_switch, self._watch_vswitchd):
            threading.Thread(target=target, daemon=True).start()
        backoff = 0.5
        next_beat = last_sync = 0.0
        self.wake.set()
        while not self.stopping.is_set():
            try:
                if time.monotonic() >= next_beat:
                    self.heartbeat()
                    next_beat = time.monotonic() + self.report_interval
                if self.wake.is_set() or time.monotonic() - last_sync >= self.resync_interval:
                    self.wake.clear()
                    self.sync()
                    last_sync = time.monotonic()
                self.wake.wait(max(0.0, min(next_beat, last_sync + self.resync_interval)
                                   - time.monotonic()))
                backoff = 0.5
            except Exception as e:      # server down, OVSDB gone, ...: log, back off, retry
                LOG.warning("agent pass failed (%s: %s); retrying in %.1f s",
                            type(e).__name__, e, backoff)
                self.db.close()
                self.wake.set()
                self.stopping.wait(backoff)
                backoff = min(backoff * 2, 30.0)

    def _watch_server(self):
        client = ChannelClient(self.client.base, self.host, timeout=70.0,
                               secret=self.client.secret)
        backoff = 0.5
        while not self.stopping.is_set():
            seen = self.revision
            if seen is None:
                self.stopping.wait(0.1)
                continue
            try:
                changed = client.watch(seen, timeout=30, dhcp=self.dhcp_enabled) != seen
                backoff = 0.5
            except Gone:
                changed = True
            except Exception:
                self.stopping.wait(backoff)
                backoff = min(backoff * 2, 30.0)
                continue
            if changed:
                self.wake.set()
                while self.revision == seen and not self.stopping.is_set():
                    self.stopping.wait(0.02)   # until the main loop has synced

    def _watch_switch(self):
        def on_update(rows):
            for change in rows.values():
                name = (change.get("new") or change.get("old") or {}).get("name", "")
                if not name.startswith(OWN_PATCH_PREFIXES):
                    self.wake.set()
                    return
        while not self.stopping.is_set():
            try:
                with ovsdb.Ovsdb(self.ovsdb_target) as db:
                    db.monitor("Interface", ["name", "external_ids", "ofport"], on_update)
            except Exception:
                self.stopping.wait(1.0)

    def _watch_vswitchd(self, interval=0.5):
        """ovs-vswitchd keeps no flows across a restart, and OVSDB does not show the restart
        (the Interface rows keep their ofports; only statistics move). A (re)started
        ovs-vswitchd creates the integration bridge's OpenFlow management socket anew: follow
        that file and pass when it changes, so the pass re-installs the flows (Neutron checks a
        canary flow for the same reason)."""
        path = os.path.join(self.ovs_rundir, self.integration_bridge + ".mgmt")
        seen = _file_id(path)
        while not self.stopping.wait(interval):
            now = _file_id(path)
            if now != seen:
                seen = now
                if now is not None:
                    self.wake.set()

    def stop(self, *_):
        self.stopping.set()
        self.wake.set()


def _file_id(path):
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino, st.st_ctime_ns


def run(args):
    agent = Agent(host=args.host, server=args.server, ovsdb_target=args.ovsdb,
                  state_dir=args.state_dir, integration_bridge=args.integration_bridge,
                  datapath_type=args.datapath_type, dhcp=args.dhcp, netns=args.netns,
                  ovs_rundir=args.ovs_rundir, report_interval=args.report_interval,
                  secret=read_secret(args.agent_secret_file) if args.agent_secret_file
                  else None)
    signal.signal(signal.SIGTERM, agent.stop)
    LOG.warning("trunkline agent for host %s, server %s, OVSDB %s, datapath %s%s",
                agent.host, args.server, agent.ovsdb_target, agent.datapath_type,
                ", DHCP" if args.dhcp else "")
    agent.run()
    return 0
