"""A network's uplink on a Linux bridge host, as Neutron's Linux bridge agent makes it: a VXLAN
device ``vxlan-<VNI>`` (``nolearning dstport 4789``, local = the tunnel IP, dev = the NIC
holding it, MTU = that NIC's less the VXLAN overhead, no outer UDP checksum as iproute2 makes
it; without L2 population ``group <vxlan_group>`` and learning instead), the mapped interface
itself (flat) or a VLAN subinterface ``<iface>.<vid>`` of it (vlan)."""
import ipaddress
import logging
from typing import Dict, Mapping, NamedTuple, Optional

from trunkline import names

LOG = logging.getLogger(__name__)

VXLAN_PORT = 4789
DEFAULT_VXLAN_GROUP = "224.0.0.1"
VXLAN_OVERHEAD = 50     # outer Ethernet, IPv4, UDP and VXLAN headers


class Uplink(NamedTuple):
    name: str               # the device in the network's bridge
    kind: str               # "vxlan", "flat" or "vlan"
    args: Optional[tuple]   # vxlan: (VNI, NIC index); vlan: (interface, VLAN id)
    mtu: Optional[int]      # the MTU it must have (None: leave it)


class Uplinks:
    def __init__(self, netlink, tunnel_ip: Optional[str], mappings: Mapping[str, str],
                 arp_responder: bool, vxlan_group: Optional[str] = None,
                 vxlan_port: int = VXLAN_PORT):
        self.nl = netlink
        self.tunnel_ip = tunnel_ip
        self.mappings = dict(mappings)
        self.arp_responder = arp_responder
        self.groups = ipaddress.IPv4Network(vxlan_group, strict=False) if vxlan_group else None
        self.port = vxlan_port

    def group(self, vni: int) -> Optional[str]:
        """The multicast group of VNI ``vni`` (None with L2 population): a range's base plus
        the VNI's bits under its host mask, as Neutron's Linux bridge agent maps it."""
        if self.groups is None:
            return None
        return str(self.groups.network_address + (vni & int(self.groups.hostmask)))

    def of(self, net: dict, snap) -> Optional[Uplink]:
        """The network's uplink on this host, or None (local only)."""
        ntype = net.get("network_type")
        if ntype == "vxlan" and self.tunnel_ip and net.get("segmentation_id"):
            nic = snap.links.get(snap.addresses.get(self.tunnel_ip) or "")
            if nic is None:
                LOG.warning("tunnel IP %s is on no interface: VXLAN network %s stays local",
                            self.tunnel_ip, net["id"])
                return None
            vni = int(net["segmentation_id"])
            return Uplink(names.vxlan_device(vni), "vxlan", (vni, nic.index),
                          nic.mtu - VXLAN_OVERHEAD)
        iface = self.mappings.get(net.get("physical_network") or "")
        if iface is None or iface not in snap.links:
            return None
        if ntype == "flat":
            return Uplink(iface, "flat", None, None)
        if ntype == "vlan" and net.get("segmentation_id"):
            vid = int(net["segmentation_id"])
            return Uplink(names.vlan_subinterface(iface, vid), "vlan", (iface, vid), None)
        return None

    def vxlan_attributes(self, uplinks: Mapping[str, Optional[Uplink]]) -> Dict[str, dict]:
        """{VXLAN device: the attributes it must have} of the wanted uplinks (a device whose
        attributes differ is made again)."""
        return {u.name: {"id": u.args[0], "local": self.tunnel_ip, "link": u.args[1],
                         "port": self.port, "learning": self.groups is not None,
                         "proxy": self.arp_responder, "udp_csum": False,
                         "group": self.group(u.args[0])}
                for u in uplinks.values() if u and u.kind == "vxlan"}

    def add(self, up: Uplink, snap) -> bool:
        """Make the uplink device; True when one was made (a flat uplink is the NIC)."""
        if up.kind == "vxlan":
            vni, nic_index = up.args
            self.nl.add_vxlan(up.name, vni, self.tunnel_ip, nic_index, up.mtu, self.port,
                              self.arp_responder, self.group(vni))
            return True
        if up.kind == "vlan":
            self.nl.add_vlan(snap.links[up.args[0]], up.name, up.args[1])
            return True
        return False
