"""Reconcile one host's Open vSwitch with the desired state (docs/agent-channel.md), in passes.

A full pass is ONE read (``Snapshot``, a transaction of selects), the planners' differences
queued into ONE write transaction (``Switch``, committed with ``next_cfg += 1`` and waiting for
ovs-vswitchd's ``cur_cfg``), then each planner's flows synced by the one flow owner. Planners,
in order: trunks (ovs/trunks.py), the integration bridge (ovs/integration.py), and, as the host
is configured, the tunnel bridge (ovs/tunnels.py) and provider bridges (ovs/provider.py); more
(a firewall) are passed in ``planners``.

A flows-only pass skips all of the OVSDB part when it could change nothing: the desired state's
OVSDB inputs (networks, ports and trunks but their status, the agent's plugs, the tunnel ports
the VTEPs need) are those of the last full pass, nothing changed in OVSDB since (the driver's
watchers call ``switch_changed``; only while ``watched``, i.e. an OVSDB monitor runs), br-int's
.mgmt socket is the same and the last full pass is less than ``FULL_PASS_EVERY`` seconds old.
What is left is the flows (a remote port came or went: L2 population's common case), from the
local VLANs and ofports the full pass found.
"""
import os
import time
from typing import Dict, Iterable, List, Optional, Sequence

from trunkline import constants as c
from trunkline.agent import ovsdb
from trunkline.agent.ovs.flows import FlowOwner, file_id, ofports
from trunkline.agent.ovs.integration import IntegrationBridge
from trunkline.agent.ovs.planner import LocalVlans, Pass, Planner
from trunkline.agent.ovs.provider import ProviderBridges
from trunkline.agent.ovs.switch import Snapshot, Switch
from trunkline.agent.ovs.trunks import TrunkPlanner
from trunkline.agent.ovs.tunnels import TunnelBridge

FULL_PASS_EVERY = 30.0      # seconds: a flows-only pass never trusts an older OVSDB read


class Wiring:
    """Reconciler for one OVS instance. ``rundir`` locates the bridges' mgmt sockets for
    ovs-ofctl (default the system's /var/run/openvswitch)."""

    def __init__(self, db, integration_bridge: str = c.INTEGRATION_BRIDGE,
                 datapath_type: str = "netdev", rundir: Optional[str] = None,
                 tunnels: Optional[TunnelBridge] = None,
                 providers: Optional[ProviderBridges] = None,
                 planners: Sequence[Planner] = ()):
        self.db = db if isinstance(db, ovsdb.Ovsdb) else ovsdb.Ovsdb(db)
        self.tunnels = tunnels
        self.br = integration_bridge
        self.datapath_type = datapath_type
        self.rundir = rundir or os.environ.get("OVS_RUNDIR", "/var/run/openvswitch")
        self.planners: List[Planner] = [TrunkPlanner(),
                                        IntegrationBridge(integration_bridge, datapath_type)]
        self.planners += [x for x in (tunnels, providers) if x is not None] + list(planners)
        self.flows = FlowOwner(self.rundir)
        self.last_timing: Dict[str, object] = {}
        self._switch_changed = True     # OVSDB changed (or may have) since the last full pass
        self.watched = False            # True while a monitor calls switch_changed on changes
        self._full = None               # the last full pass: its inputs, local VLANs, result
        self._ofports = None            # of the last full pass, read after its commit

    def switch_changed(self) -> None:
        """OVSDB changed under us (a VM plugged, ovs-vswitchd restarted, a failed pass): the
        next pass reads it again."""
        self._switch_changed = True

    def reconcile(self, desired: dict, plugs: Iterable[dict] = (), wait: bool = True) -> dict:
        """Make OVS match ``desired`` (the host state dict). ``plugs``: extra ports the agent
        owns on br-int, e.g. DHCP taps: [{"name", "iface_id", "mac", "network_id"}] — inserted
        when missing, removed when no longer listed. Returns {"ports": {...}, "trunks": {...}}."""
        t0 = time.monotonic()
        plugs = list(plugs)
        inputs = self._ovsdb_inputs(desired, plugs)
        mgmt = file_id(os.path.join(self.rundir, self.br + ".mgmt"))
        full = self._full
        if (full is not None and self.watched and not self._switch_changed
                and full["inputs"] == inputs and full["mgmt"] == mgmt
                and t0 - full["at"] < FULL_PASS_EVERY):
            return self._flows_only(desired, plugs, full, t0)
        self._switch_changed = False    # a change from now on makes the next pass full again
        self._full = self._ofports = None   # (until this pass succeeds)
        snap = Snapshot(self.db)
        p = Pass(desired, plugs, Switch(snap), LocalVlans(snap.ports_of(self.br)), self.br,
                 self._read_ofports)
        for planner in self.planners:
            planner.plan(p)
        ops = p.switch.ops()
        t1 = time.monotonic()
        _, waited = self.db.commit(ops, wait=wait)
        t2 = time.monotonic()
        flows_added = self._sync_flows(p)
        self.last_timing = {"read_diff": t1 - t0, "commit": t2 - t1 - waited, "applied": waited,
                            "flows": time.monotonic() - t2, "ops": len(ops),
                            "flows_added": flows_added}
        result = {"ports": {pid: c.ACTIVE if pid in p.wired else c.DOWN for pid in p.ports},
                  "trunks": dict(p.trunk_status)}
        if not ops:     # what was read is what OVS holds: later passes may start from it
            self._full = {"inputs": inputs, "mgmt": mgmt, "at": t0, "vlans": p.vlans,
                          "result": result}
        return result

    def _read_ofports(self) -> Dict[str, int]:
        if self._ofports is None:
            self._ofports = ofports(self.db)
        return self._ofports

    def _sync_flows(self, p: Pass) -> bool:
        changed = False
        for planner in self.planners:
            if planner.cookie is not None:
                changed = self.flows.sync(planner.cookie, planner.flows(p),
                                          planner.adopt_flows) or changed
        return changed

    def _ovsdb_inputs(self, desired: dict, plugs: List[dict]) -> tuple:
        """What of the desired state the OVSDB part of a pass depends on (everything but
        statuses and the remote MACs of L2 population)."""
        def unstatused(items):
            return [{k: v for k, v in i.items() if k != "status"} for i in items or []]
        wanted_tunnels = (self.tunnels.wanted_ports(desired.get("tunnels") or {})
                          if self.tunnels is not None else None)
        return (desired.get("networks"), unstatused(desired.get("ports")),
                unstatused(desired.get("trunks")), plugs, wanted_tunnels)

    def _flows_only(self, desired: dict, plugs: List[dict], full: dict, t0: float) -> dict:
        """The pass when only flows can differ (see the module's docstring)."""
        p = Pass(desired, plugs, None, full["vlans"], self.br, self._read_ofports)
        flows_added = self._sync_flows(p)
        self.last_timing = {"read_diff": 0.0, "commit": 0.0, "applied": 0.0,
                            "flows": time.monotonic() - t0, "ops": 0,
                            "flows_added": flows_added, "flows_only": True}
        return {"ports": dict(full["result"]["ports"]),
                "trunks": dict(full["result"]["trunks"])}

