"""L2 population on a Linux bridge host, from the desired state's ``tunnels``: per remote VTEP
a ``00:00:00:00:00:00`` flood entry on the network's VXLAN device, per remote port ``<mac> dst
<vtep>``; with ``arp_responder`` (Neutron's option, off by default as there) also a permanent
neighbour per remote address (the device then answers ARP itself with ``proxy``). The kernel's
proxy consumes every ARP frame leaving through the device, replies included, so hosts that do
not answer ARP locally (Open vSwitch without its ARP responder) would never hear a reply from
this host: hence off by default. Only the entries that differ are written."""
from typing import Mapping, Optional

FLOOD_MAC = "00:00:00:00:00:00"


def sync(nl, tunnels: Mapping[str, dict], uplinks: Mapping, links: Mapping, snap,
         tunnel_ip: Optional[str], arp_responder: bool) -> None:
    vx_devices = {u.name: n for n, u in uplinks.items() if u and u.kind == "vxlan"}
    for d in vx_devices:        # made in this pass: nothing on them yet
        if d in links and links[d].index not in snap.fdb:
            snap.fdb[links[d].index], snap.neighbours[links[d].index] = set(), {}
    for dev, net_id in vx_devices.items():
        link = links.get(dev)
        if link is None:
            continue
        fdb, neigh = set(), {}
        for vtep, ports in ((tunnels.get(net_id) or {}).get("vteps") or {}).items():
            if vtep == tunnel_ip:
                continue
            fdb.add((FLOOD_MAC, vtep))
            for p in ports:
                fdb.add((p["mac_address"], vtep))
                if p.get("ip_address") and arp_responder:
                    neigh[p["ip_address"]] = p["mac_address"]
        have_fdb = snap.fdb.get(link.index, set())
        have_neigh = snap.neighbours.get(link.index, {})
        wanted_macs = {mac for mac, _ in fdb}
        for mac, dst in sorted(have_fdb - fdb):
            if mac == FLOOD_MAC or mac not in wanted_macs:   # else `replace` moves it
                nl.fdb("del", link.index, mac, dst)
        for mac, dst in sorted(fdb - have_fdb):
            nl.fdb("append" if mac == FLOOD_MAC else "replace", link.index, mac, dst)
        for ip in sorted(set(have_neigh) - set(neigh)):
            nl.neigh("del", link.index, ip)
        for ip, mac in sorted(neigh.items()):
            if have_neigh.get(ip) != mac:
                nl.neigh("replace", link.index, ip, mac)
