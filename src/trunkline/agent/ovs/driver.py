"""The Open vSwitch driver of the agent: br-int, local VLANs and trunk patch ports through
``Wiring``, with ``--tunnel-ip`` also br-tun and its L2 population flows (ovs/tunnels.py), with
``--physnet-mapping`` provider bridges (ovs/provider.py), with ``--ovsdb-manager`` the OVSDB
manager os-vif connects through (ovs/manager.py), in one OVSDB transaction per pass;
woken by an OVSDB monitor on ``Interface`` and by a restarted ovs-vswitchd, which also make the
next pass read OVSDB again (a pass woken only by the server may be flows-only,
ovs/wiring.py)."""
import os

from trunkline import constants as c
from trunkline import names
from trunkline.agent import ovsdb
from trunkline.agent.driver import Driver
from trunkline.agent.ovs.daemon import datapath_type as detect_datapath
from trunkline.agent.ovs.flows import file_id
from trunkline.agent.ovs.manager import OvsdbManager
from trunkline.agent.ovs.provider import ProviderBridges
from trunkline.agent.ovs.tunnels import TunnelBridge
from trunkline.agent.ovs.wiring import Wiring

# the agent's own ports: their changes do not wake it (the pass that made them knows)
OWN_PORT_PREFIXES = names.TRUNK_PATCH_PREFIXES + ("patch-", "gre-", "int-br-", "phy-br-",
                                                  names.VXLAN_PREFIX)


class OvsDriver(Driver):
    agent_type = c.AGENT_OVS
    binary = c.BINARY_OVS

    def __init__(self, ovsdb_target=None, ovs_rundir=None,
                 integration_bridge=c.INTEGRATION_BRIDGE,
                 datapath_type=None, netns=None, tunnel_ip=None, tunnel_types=("vxlan",),
                 physnet_mappings=None, arp_responder=False, ovsdb_manager=None):
        self.ovs_rundir = ovs_rundir or os.environ.get("OVS_RUNDIR", "/var/run/openvswitch")
        self.ovsdb_target = ovsdb_target or "unix:%s/db.sock" % self.ovs_rundir
        self.datapath_type = datapath_type or detect_datapath()
        self.integration_bridge = integration_bridge
        self.netns = netns
        self.tunnel_ip = tunnel_ip
        self.tunnel_types = list(tunnel_types or ()) if tunnel_ip else []
        self.bridge_mappings = {physnet: names.provider_bridge(iface)
                                for physnet, iface in (physnet_mappings or {}).items()}
        self.db = ovsdb.Ovsdb(self.ovsdb_target)
        self.arp_responder = bool(arp_responder)
        tunnels = TunnelBridge(tunnel_ip, self.tunnel_types, self.datapath_type,
                               self.arp_responder) if tunnel_ip else None
        providers = ProviderBridges(physnet_mappings, self.datapath_type,
                                    integration_bridge) if physnet_mappings else None
        self.ovsdb_manager = ovsdb_manager
        self.wiring = Wiring(self.db, integration_bridge, self.datapath_type, self.ovs_rundir,
                             tunnels=tunnels, providers=providers,
                             planners=[OvsdbManager(ovsdb_manager)] if ovsdb_manager else [])

    def configurations(self):
        return {"ovsdb_connection": self.ovsdb_target, "netns": self.netns,
                "integration_bridge": self.integration_bridge,
                "datapath_type": self.datapath_type, "bridge_mappings": self.bridge_mappings,
                "tunnel_ip": self.tunnel_ip, "tunnel_types": self.tunnel_types,
                "l2_population": True, "arp_responder_enabled": self.arp_responder,
                "ovs_rundir": self.ovs_rundir, "ovsdb_manager": self.ovsdb_manager,
                # VMs plug straight into br-int (no qbr- bridge for an iptables firewall), as
                # Neutron's agent says with its openvswitch or noop firewall
                "ovs_hybrid_plug": False}

    def reconcile(self, state, plugs):
        return self.wiring.reconcile(state, plugs)

    def timing(self):
        lt = self.wiring.last_timing
        if lt.get("flows_only"):
            return "flows only %.3f" % lt.get("flows", 0)
        return ("%s OVSDB ops; read+diff %.3f, commit %.3f, vswitchd applied %.3f, flows %.3f"
                % (lt.get("ops"), lt.get("read_diff", 0), lt.get("commit", 0),
                   lt.get("applied", 0), lt.get("flows", 0)))

    def reset(self):
        self.db.close()
        self.wiring.switch_changed()

    def watchers(self):
        return [self._watch_interfaces, self._watch_vswitchd]

    def _watch_interfaces(self, wake, stopping):
        """A VM or trunk bridge plugged or unplugged (not our own patch ports)."""
        def on_update(rows):
            for change in rows.values():
                new = change.get("new") or {}
                name = (new or change.get("old") or {}).get("name", "")
                # our own ports wake only when ovs-vswitchd opens one (an ofport appears):
                # the members waiting for it are reported then
                old = change.get("old")
                opened = isinstance(new.get("ofport"), int) and new["ofport"] > 0 and (
                    old is None or "ofport" in old)     # added already open, or opened now
                if not name.startswith(OWN_PORT_PREFIXES) or opened:
                    self.wiring.switch_changed()
                    wake.set()
                    return
        def on_start():
            # what changed while no monitor ran is unknown; from now on every change is seen
            self.wiring.switch_changed()
            self.wiring.watched = True
        while not stopping.is_set():
            try:
                with ovsdb.Ovsdb(self.ovsdb_target) as db:
                    db.monitor("Interface", ["name", "external_ids", "ofport"], on_update,
                               on_start)
            except Exception:
                self.wiring.watched = False
                stopping.wait(1.0)

    def _watch_vswitchd(self, wake, stopping, interval=0.5):
        """ovs-vswitchd keeps no flows across a restart, and OVSDB does not show the restart
        (the Interface rows keep their ofports; only statistics move). A (re)started
        ovs-vswitchd creates the integration bridge's OpenFlow management socket anew: follow
        that file and pass when it changes, so the pass re-installs the flows (Neutron checks a
        canary flow for the same reason)."""
        path = os.path.join(self.ovs_rundir, self.integration_bridge + ".mgmt")
        seen = file_id(path)
        while not stopping.wait(interval):
            now = file_id(path)
            if now != seen:
                seen = now
                if now is not None:
                    self.wiring.switch_changed()
                    wake.set()
