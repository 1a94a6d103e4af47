"""Reconcile one host's Linux bridges with the desired state, as Neutron's Linux bridge agent
wires them: ``brq<net id[:11]>`` per network with a device on the host (STP off, forward delay
0) holding the network's uplink (linuxbridge/uplinks.py), the VM taps ``tap<port id[:11]>``
(made by Nova/the lab) and the DHCP veths, enslaved and up (down when the port is admin down);
trunk subports as VLAN devices on the parent's tap (linuxbridge/trunks.py); L2 population on
the VXLAN devices (linuxbridge/l2pop.py), or, without it, a multicast group they flood to.

One pass = one snapshot (a few netlink dumps), then only the writes that differ: a pass that
changes nothing writes nothing. Whatever this driver made and is no longer wanted goes (stale
``brq*``, ``vxlan-*``, its VLAN devices, FDB and neighbour entries); a tap left in a bridge it no
longer belongs to is released.
"""
import logging
import time
from typing import Dict, Iterable, Mapping, Optional

from trunkline import constants as c
from trunkline import names
from trunkline.agent.linuxbridge import l2pop, trunks
from trunkline.agent.linuxbridge.uplinks import VXLAN_PORT, Uplinks

LOG = logging.getLogger(__name__)


class Wiring:
    def __init__(self, netlink, tunnel_ip: Optional[str] = None,
                 interface_mappings: Optional[Mapping[str, str]] = None,
                 arp_responder: bool = False, vxlan_group: Optional[str] = None,
                 vxlan_port: int = VXLAN_PORT):
        self.nl = netlink
        self.arp_responder = arp_responder
        self.tunnel_ip = tunnel_ip
        self.mappings = dict(interface_mappings or {})
        # a multicast group: no L2 population, the VXLAN devices flood to it and learn
        self.multicast = vxlan_group is not None
        self.uplinks = Uplinks(netlink, tunnel_ip, self.mappings, arp_responder,
                               vxlan_group, vxlan_port)
        self.last_timing = {}

    def reconcile(self, state: dict, plugs: Iterable[dict] = ()) -> dict:
        t0 = time.monotonic()
        writes0 = self.nl.writes
        nets = state.get("networks") or {}
        want = self._devices(state, plugs)                 # dev -> (port id, net id, admin up)
        subdevs = trunks.subport_devices(state.get("trunks") or [])
        net_ids = sorted({n for _, n, _ in want.values() if n in nets})
        snap = self.nl.snapshot()
        links = snap.links
        uplinks = {n: self.uplinks.of(nets[n], snap) for n in net_ids}
        bridges = {names.network_bridge(n): n for n in net_ids}
        own_vlans = {u.name for u in uplinks.values() if u and u.kind == "vlan"}
        vx_wanted = self.uplinks.vxlan_attributes(uplinks)

        # 1. what this driver made and is no longer wanted
        for l in list(links.values()):
            parent = l.vlan_parent(snap.by_index)
            stale = (
                (l.name.startswith(names.BRIDGE_PREFIX) and l.kind == "bridge"
                 and l.name not in bridges)
                or (l.name.startswith(names.VXLAN_PREFIX) and l.kind == "vxlan"
                    and vx_wanted.get(l.name) != l.vxlan)
                or trunks.is_stale(l, parent, subdevs, links)
                or (parent in self.mappings.values() and l.name not in own_vlans))
            if stale:
                LOG.info("removing stale %s", l.name)
                if l.vlan_id is not None:
                    self.nl.del_vlan(l, links[parent].index if parent in links else None)
                else:
                    self.nl.delete(l.index)
                links.pop(l.name, None)

        # 2. bridges and their uplinks
        created = False
        for br, net_id in sorted(bridges.items()):
            if br not in links:
                self.nl.add_bridge(br)
                created = True
            up = uplinks[net_id]
            if up and up.name not in links:
                created |= self.uplinks.add(up, snap)
        # 3. trunk subport devices on parent taps present here
        made, failed_trunks = trunks.add_missing(self.nl, subdevs, links)
        if created or made:
            links = self.nl.links()

        # 4. membership: uplinks and devices into their bridge, up
        statuses = {}
        for br, net_id in bridges.items():
            b = links.get(br)
            if b is None:
                continue
            self._ensure(b, None, True, None)
            up = uplinks[net_id]
            if up and up.name in links:
                self._ensure(links[up.name], b.index, True, up.mtu)
        for name, (port_id, net_id, admin_up) in want.items():
            l, b = links.get(name), links.get(names.network_bridge(net_id or ""))
            ok = l is not None and b is not None
            if ok:
                self._ensure(l, b.index, admin_up, None)
            if port_id is not None:
                statuses[port_id] = c.ACTIVE if ok and admin_up else c.DOWN
        # taps in one of our bridges that are no longer wanted there
        by_index = {l.index: l for l in links.values()}
        for l in links.values():
            m = by_index.get(l.master)
            if (m is not None and m.name.startswith(names.BRIDGE_PREFIX)
                    and l.name.startswith(names.TAP_PREFIX)
                    and names.network_bridge(want.get(l.name, (None, ""))[1] or "") != m.name):
                self.nl.set(l.index, master=0)

        # 5. L2 population (a multicast host's devices learn instead)
        if not self.multicast:
            l2pop.sync(self.nl, state.get("tunnels") or {}, uplinks, links, snap,
                       self.tunnel_ip, self.arp_responder)

        trunk_status = trunks.statuses(state.get("trunks") or [], links, statuses,
                                       failed_trunks)
        self.last_timing = {"pass": time.monotonic() - t0, "writes": self.nl.writes - writes0}
        ports = {p["id"]: statuses.get(p["id"], c.DOWN) for p in state.get("ports") or []}
        return {"ports": ports, "trunks": trunk_status}

    # -- pieces ------------------------------------------------------------------
    @staticmethod
    def _devices(state: dict, plugs: Iterable[dict]) -> Dict[str, tuple]:
        want = {}
        for p in state.get("ports") or []:
            want[names.tap(p["id"])] = (p["id"], p.get("network_id"),
                                        p.get("admin_state_up", True))
        for t in state.get("trunks") or []:
            for sp in t.get("sub_ports") or []:
                want.setdefault(names.tap(sp["port_id"]),
                                (sp["port_id"], sp.get("network_id"), True))
        for pl in plugs or ():          # a DHCP port bound here is also in `ports`
            want.setdefault(pl["name"], (pl["iface_id"], pl.get("network_id"), True))
        return want

    def _ensure(self, l, master, up, mtu):
        """Set what differs: master (None = leave), up/down, mtu (None = leave)."""
        attrs = {}
        if master is not None and l.master != master:
            attrs["master"] = master
        if mtu is not None and l.mtu != mtu:
            attrs["mtu"] = mtu
        if l.up != up:
            attrs["state"] = "up" if up else "down"
        if attrs:
            self.nl.set(l.index, **attrs)
