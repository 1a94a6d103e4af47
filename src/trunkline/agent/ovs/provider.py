"""Provider (flat and VLAN) networks on Open vSwitch, as Neutron's agent does them with
``bridge_mappings``: ``--physnet-mapping physnet1:eth2`` gives a provider bridge ``br-eth2``
holding eth2, joined to br-int by the patch pair ``int-br-eth2`` (br-int) / ``phy-br-eth2``
(br-eth2). Bridges and ports go into the pass's one OVSDB transaction.

Flows (ovs/flows.py, one atomic batch per bridge when they change):

    br-int   in_port=int-br-X, dl_vlan=<provider VLAN> (vlan) / untagged (flat)
                 → mod_vlan_vid:<local VLAN>, NORMAL;   in_port=int-br-X anything else → drop
    br-X     in_port=phy-br-X, dl_vlan=<local VLAN> → mod_vlan_vid:<provider VLAN> (vlan) /
                 strip_vlan (flat), NORMAL;   in_port=phy-br-X anything else → drop;
             everything else (from the wire) → NORMAL
"""
from typing import Dict, List, Mapping

from trunkline import names
from trunkline.agent.ovs.planner import Pass

COOKIE = "0x7c1a0003"


class ProviderBridges:
    cookie = COOKIE
    adopt_flows = False

    def __init__(self, mappings: Mapping[str, str], datapath_type: str,
                 integration_bridge: str):
        """``mappings``: {physnet: interface}."""
        self.ifaces = dict(mappings)
        self.bridges = {physnet: names.provider_bridge(iface)
                        for physnet, iface in self.ifaces.items()}
        self.datapath_type = datapath_type
        self.br_int = integration_bridge

    # -- OVSDB -------------------------------------------------------------------------------
    def plan(self, p: Pass) -> None:
        sw = p.switch
        for physnet, bridge in sorted(self.bridges.items()):
            int_end, phy_end = names.provider_patches(bridge)
            sw.add_port(p.br_int, int_end, {"type": "patch", "options": {"peer": phy_end}})
            sw.add_bridge(bridge, self.datapath_type)
            sw.add_port(bridge, self.ifaces[physnet])
            sw.add_port(bridge, phy_end, {"type": "patch", "options": {"peer": int_end}})

    # -- flows -------------------------------------------------------------------------------
    def flows(self, p: Pass) -> Dict[str, List[str]]:
        """The provider bridges' flows and br-int's flows for them."""
        ports, networks = p.ofports(), p.networks
        int_flows, phy = [], {b: ["priority=0,actions=NORMAL"] for b in self.bridges.values()}
        for physnet, bridge in self.bridges.items():
            int_end, phy_end = names.provider_patches(bridge)
            ip, pp = ports.get(int_end), ports.get(phy_end)
            if not ip or not pp:
                continue
            int_flows.append("priority=2,in_port=%d,actions=drop" % ip)
            phy[bridge].append("priority=2,in_port=%d,actions=drop" % pp)
            for net_id, net in sorted(networks.items()):
                lv = p.vlans.get(net_id)
                if net.get("physical_network") != physnet or not lv:
                    continue
                if net.get("network_type") == "vlan" and net.get("segmentation_id"):
                    seg = net["segmentation_id"]
                    int_flows.append("priority=3,in_port=%d,dl_vlan=%d,actions=mod_vlan_vid:%d,"
                                     "NORMAL" % (ip, seg, lv))
                    phy[bridge].append("priority=4,in_port=%d,dl_vlan=%d,actions=mod_vlan_vid:"
                                       "%d,NORMAL" % (pp, lv, seg))
                elif net.get("network_type") == "flat":
                    int_flows.append("priority=3,in_port=%d,vlan_tci=0x0000/0x1fff,actions="
                                     "mod_vlan_vid:%d,NORMAL" % (ip, lv))
                    phy[bridge].append("priority=4,in_port=%d,dl_vlan=%d,actions=strip_vlan,"
                                       "NORMAL" % (pp, lv))
        return dict(phy, **{self.br_int: int_flows})
