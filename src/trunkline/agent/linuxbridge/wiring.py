"""Reconcile one host's Linux bridges with the desired state, as Neutron's Linux bridge agent
wires them (names: DESIGN.md):

- ``brq<net id[:11]>`` per network with a device on the host (STP off, forward delay 0);
- the network's uplink in it: ``vxlan-<VNI>`` (``nolearning dstport 4789``, local = the tunnel
  IP, dev = the NIC holding it, MTU = that NIC's − 50, no outer UDP checksum as iproute2 makes
  it), the mapped interface (flat) or a VLAN subinterface ``<iface>.<vid>`` of it (vlan);
- VM taps ``tap<port id[:11]>`` (made by Nova/the lab) and the DHCP veths enslaved and up (down
  when the port is admin down); a trunk's subports are VLAN devices ``tap<subport id[:11]>`` on
  the parent's tap (8021q, or agent/vlan.py's tc/BPF emulation where the kernel lacks it);
- L2 population from the state's ``tunnels``: per remote VTEP a ``00:00:00:00:00:00`` flood
  entry, per remote port ``<mac> dst <vtep>``; with ``arp_responder`` (Neutron's option, off by
  default as there) also ``proxy`` on the vxlan device and a permanent neighbour per remote
  address. The kernel's proxy consumes every ARP frame leaving through the device, replies
  included, so hosts that do not answer ARP locally (Open vSwitch without its ARP responder)
  would never hear a reply from this host: hence off by default.

One pass = one snapshot (a few netlink dumps), then only the writes that differ: a pass that
changes nothing writes nothing. Whatever this driver made and is no longer wanted goes (stale
``brq*``, ``vxlan-*``, its VLAN devices, FDB and neighbour entries); a tap left in a bridge it no
longer belongs to is released.
"""
import logging
import time

LOG = logging.getLogger(__name__)

VXLAN_PORT = 4789
VXLAN_OVERHEAD = 50
FLOOD_MAC = "00:00:00:00:00:00"


def tap(port_id):
    return ("tap" + port_id)[:14]


def bridge_name(net_id):
    return ("brq" + net_id)[:14]


def vxlan_name(vni):
    return "vxlan-%d" % vni


def subinterface(iface, vid):
    """``<iface>.<vid>``, the interface part cut so the name fits in 15 characters."""
    suffix = ".%d" % vid
    return iface[:15 - len(suffix)] + suffix


class Wiring:
    def __init__(self, netlink, tunnel_ip=None, interface_mappings=None, arp_responder=False):
        self.nl = netlink
        self.arp_responder = arp_responder
        self.tunnel_ip = tunnel_ip
        self.mappings = dict(interface_mappings or {})
        self.last_timing = {}

    def reconcile(self, state, plugs=()):
        t0 = time.monotonic()
        writes0 = self.nl.writes
        nets = state.get("networks") or {}
        want = self._devices(state, plugs)                 # dev -> (port id, net id, admin up)
        subdevs = {}                                       # dev -> (parent tap, vid, trunk id)
        for t in state.get("trunks") or []:
            for sp in t.get("sub_ports") or []:
                subdevs[tap(sp["port_id"])] = (tap(t["port_id"]), int(sp["segmentation_id"]),
                                               t["id"])
        net_ids = sorted({n for _, n, _ in want.values() if n in nets})
        snap = self.nl.snapshot()
        links = snap.links
        uplinks = {n: self._uplink(nets[n], snap) for n in net_ids}   # net -> (name, kind, ...)
        bridges = {bridge_name(n): n for n in net_ids}
        own_vlans = {u[0] for u in uplinks.values() if u and u[1] == "vlan"}
        vx_wanted = {u[0]: {"id": u[2][0], "local": self.tunnel_ip, "link": u[2][1],
                            "port": VXLAN_PORT, "learning": False, "proxy": self.arp_responder,
                            "udp_csum": False}
                     for u in uplinks.values() if u and u[1] == "vxlan"}

        # 1. what this driver made and is no longer wanted
        for l in list(links.values()):
            parent = l.vlan_parent(snap.by_index)
            stale = (
                (l.name.startswith("brq") and l.kind == "bridge" and l.name not in bridges)
                or (l.name.startswith("vxlan-") and l.kind == "vxlan"
                    and vx_wanted.get(l.name) != l.vxlan)
                or (parent and parent.startswith("tap") and l.name.startswith("tap")
                    and (parent not in links    # an emulated device outlives its parent
                         or subdevs.get(l.name, (None, None))[:2] != (parent, l.vlan_id)))
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
            if up and up[0] not in links:
                created |= self._add_uplink(up, snap)
        # 3. trunk subport devices on parent taps present here
        failed_trunks = set()
        for name, (parent, vid, trunk_id) in sorted(subdevs.items()):
            if name in links or parent not in links:
                continue
            try:
                self.nl.add_vlan(links[parent], name, vid)
                created = True
            except Exception as e:
                LOG.warning("trunk %s: VLAN device %s (id %d) on %s failed: %s",
                            trunk_id, name, vid, parent, e)
                failed_trunks.add(trunk_id)
        if created:
            links = self.nl.links()

        # 4. membership: uplinks and devices into their bridge, up
        statuses = {}
        for br, net_id in bridges.items():
            b = links.get(br)
            if b is None:
                continue
            self._ensure(b, None, True, None)
            up = uplinks[net_id]
            if up and up[0] in links:
                self._ensure(links[up[0]], b.index, True, up[3])
        for name, (port_id, net_id, admin_up) in want.items():
            l, b = links.get(name), links.get(bridge_name(net_id or ""))
            ok = l is not None and b is not None
            if ok:
                self._ensure(l, b.index, admin_up, None)
            if port_id is not None:
                statuses[port_id] = "ACTIVE" if ok and admin_up else "DOWN"
        # taps in one of our bridges that are no longer wanted there
        by_index = {l.index: l for l in links.values()}
        for l in links.values():
            m = by_index.get(l.master)
            if (m is not None and m.name.startswith("brq") and l.name.startswith("tap")
                    and bridge_name(want.get(l.name, (None, ""))[1] or "") != m.name):
                self.nl.set(l.index, master=0)

        # 5. L2 population
        self._l2pop(state.get("tunnels") or {}, uplinks, links, snap)

        trunks = {}
        for t in state.get("trunks") or []:
            if tap(t["port_id"]) not in links:
                continue                      # the VM is not plugged here (yet)
            subs = [sp["port_id"] for sp in t.get("sub_ports") or []]
            ok = t["id"] not in failed_trunks and all(
                statuses.get(s) == "ACTIVE" or tap(s) in links for s in subs)
            trunks[t["id"]] = "ACTIVE" if ok else "DEGRADED"
        self.last_timing = {"pass": time.monotonic() - t0, "writes": self.nl.writes - writes0}
        ports = {p["id"]: statuses.get(p["id"], "DOWN") for p in state.get("ports") or []}
        return {"ports": ports, "trunks": trunks}

    # -- pieces ------------------------------------------------------------------
    @staticmethod
    def _devices(state, plugs):
        want = {}
        for p in state.get("ports") or []:
            want[tap(p["id"])] = (p["id"], p.get("network_id"), p.get("admin_state_up", True))
        for t in state.get("trunks") or []:
            for sp in t.get("sub_ports") or []:
                want.setdefault(tap(sp["port_id"]), (sp["port_id"], sp.get("network_id"), True))
        for pl in plugs or ():          # a DHCP port bound here is also in `ports`
            want.setdefault(pl["name"], (pl["iface_id"], pl.get("network_id"), True))
        return want

    def _uplink(self, net, snap):
        """(device name, kind, creation args, mtu) of the network's uplink, or None."""
        ntype = net.get("network_type")
        if ntype == "vxlan" and self.tunnel_ip and net.get("segmentation_id"):
            nic = snap.links.get(snap.addresses.get(self.tunnel_ip) or "")
            if nic is None:
                LOG.warning("tunnel IP %s is on no interface: VXLAN network %s stays local",
                            self.tunnel_ip, net["id"])
                return None
            vni = int(net["segmentation_id"])
            return (vxlan_name(vni), "vxlan", (vni, nic.index), nic.mtu - VXLAN_OVERHEAD)
        iface = self.mappings.get(net.get("physical_network") or "")
        if iface is None or iface not in snap.links:
            return None
        if ntype == "flat":
            return (iface, "flat", None, None)
        if ntype == "vlan" and net.get("segmentation_id"):
            vid = int(net["segmentation_id"])
            return (subinterface(iface, vid), "vlan", (iface, vid), None)
        return None

    def _add_uplink(self, up, snap):
        name, kind, args, mtu = up
        if kind == "vxlan":
            vni, nic_index = args
            self.nl.add_vxlan(name, vni, self.tunnel_ip, nic_index, mtu, VXLAN_PORT,
                              self.arp_responder)
            return True
        if kind == "vlan":
            self.nl.add_vlan(snap.links[args[0]], name, args[1])
            return True
        return False

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

    def _l2pop(self, tunnels, uplinks, links, snap):
        vx_devices = {u[0]: n for n, u in uplinks.items() if u and u[1] == "vxlan"}
        fresh = [links[d].index for d in vx_devices
                 if d in links and links[d].index not in snap.fdb]
        if fresh:       # made in this pass: nothing on them yet
            for i in fresh:
                snap.fdb[i], snap.neighbours[i] = set(), {}
        for dev, net_id in vx_devices.items():
            l = links.get(dev)
            if l is None:
                continue
            fdb, neigh = set(), {}
            for vtep, ports in ((tunnels.get(net_id) or {}).get("vteps") or {}).items():
                if vtep == self.tunnel_ip:
                    continue
                fdb.add((FLOOD_MAC, vtep))
                for p in ports:
                    fdb.add((p["mac_address"], vtep))
                    if p.get("ip_address") and self.arp_responder:
                        neigh[p["ip_address"]] = p["mac_address"]
            have_fdb = snap.fdb.get(l.index, set())
            have_neigh = snap.neighbours.get(l.index, {})
            wanted_macs = {mac for mac, _ in fdb}
            for mac, dst in sorted(have_fdb - fdb):
                if mac == FLOOD_MAC or mac not in wanted_macs:   # else `replace` moves it
                    self.nl.fdb("del", l.index, mac, dst)
            for mac, dst in sorted(fdb - have_fdb):
                self.nl.fdb("append" if mac == FLOOD_MAC else "replace", l.index, mac, dst)
            for ip in sorted(set(have_neigh) - set(neigh)):
                self.nl.neigh("del", l.index, ip)
            for ip, mac in sorted(neigh.items()):
                if have_neigh.get(ip) != mac:
                    self.nl.neigh("replace", l.index, ip, mac)
