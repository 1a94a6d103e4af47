"""One host namespace over netlink: a snapshot read in a few dumps (links, IPv4 addresses, the
bridge FDB, neighbours; rtnl.py reads the big ones) and the writes a pass needs (pyroute2),
each counted so a pass that changes nothing can prove it wrote nothing. VLAN devices are
agent/vlan.py's (real 8021q, or the veth + clsact/cls_bpf emulation with the same eBPF programs
and ifalias mark, so either side can read or remove the other's) made here over netlink: no
process per device."""
import errno
import os
import socket

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from trunkline.agent.linuxbridge import rtnl
from trunkline.agent import vlan as vlans

AF_BRIDGE = 7
NTF_SELF = 0x02
NUD_PERMANENT = 0x80
NUD_NOARP = 0x40
VLAN_ALIAS = vlans.ALIAS_PREFIX     # agent/vlan.py's mark on an emulated VLAN device
TC_INGRESS = "ffff:fff2"            # clsact's ingress hook


class Link:
    """What a pass needs to know about one device (from rtnl.dump)."""
    __slots__ = ("name", "index", "kind", "master", "up", "mtu", "link", "vlan_id", "vxlan",
                 "alias")

    def __init__(self, d):
        for key in self.__slots__:
            setattr(self, key, d[key])
        if self.kind == "veth" and self.alias.startswith(VLAN_ALIAS):
            kv = dict(p.split("=", 1) for p in self.alias[len(VLAN_ALIAS):].split() if "=" in p)
            self.vlan_id = int(kv["vid"]) if kv.get("vid", "").isdigit() else None
            self.link = kv.get("link")     # a name, as the emulation records it

    def vlan_parent(self, by_index):
        """Name of the device this VLAN device sits on (real 8021q or emulated), or None."""
        if self.vlan_id is None:
            return None
        if self.kind == "vlan":
            parent = by_index.get(self.link)
            return parent.name if parent else None
        return self.link


class Snapshot:
    def __init__(self, links, addresses, fdb, neighbours):
        self.links = links                  # name -> Link
        self.by_index = {l.index: l for l in links.values()}
        self.addresses = addresses          # IPv4 address -> device name
        self.fdb = fdb                      # ifindex -> {(mac, dst)} (the vxlan "self" entries)
        self.neighbours = neighbours        # ifindex -> {ip: mac} (permanent entries)


class Netlink:
    """Netlink in namespace ``netns`` (None: the agent's own). The socket opens on first use
    and reopens after ``close()`` (a failed pass)."""

    def __init__(self, netns=None):
        self.netns = netns
        self._ipr = None
        self._dump = None
        self.writes = 0

    @property
    def ipr(self):
        if self._ipr is None:
            self._ipr = IPRoute(netns=self.netns) if self.netns else IPRoute()
        return self._ipr

    def close(self):
        if self._dump is not None:
            self._dump.close()
            self._dump = None
        if self._ipr is not None:
            try:
                self._ipr.close()
            finally:
                self._ipr = None

    # -- reading -----------------------------------------------------------------
    def links(self):
        if self._dump is None:
            self._dump = rtnl.open_socket(self.netns)
        return {l.name: l for l in (Link(d) for d in rtnl.dump(self._dump)) if l.name}

    def snapshot(self):
        """Links, IPv4 addresses, and the FDB and neighbour entries of the vxlan devices."""
        links = self.links()
        addresses = {}
        names = {l.index: l.name for l in links.values()}
        for a in self.ipr.get_addr(family=socket.AF_INET):
            addresses[a.get("IFA_ADDRESS")] = names.get(a["index"])
        vxlan_indexes = {l.index for l in links.values() if l.kind == "vxlan"}
        fdb, neigh = {i: set() for i in vxlan_indexes}, {i: {} for i in vxlan_indexes}
        if vxlan_indexes:
            for index, _, flags, dst, mac in rtnl.neighbours(self._dump, AF_BRIDGE):
                if index in fdb and dst and flags & NTF_SELF:
                    fdb[index].add((mac, dst))
            for family in (socket.AF_INET, socket.AF_INET6):
                for index, state, _, dst, mac in rtnl.neighbours(self._dump, family):
                    if index in neigh and state & NUD_PERMANENT:
                        neigh[index][dst] = mac
        return Snapshot(links, addresses, fdb, neigh)

    # -- writing -----------------------------------------------------------------
    def _w(self, *args, **kwargs):
        self.writes += 1
        return self.ipr.link(*args, **kwargs)

    def add_bridge(self, name):
        self._w("add", ifname=name, kind="bridge", br_stp_state=0, br_forward_delay=0)

    def add_vxlan(self, name, vni, local, link_index, mtu, port, proxy, group=None):
        """``group``: flood to this multicast group and learn (no L2 population)."""
        extra = {"vxlan_group": group} if group else {}
        self._w("add", ifname=name, kind="vxlan", vxlan_id=vni, vxlan_local=local,
                vxlan_link=link_index, vxlan_learning=int(bool(group)),
                vxlan_proxy=int(proxy), vxlan_port=port, vxlan_udp_csum=0, mtu=mtu, **extra)

    def delete(self, index):
        self._w("del", index=index)

    def set(self, index, **attrs):
        """``master`` (0 = none), ``state`` ("up"/"down"), ``mtu``."""
        self._w("set", index=index, **attrs)

    def fdb(self, op, index, mac, dst):
        self.writes += 1
        kw = {"state": NUD_PERMANENT | NUD_NOARP} if op != "del" else {}
        self.ipr.fdb(op, ifindex=index, lladdr=mac, dst=dst, flags=NTF_SELF, **kw)

    def add_vlan(self, parent, name, vid):
        """VLAN device NAME with tag VID on PARENT (a Link), up."""
        if vlans.vlan_mode() == "8021q":
            self._w("add", ifname=name, kind="vlan", link=parent.index, vlan_id=vid)
            self.set(self.ipr.link_lookup(ifname=name)[0], state="up")
            return
        peer = vlans.peer_name(name)
        self._w("add", ifname=name, kind="veth", mtu=parent.mtu,
                peer={"ifname": peer, "mtu": parent.mtu})
        try:
            index = self.ipr.link_lookup(ifname=name)[0]
            peer_index = self.ipr.link_lookup(ifname=peer)[0]
            self.set(index, ifalias="%slink=%s vid=%d" % (VLAN_ALIAS, parent.name, vid))
            self.set(peer_index, state="up")
            self.set(index, state="up")
            self._clsact(parent.index)
            self._clsact(peer_index)
            self._bpf(parent.index, vlans.RX_PREF_BASE + vid, vlans.prog_rx(vid, index),
                      "tlvlan_rx")
            self._bpf(peer_index, 1, vlans.prog_tx(vid, parent.index), "tlvlan_tx")
        except Exception:
            self._del_rx(parent.index, vid)
            self.ipr.link("del", ifname=name)
            raise

    def del_vlan(self, link, parent_index=None):
        """Remove VLAN device LINK (with its rx filter on the parent when emulated)."""
        if link.kind != "vlan" and parent_index is not None:
            self._del_rx(parent_index, link.vlan_id)
        self.delete(link.index)       # an emulated device takes its hidden peer along

    def _clsact(self, index):
        try:
            self.writes += 1
            self.ipr.tc("add", "clsact", index=index)
        except NetlinkError as e:
            if e.code != errno.EEXIST:
                raise

    def _bpf(self, index, pref, code, name):
        """Attach CODE as a direct-action ingress filter; the filter holds the program, so its
        fd is closed right away (deleting the filter or the device frees it)."""
        fd = vlans._load(code, name)
        try:
            self.writes += 1
            self.ipr.tc("add-filter", "bpf", index=index, handle=0, fd=fd, name=name,
                        parent=TC_INGRESS, prio=pref, direct_action=True)
        finally:
            os.close(fd)

    def _del_rx(self, parent_index, vid):
        try:
            self.writes += 1
            self.ipr.tc("del-filter", "bpf", index=parent_index, parent=TC_INGRESS,
                        prio=vlans.RX_PREF_BASE + vid)
        except NetlinkError:
            pass            # gone with its device already

    def neigh(self, op, index, ip, mac=None):
        self.writes += 1
        family = socket.AF_INET6 if ":" in ip else socket.AF_INET
        if op == "del":
            self.ipr.neigh("del", ifindex=index, dst=ip, family=family)
        else:
            self.ipr.neigh("replace", ifindex=index, dst=ip, lladdr=mac, family=family,
                           state=NUD_PERMANENT)
