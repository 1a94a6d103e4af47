"""What the parts of an OVS pass share: the ``Planner`` contract each part fulfils (the
integration bridge, trunks, tunnels, provider bridges — a firewall slots in the same way), the
``Pass`` they plan together, and the host's local VLANs.

A planner first adds its OVSDB changes to the pass's one transaction (``plan``), then, once
ovs-vswitchd applied it, says which flows it wants on which bridges (``flows``); the pass's
flow owner (ovs/flows.py) writes only what changed."""
from typing import Callable, Dict, Iterable, Mapping, Optional, Protocol

from trunkline import constants as c
from trunkline.agent.ovs.switch import Switch

# a br-int Port's other_config keys that remember its network (so a restarted agent finds
# every local VLAN again)
LVLAN_KEYS = ("net_uuid", "network_type", "physical_network", "segmentation_id", "tag")


def vif_up(iface: Optional[Mapping]) -> bool:
    """A VM's interface is there when ovs-vswitchd gave it an OpenFlow port and no error: an
    Interface row whose device does not exist (yet) has ofport -1 and the error "No such
    device". Neutron's agent reports a port up only from then on, and so does this one."""
    return iface is not None and (iface.get("ofport") or 0) > 0 and not iface.get("error")


class LocalVlans:
    """The host's local VLAN per network: what br-int's ports remember, then the lowest free
    numbers."""

    def __init__(self, int_ports: Mapping[str, dict] = ()):
        self.of: Dict[str, int] = {}
        used = set()
        for p in dict(int_ports).values():
            oc = p["other_config"]
            if oc.get("net_uuid") and str(oc.get("tag", "")).isdigit():
                self.of.setdefault(oc["net_uuid"], int(oc["tag"]))
                used.add(int(oc["tag"]))
        self._free = (v for v in range(1, c.DEAD_VLAN) if v not in used)

    def tag(self, network_id: str) -> int:
        if network_id not in self.of:
            self.of[network_id] = next(self._free)
        return self.of[network_id]

    def get(self, network_id: str) -> Optional[int]:
        """The network's local VLAN if it has one (never allocates)."""
        return self.of.get(network_id)


class Pass:
    """One reconcile pass: the desired state, the switch transaction, and what the planners
    found (ports wired, trunk statuses) for the statuses the agent reports."""

    def __init__(self, desired: dict, plugs: Iterable[dict], switch: Optional[Switch],
                 vlans: LocalVlans, integration_bridge: str,
                 ofports: Callable[[], Dict[str, int]]):
        self.desired = desired
        self.networks: Dict[str, dict] = desired.get("networks") or {}
        self.ports: Dict[str, dict] = {p["id"]: p for p in desired.get("ports") or []}
        self.trunks = desired.get("trunks") or []
        self.tunnels: Dict[str, dict] = desired.get("tunnels") or {}
        self.plugs: Dict[str, dict] = {p["name"]: p for p in plugs}
        self.switch = switch            # None in a flows-only pass
        self.vlans = vlans
        self.br_int = integration_bridge
        self._ofports = ofports
        self.port_net = {pid: p.get("network_id") for pid, p in self.ports.items()}
        for t in self.trunks:
            for sp in t.get("sub_ports") or []:
                self.port_net.setdefault(sp["port_id"], sp.get("network_id"))
        for p in self.plugs.values():
            self.port_net.setdefault(p["iface_id"], p.get("network_id"))
        self.wired = set()                      # port ids wired on this host
        self.trunk_status: Dict[str, str] = {}  # trunk id -> status

    def network_of(self, port_id: str) -> Optional[str]:
        """The network a port on br-int carries, or None when it must be dead (unknown here,
        admin down, no network)."""
        p = self.ports.get(port_id)
        if p is not None and not p.get("admin_state_up", True):
            return None
        return self.port_net.get(port_id) or None

    def tag(self, network_id: Optional[str]) -> int:
        return self.vlans.tag(network_id) if network_id else c.DEAD_VLAN

    def other_config(self, old: Mapping[str, str], network_id: Optional[str]) -> Dict[str, str]:
        """A br-int Port's other_config: its own keys, plus its network's local VLAN fields."""
        oc = {k: v for k, v in old.items() if k not in LVLAN_KEYS}
        if network_id is None:
            return oc
        net = self.networks.get(network_id) or {}
        oc.update(net_uuid=network_id, network_type=net.get("network_type") or "",
                  segmentation_id=net.get("segmentation_id") or "", tag=self.tag(network_id))
        if net.get("physical_network"):
            oc["physical_network"] = net["physical_network"]
        return {k: str(v) for k, v in oc.items() if v != ""}

    def ofports(self) -> Dict[str, int]:
        """{interface name: OpenFlow port} after the commit (read once per pass; a flows-only
        pass reuses the last full pass's)."""
        return self._ofports()


class Planner(Protocol):
    """One part of the OVS pass."""

    cookie: Optional[str]       # marks the flows it owns (None: it has none)
    adopt_flows: bool           # a restarted agent keeps the flows it finds with this cookie

    def plan(self, p: Pass) -> None:
        """Add this part's OVSDB changes to ``p.switch``; note the ports it wired."""

    def flows(self, p: Pass) -> Mapping[str, Iterable[str]]:
        """{bridge: flow specs without cookie} this part wants after the commit."""
