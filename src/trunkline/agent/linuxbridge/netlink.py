"""One host namespace over netlink (pyroute2): a snapshot read in a few dumps (links, IPv4
addresses, the bridge FDB, neighbours) and the writes a pass needs, each counted so a pass that
changes nothing can prove it wrote nothing."""
import socket

from pyroute2 import IPRoute

NTF_SELF = 0x02
NUD_PERMANENT = 0x80
NUD_NOARP = 0x40
VLAN_ALIAS = "trunkline-vlan "     # lab/vlan.py's mark on an emulated VLAN device


class Link:
    """What a pass needs to know about one device."""
    __slots__ = ("name", "index", "kind", "master", "up", "mtu", "link", "vlan_id", "vxlan",
                 "alias")

    def __init__(self, msg):
        self.name = msg.get("IFLA_IFNAME")
        self.index = msg["index"]
        self.master = msg.get("IFLA_MASTER")
        self.up = bool(msg["flags"] & 1)
        self.mtu = msg.get("IFLA_MTU")
        self.link = msg.get("IFLA_LINK")
        self.alias = msg.get("IFLA_IFALIAS") or ""
        self.kind, self.vlan_id, self.vxlan = None, None, None
        info = msg.get("IFLA_LINKINFO")
        if info is not None:
            self.kind = info.get("IFLA_INFO_KIND")
            data = info.get("IFLA_INFO_DATA")
            if self.kind == "vlan" and data is not None:
                self.vlan_id = data.get("IFLA_VLAN_ID")
            elif self.kind == "vxlan" and data is not None:
                self.vxlan = {"id": data.get("IFLA_VXLAN_ID"),
                              "local": data.get("IFLA_VXLAN_LOCAL"),
                              "link": data.get("IFLA_VXLAN_LINK"),
                              "port": data.get("IFLA_VXLAN_PORT"),
                              "learning": bool(data.get("IFLA_VXLAN_LEARNING")),
                              "proxy": bool(data.get("IFLA_VXLAN_PROXY")),
                              "udp_csum": bool(data.get("IFLA_VXLAN_UDP_CSUM"))}
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
        self.writes = 0

    @property
    def ipr(self):
        if self._ipr is None:
            self._ipr = IPRoute(netns=self.netns) if self.netns else IPRoute()
        return self._ipr

    def close(self):
        if self._ipr is not None:
            try:
                self._ipr.close()
            finally:
                self._ipr = None

    # -- reading -----------------------------------------------------------------
    def links(self):
        return {l.name: l for l in (Link(m) for m in self.ipr.get_links()) if l.name}

    def snapshot(self, vxlan_indexes=None):
        """Links and addresses; FDB and neighbours only of ``vxlan_indexes`` (all vxlan
        devices when None)."""
        links = self.links()
        addresses = {}
        names = {l.index: l.name for l in links.values()}
        for a in self.ipr.get_addr(family=socket.AF_INET):
            addresses[a.get("IFA_ADDRESS")] = names.get(a["index"])
        if vxlan_indexes is None:
            vxlan_indexes = {l.index for l in links.values() if l.kind == "vxlan"}
        fdb, neigh = {i: set() for i in vxlan_indexes}, {i: {} for i in vxlan_indexes}
        if vxlan_indexes:
            for e in self.ipr.fdb("dump"):
                dst = e.get("NDA_DST")
                if e["ifindex"] in fdb and dst and e["flags"] & NTF_SELF:
                    fdb[e["ifindex"]].add((e.get("NDA_LLADDR"), dst))
            for family in (socket.AF_INET, socket.AF_INET6):
                for n in self.ipr.get_neighbours(family=family):
                    if n["ifindex"] in neigh and n["state"] & NUD_PERMANENT:
                        neigh[n["ifindex"]][n.get("NDA_DST")] = n.get("NDA_LLADDR")
        return Snapshot(links, addresses, fdb, neigh)

    # -- writing -----------------------------------------------------------------
    def _w(self, *args, **kwargs):
        self.writes += 1
        return self.ipr.link(*args, **kwargs)

    def add_bridge(self, name):
        self._w("add", ifname=name, kind="bridge", br_stp_state=0, br_forward_delay=0)

    def add_vxlan(self, name, vni, local, link_index, mtu, port, proxy):
        self._w("add", ifname=name, kind="vxlan", vxlan_id=vni, vxlan_local=local,
                vxlan_link=link_index, vxlan_learning=0, vxlan_proxy=int(proxy),
                vxlan_port=port, vxlan_udp_csum=0, mtu=mtu)

    def delete(self, index):
        self._w("del", index=index)

    def set(self, index, **attrs):
        """``master`` (0 = none), ``state`` ("up"/"down"), ``mtu``."""
        self._w("set", index=index, **attrs)

    def fdb(self, op, index, mac, dst):
        self.writes += 1
        kw = {"state": NUD_PERMANENT | NUD_NOARP} if op != "del" else {}
        self.ipr.fdb(op, ifindex=index, lladdr=mac, dst=dst, flags=NTF_SELF, **kw)

    def neigh(self, op, index, ip, mac=None):
        self.writes += 1
        family = socket.AF_INET6 if ":" in ip else socket.AF_INET
        if op == "del":
            self.ipr.neigh("del", ifindex=index, dst=ip, family=family)
        else:
            self.ipr.neigh("replace", ifindex=index, dst=ip, lladdr=mac, family=family,
                           state=NUD_PERMANENT)
