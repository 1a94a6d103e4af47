"""The agent loop: register -> fetch state -> reconcile (DHCP, then the switch driver) ->
report statuses -> long-poll watch(since=revision) -> refetch on wake or every 30 s.

Level-triggered: every pass works from the full desired state, so a missed event costs nothing.
Woken by the server's watch and by the driver's watchers (agent/driver.py; for Open vSwitch an
OVSDB Interface monitor and a restarted ovs-vswitchd).
Heartbeat (re-registration) every `report_interval` s. Given several servers, the client moves
to the next when one fails (agent/client.py); when all fail the pass is retried with exponential
backoff (0.5 s .. 30 s); 410 from watch means refetch. Whether the passes succeed is reported in
the heartbeat (``configurations.last_pass``, agent/health.py), at once when that changes, and a
failing pass logs what to do.
"""
import logging
import resource
import signal
import threading
import time
import uuid

from trunkline import constants as c
from trunkline import sdnotify
from trunkline.agent import drivers
from trunkline.agent.client import ChannelClient, Gone, read_secret
from trunkline.agent.dhcp import DhcpManager
from trunkline.agent.health import PassHealth, hint

LOG = logging.getLogger("trunkline.agent")

DHCP_AGENT = (c.AGENT_DHCP, c.BINARY_DHCP)


class Agent:
    def __init__(self, host, server, driver, state_dir=c.STATE_DIR, dhcp=False,
                 report_interval=10.0, resync_interval=30.0, secret=None,
                 dhcp_namespace_suffix=""):
        """``server``: one URL, "URL1,URL2,..." or a list: the client fails over among them."""
        self.host = host
        self.client = ChannelClient(server, host, secret=secret)
        self.driver = driver
        self.dhcp_enabled = dhcp
        self.report_interval = report_interval
        self.resync_interval = resync_interval
        self.dhcp = DhcpManager(state_dir, netns=getattr(driver, "netns", None),
                                datapath_type=getattr(driver, "datapath_type", None),
                                namespace_suffix=dhcp_namespace_suffix) if dhcp else None
        self.dhcp_ports = {}        # net id -> (subnet ids, port)
        self.revision = None
        self.synced = threading.Condition()     # notified when a pass moved self.revision
        self.stopping = threading.Event()
        self.wake = threading.Event()
        self.registered = False
        self.health = PassHealth()
        self.pass_seconds = None    # the last pass's duration, sent with the heartbeats
        self.stage = None       # what the pass is talking to: "server", "dhcp", "switch"

    def configurations(self):
        return dict(self.driver.configurations(), dhcp=self.dhcp_enabled,
                    last_pass=self.health.last)

    # -- pieces ------------------------------------------------------------------
    def heartbeat(self):
        first = not self.registered     # the first report after a (re)start says so
        self.client.register(self.driver.agent_type, self.driver.binary, self.configurations(),
                             start_flag=first, pass_seconds=self.pass_seconds)
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
        t_pass, cpu0 = time.monotonic(), _cpu()
        request_id = "req-" + str(uuid.uuid4())     # the pass's calls, in the server's log
        self.client.begin(request_id)
        self.stage = "server"
        state = self.client.state(dhcp=self.dhcp_enabled)
        plugs = []
        if self.dhcp is not None:
            ports = self._dhcp_ports(state.get("dhcp"))
            self.stage = "dhcp"
            plugs = self.dhcp.reconcile(state.get("dhcp") or {}, ports)
        t = time.monotonic()
        self.stage = "switch"
        statuses = self.driver.reconcile(state, plugs)
        self.stage = "server"
        cpu = [b - a for a, b in zip(cpu0, _cpu())]
        LOG.info("revision %s reconciled in %.3f s (%s; state+DHCP %.3f; CPU %.1f ms, "
                 "subprocesses %.1f ms) [%s]", state.get("revision"), time.monotonic() - t,
                 self.driver.timing(), t - t_pass, cpu[0] * 1000, cpu[1] * 1000, request_id)
        # report what differs from the statuses the server has (level-triggered: a status the
        # API reset, e.g. trunk DOWN after add_subports, is corrected on the next pass)
        have_p = {p["id"]: p.get("status") for p in state.get("ports") or []}
        have_t = {t["id"]: t.get("status") for t in state.get("trunks") or []}
        ports = {k: v for k, v in statuses["ports"].items() if have_p.get(k) != v}
        trunks = {k: v for k, v in statuses["trunks"].items() if have_t.get(k) != v}
        if ports or trunks:
            self.client.status(ports, trunks)
        self.pass_seconds = round(time.monotonic() - t_pass, 4)
        with self.synced:
            self.revision = state.get("revision")
            self.synced.notify_all()
        if self.dhcp is not None and self.dhcp.errors:
            self.stage = "dhcp"
            raise DhcpFailed("; ".join("network %s: %s" % kv
                                       for kv in sorted(self.dhcp.errors.items())))
        return self.revision

    # -- the loop ----------------------------------------------------------------
    # The loop passes when woken: by the server (a relevant change, watched in a thread) or by
    # the switch (the driver's watchers), and at least every resync_interval seconds.
    def run(self):
        threading.Thread(target=self._watch_server, daemon=True).start()
        for watcher in self.driver.watchers():
            threading.Thread(target=watcher, args=(self.wake, self.stopping),
                             daemon=True).start()
        backoff = 0.5
        next_beat = last_sync = 0.0
        self.wake.set()
        while not self.stopping.is_set():
            try:
                if time.monotonic() >= next_beat:
                    self.stage = "server"
                    self.heartbeat()
                    next_beat = time.monotonic() + self.report_interval
                if self.wake.is_set() or time.monotonic() - last_sync >= self.resync_interval:
                    self.wake.clear()
                    self.sync()
                    last_sync = time.monotonic()
                    was_failing = self.health.failing
                    if self.health.passed():
                        if was_failing:
                            LOG.warning("agent pass succeeded again")
                        next_beat = 0.0         # tell the server now
                        # systemd (Type=notify): ready once the host is wired
                        sdnotify.notify("READY=1\nSTATUS=passes succeed")
                self.wake.wait(max(0.0, min(next_beat, last_sync + self.resync_interval)
                                   - time.monotonic()))
                backoff = 0.5
            except Exception as e:      # server down, OVSDB gone, ...: log, back off, retry
                stage = self.stage
                if self.health.failed(e):
                    next_beat = 0.0                 # tell the server now
                    sdnotify.notify("STATUS=passes fail since %s UTC: %s" % (
                        self.health.last["failing_since"], self.health.last["error"]))
                LOG.warning("agent pass failed (%s: %s); retrying in %.1f s. The ports of host "
                            "%s are not wired while this lasts: %s", type(e).__name__, e,
                            backoff, self.host,
                            hint(e, stage, self.client.base,
                                 getattr(self.driver, "ovsdb_target", None)))
                self.driver.reset()
                self.wake.set()
                self.stopping.wait(backoff)
                backoff = min(backoff * 2, 30.0)

    def _watch_server(self):
        client = ChannelClient(self.client.servers, self.host, timeout=70.0,
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
                # until the main loop has synced (a condition, not a busy wait: one process
                # may run many agents, bench/agents.py)
                with self.synced:
                    while self.revision == seen and not self.stopping.is_set():
                        self.synced.wait(1.0)

    def stop(self, *_):
        self.stopping.set()
        self.wake.set()


class DhcpFailed(RuntimeError):
    """The pass wired the switch, but DHCP for some networks failed (the message says which)."""


def _cpu():
    """(this process's CPU seconds — every thread —, its finished subprocesses')."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time(), children.ru_utime + children.ru_stime


def run(args):
    if args.dhcp and args.driver == "noop":
        raise SystemExit("trunkline agent: --dhcp plugs dnsmasq into a switch; the noop driver "
                         "has none (drop --dhcp or use --driver ovs)")
    driver = drivers.load(args.driver, ovsdb_target=args.ovsdb, ovs_rundir=args.ovs_rundir,
                          integration_bridge=args.integration_bridge,
                          datapath_type=args.datapath_type, netns=args.netns,
                          tunnel_ip=args.tunnel_ip, tunnel_types=args.tunnel_types,
                          physnet_mappings=args.physnet_mappings,
                          arp_responder=args.arp_responder,
                          l2_population=args.l2_population, vxlan_group=args.vxlan_group,
                          vxlan_port=args.vxlan_port, ovsdb_manager=args.ovsdb_manager)
    agent = Agent(host=args.host, server=args.server, driver=driver, state_dir=args.state_dir,
                  dhcp=args.dhcp, report_interval=args.report_interval,
                  secret=read_secret(args.agent_secret_file) if args.agent_secret_file
                  else None, dhcp_namespace_suffix=args.dhcp_namespace_suffix)
    signal.signal(signal.SIGTERM, agent.stop)
    LOG.warning("trunkline agent for host %s, server %s, driver %s (%s)%s", agent.host,
                args.server, args.driver, agent.configurations(), ", DHCP" if args.dhcp else "")
    agent.run()
    return 0
