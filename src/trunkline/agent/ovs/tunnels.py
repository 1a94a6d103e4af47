"""The tunnel bridge ``br-tun`` as Neutron's OVS agent lays it out, driven by L2 population
(the ``tunnels`` section of the desired state, docs/agent-channel.md).

OVSDB (added to the pass's one transaction): ``br-tun`` (fail_mode secure, the integration
bridge's datapath_type), the patch pair ``patch-int`` (br-tun) / ``patch-tun`` (br-int, a trunk
port carrying every local VLAN), and one port per remote VTEP and tunnel type in use,
``vxlan-<remote ip in hex>`` / ``gre-<hex>`` with options ``remote_ip``, ``local_ip``,
``key=flow`` (VXLAN on UDP 4789); ports of VTEPs no longer needed are removed.

Flows (one atomic ``ovs-ofctl --bundle`` batch, only when they changed or ovs-vswitchd restarted,
ovs/flows.py):

    table 0   in_port=patch-int → 2; in_port=<vxlan port> → 4; in_port=<gre port> → 3; drop
    table 2   unicast → 20; multicast/broadcast → 22 (broadcast ARP → 21 with the ARP responder)
    table 21  ARP responder (``--arp-responder``): per remote (local VLAN, IP): answer the
              request from the l2pop MAC, back out of the port it came in; else → 22
    table 3/4 tun_id=<GRE key / VNI> → mod_vlan_vid:<local VLAN>, 10; drop
    table 10  learn (a table-20 entry back to the sender's VTEP), output:patch-int
    table 20  l2pop, per remote MAC: dl_vlan=<local VLAN>,dl_dst=MAC →
              strip_vlan, set_tunnel:<segmentation id>, output:<its VTEP's port>; else → 22
    table 22  per network: dl_vlan=<local VLAN> → strip_vlan, set_tunnel, output to every VTEP
              with a port on that network (and no other); else drop
"""
from typing import Dict, List, Optional

from trunkline import names
from trunkline.agent.ovs.planner import Pass

BRIDGE = names.TUNNEL_BRIDGE
PATCH_INT, PATCH_TUN = names.PATCH_INT, names.PATCH_TUN
VXLAN_UDP_PORT = 4789
TUN_TO_LV = {"gre": 3, "vxlan": 4}
COOKIE = "0x7c1a0002"
LEARN = ("learn(table=20,hard_timeout=300,priority=1,cookie=%s,NXM_OF_VLAN_TCI[0..11],"
         "NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[],load:0->NXM_OF_VLAN_TCI[],"
         "load:NXM_NX_TUN_ID[]->NXM_NX_TUN_ID[],output:OXM_OF_IN_PORT[])" % COOKIE)


def _ipv4(ip: Optional[str]) -> bool:
    return bool(ip) and ":" not in ip


def arp_reply(lvlan: int, mac: str, ip: str) -> str:
    """Table 21: answer 'who has IP' on local VLAN LVLAN with MAC (Neutron's ARP responder)."""
    return ("table=21,priority=1,arp,dl_vlan=%d,arp_tpa=%s,actions="
            "move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],mod_dl_src:%s,load:0x2->NXM_OF_ARP_OP[],"
            "move:NXM_NX_ARP_SHA[]->NXM_NX_ARP_THA[],move:NXM_OF_ARP_SPA[]->NXM_OF_ARP_TPA[],"
            "load:%#x->NXM_NX_ARP_SHA[],load:%#x->NXM_OF_ARP_SPA[],in_port"
            % (lvlan, ip, mac, int(mac.replace(":", ""), 16),
               int.from_bytes(bytes(int(o) for o in ip.split(".")), "big")))


class TunnelBridge:
    cookie = COOKIE
    adopt_flows = False

    def __init__(self, local_ip: str, tunnel_types, datapath_type: str,
                 arp_responder: bool = False):
        self.local_ip = local_ip
        self.arp_responder = arp_responder
        self.types = tuple(tunnel_types)
        self.datapath_type = datapath_type

    def wanted_ports(self, tunnels: Dict[str, dict]) -> Dict[str, tuple]:
        """{port name: (type, remote ip)} for the VTEPs of the networks this host carries."""
        out = {}
        for net in tunnels.values():
            ttype = net.get("network_type")
            if ttype not in self.types:
                continue
            for ip in net.get("vteps") or {}:
                if ip != self.local_ip:
                    out[names.tunnel_port(ttype, ip)] = (ttype, ip)
        return out

    # -- OVSDB -------------------------------------------------------------------------------
    def plan(self, p: Pass) -> None:
        sw = p.switch
        sw.add_port(p.br_int, PATCH_TUN, {"type": "patch", "options": {"peer": PATCH_INT}})
        sw.add_bridge(BRIDGE, self.datapath_type)
        have = sw.ports_of(BRIDGE)
        sw.add_port(BRIDGE, PATCH_INT, {"type": "patch", "options": {"peer": PATCH_TUN}})
        want = self.wanted_ports(p.tunnels)
        for name, port in have.items():
            if name in (BRIDGE, PATCH_INT):
                continue
            if name in want and port["iface"] is not None \
                    and port["iface"]["type"] == want[name][0] \
                    and port["iface"]["options"] == self._options(want[name][1]):
                want.pop(name)                      # as it should be
            else:
                sw.del_port(BRIDGE, name)           # stale, or re-created below
        for name, (ttype, ip) in sorted(want.items()):
            sw.add_port(BRIDGE, name, {"type": ttype, "options": self._options(ip)},
                        may_exist=False)

    def _options(self, remote_ip: str) -> Dict[str, str]:
        return {"remote_ip": remote_ip, "local_ip": self.local_ip, "key": "flow",
                "df_default": "true"}

    # -- flows -------------------------------------------------------------------------------
    def flows(self, p: Pass) -> Dict[str, List[str]]:
        """br-tun's flow table, from the ofports of its ports and each network's local VLAN."""
        ofports, tunnels = p.ofports(), p.tunnels
        pi = ofports.get(PATCH_INT)
        lines = ["table=0,priority=0,actions=drop"]
        if not pi:
            return {BRIDGE: lines}
        lines += [
            "table=0,priority=1,in_port=%d,actions=resubmit(,2)" % pi,
            "table=2,priority=0,dl_dst=00:00:00:00:00:00/01:00:00:00:00:00,"
                "actions=resubmit(,20)",
            "table=2,priority=0,dl_dst=01:00:00:00:00:00/01:00:00:00:00:00,"
                "actions=resubmit(,22)",
            "table=3,priority=0,actions=drop",
            "table=4,priority=0,actions=drop",
            "table=10,priority=1,actions=%s,output:%d" % (LEARN, pi),
            "table=20,priority=0,actions=resubmit(,22)",
            "table=22,priority=0,actions=drop",
        ]
        if self.arp_responder:
            lines += ["table=2,priority=1,arp,dl_dst=ff:ff:ff:ff:ff:ff,actions=resubmit(,21)",
                      "table=21,priority=0,actions=resubmit(,22)"]
        for name, (ttype, _) in sorted(self.wanted_ports(tunnels).items()):
            if ofports.get(name):
                lines.append("table=0,priority=1,in_port=%d,actions=resubmit(,%d)"
                             % (ofports[name], TUN_TO_LV[ttype]))
        for net_id, net in sorted(tunnels.items()):
            ttype, seg, lv = net.get("network_type"), net.get("segmentation_id"), \
                p.vlans.get(net_id)
            if ttype not in self.types or not seg or not lv:
                continue
            lines.append("table=%d,priority=1,tun_id=%#x,actions=mod_vlan_vid:%d,"
                             "resubmit(,10)" % (TUN_TO_LV[ttype], seg, lv))
            outs = []
            for ip, entries in sorted((net.get("vteps") or {}).items()):
                port = ofports.get(names.tunnel_port(ttype, ip))
                if not port or ip == self.local_ip:
                    continue
                outs.append("output:%d" % port)
                for mac in sorted(set(e["mac_address"] for e in entries)):
                    lines.append("table=20,priority=2,dl_vlan=%d,dl_dst=%s,actions="
                                     "strip_vlan,set_tunnel:%#x,output:%d" % (lv, mac, seg, port))
                if self.arp_responder:
                    lines += [arp_reply(lv, e["mac_address"], e["ip_address"])
                              for e in entries if _ipv4(e.get("ip_address"))]
            if outs:
                lines.append("table=22,priority=1,dl_vlan=%d,actions=strip_vlan,"
                                 "set_tunnel:%#x,%s" % (lv, seg, ",".join(outs)))
        return {BRIDGE: lines}
