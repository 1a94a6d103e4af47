"""The noop driver: the agent's control plane without a switch.

It registers as an "Open vSwitch agent" (so the server binds ports to its host; its
configurations say ``"driver": "noop"``), computes from each desired state what an Open vSwitch
agent would wire — a local VLAN per network, each port's tag, each trunk's subport VLANs — and
reports every bound port ACTIVE (DOWN when admin-down) and every trunk ACTIVE. It touches no
device, so one machine can host many agents in one process (bench/agents.py).
"""
from trunkline import constants as c
from trunkline.agent.driver import Driver


class NoopDriver(Driver):
    agent_type = c.AGENT_OVS
    binary = c.BINARY_OVS

    def __init__(self, datapath_type=None, **_switch_options):
        self.datapath_type = datapath_type or "system"
        self.local_vlans = {}   # network id -> local VLAN, kept across passes as OVS keeps tags
        self.wired = {}         # port id -> local VLAN (what the last pass would have set)
        self.trunks = {}        # trunk id -> {segmentation id: subport id}

    def configurations(self):
        return {"driver": "noop", "datapath_type": self.datapath_type,
                "integration_bridge": c.INTEGRATION_BRIDGE, "bridge_mappings": {}, "tunnel_types": [],
                "l2_population": False, "ovs_hybrid_plug": False}

    def reconcile(self, state, plugs):
        networks = state.get("networks") or {}
        for net_id in list(self.local_vlans):
            if net_id not in networks:
                del self.local_vlans[net_id]
        free = iter(sorted(set(range(1, c.DEAD_VLAN)) - set(self.local_vlans.values())))
        for net_id in sorted(networks):
            if net_id not in self.local_vlans:
                self.local_vlans[net_id] = next(free)
        ports = state.get("ports") or []
        self.wired = {p["id"]: self.local_vlans.get(p["network_id"]) for p in ports}
        self.trunks = {t["id"]: {s["segmentation_id"]: s["port_id"] for s in t["sub_ports"]}
                       for t in state.get("trunks") or []}
        return {"ports": {p["id"]: c.ACTIVE if p.get("admin_state_up", True) else c.DOWN
                          for p in ports},
                "trunks": {t: c.ACTIVE for t in self.trunks}}

    def timing(self):
        return "noop: %d ports, %d trunks, %d networks" % (len(self.wired), len(self.trunks),
                                                            len(self.local_vlans))

