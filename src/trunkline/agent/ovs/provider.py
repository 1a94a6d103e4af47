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
from trunkline.agent.ovs.flows import FlowSet, ofports
from trunkline.agent.ovsdb import omap

COOKIE = "0x7c1a0003"


def int_patch(bridge):
    return ("int-" + bridge)[:15]


def phy_patch(bridge):
    return ("phy-" + bridge)[:15]


class ProviderBridges:
    def __init__(self, mappings, datapath_type, rundir, integration_bridge="br-int"):
        """``mappings``: {physnet: interface}."""
        self.ifaces = dict(mappings)
        self.bridges = {physnet: "br-" + iface for physnet, iface in self.ifaces.items()}
        self.datapath_type = datapath_type
        self.int_flows = FlowSet(rundir, integration_bridge, COOKIE)
        self.phy_flows = {b: FlowSet(rundir, b, COOKIE) for b in self.bridges.values()}

    # -- OVSDB -------------------------------------------------------------------------------
    def plan(self, snap, txn, br_int, int_ports):
        for physnet, bridge in sorted(self.bridges.items()):
            iface = self.ifaces[physnet]
            if int_patch(bridge) not in int_ports:
                txn.add_port(br_int, int_patch(bridge), {
                    "type": "patch", "options": omap({"peer": phy_patch(bridge)})}, {})
            b = snap.bridges.get(bridge)
            if b is None:
                ref, have = txn.add_bridge(bridge, self.datapath_type), {}
            else:
                ref, have = b["uuid"], snap.ports_of(bridge)
            if iface not in have:
                txn.add_port(ref, iface, {}, {})
            if phy_patch(bridge) not in have:
                txn.add_port(ref, phy_patch(bridge), {
                    "type": "patch", "options": omap({"peer": int_patch(bridge)})}, {})

    # -- flows -------------------------------------------------------------------------------
    def flows(self, ports, lvlans, networks):
        """({bridge: [flows]} for the provider bridges, [flows] for br-int)."""
        int_flows, phy = [], {b: ["priority=0,actions=NORMAL"] for b in self.bridges.values()}
        for physnet, bridge in self.bridges.items():
            ip, pp = ports.get(int_patch(bridge)), ports.get(phy_patch(bridge))
            if not ip or not pp:
                continue
            int_flows.append("priority=2,in_port=%d,actions=drop" % ip)
            phy[bridge].append("priority=2,in_port=%d,actions=drop" % pp)
            for net_id, net in sorted(networks.items()):
                lv = lvlans.get(net_id)
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
        return phy, int_flows

    def apply_flows(self, db, lvlans, networks):
        names = [n for b in self.bridges.values() for n in (int_patch(b), phy_patch(b))]
        phy, int_flows = self.flows(ofports(db, names), lvlans, networks)
        changed = self.int_flows.sync(int_flows)
        for bridge, flows in phy.items():
            changed = self.phy_flows[bridge].sync(flows) or changed
        return changed
