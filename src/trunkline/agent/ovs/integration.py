"""The integration bridge's part of an OVS pass, as Neutron's agent lays br-int out.

br-int is in fail mode secure with two flows: ``priority=0 NORMAL`` and a drop for the dead
VLAN. Every br-int port whose interface names a port (external_ids ``iface-id``) gets its
network's local VLAN as access tag and the network in its other_config (the dead VLAN when the
port is unknown here or admin down); the agent's own taps (DHCP) are added when missing and
removed when no longer wanted. A VM's port is wired when it has a network and its interface
is there (an OpenFlow port, no error: ``vif_up``); a trunk member's patch end (tpi-/spi-) is the
trunk planner's to judge, by the VM interface on the trunk bridge.

It runs after the planners that remove br-int ports of their own (trunk patches), so it tags
only what stays; a br-int it creates is there for their ports in the same transaction."""
from typing import Dict, List

from trunkline import constants as c
from trunkline import names
from trunkline.agent.ovs.planner import Pass, vif_up

COOKIE = "0x7c1a0001"
OWNER_KEY = "trunkline-owner"       # external_ids key marking a tap the agent added itself
OWNER_DHCP = "dhcp"
_TRUNK_INT_ENDS = (names.TRUNK_INT_PATCH, names.SUBPORT_INT_PATCH)


def external_ids(port_id: str, mac: str, **extra: str) -> Dict[str, str]:
    """A VIF's external_ids as Nova and os-vif set them."""
    return dict({"iface-id": port_id, "attached-mac": mac, "iface-status": "active"}, **extra)


class IntegrationBridge:
    adopt_flows = True
    cookie = COOKIE

    def __init__(self, name: str = c.INTEGRATION_BRIDGE, datapath_type: str = "netdev"):
        self.name = name
        self.datapath_type = datapath_type

    def plan(self, p: Pass) -> None:
        sw = p.switch
        sw.add_bridge(self.name, self.datapath_type)
        for name, port in sw.ports_of(self.name).items():
            iface = port["iface"]
            if name == self.name or iface is None or sw.removing(self.name, name):
                continue
            ext = iface["external_ids"]
            if ext.get(OWNER_KEY) == OWNER_DHCP and name not in p.plugs:
                sw.del_port(self.name, name)
                continue
            iid = ext.get("iface-id")
            if not iid:
                continue
            net_id = p.network_of(iid)
            sw.set_port(self.name, name, tag=p.tag(net_id),
                        other_config=p.other_config(port["other_config"], net_id))
            if net_id and vif_up(iface) and not name.startswith(_TRUNK_INT_ENDS):
                p.wired.add(iid)
        for name, plug in sorted(p.plugs.items()):
            net_id = p.network_of(plug["iface_id"])
            if sw.add_port(self.name, name,
                           {"external_ids": external_ids(plug["iface_id"], plug.get("mac", ""),
                                                         **{OWNER_KEY: OWNER_DHCP})},
                           {"tag": p.tag(net_id), "other_config": p.other_config({}, net_id)}) \
                    and net_id:
                p.wired.add(plug["iface_id"])

    def flows(self, p: Pass) -> Dict[str, List[str]]:
        return {self.name: ["priority=65535,dl_vlan=%d,actions=drop" % c.DEAD_VLAN,
                            "priority=0,actions=NORMAL"]}
