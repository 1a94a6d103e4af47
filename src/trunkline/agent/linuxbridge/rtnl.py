"""The rtnetlink dumps a pass reads (links, neighbours and FDB entries), walked with ``struct``
for only the attributes a pass needs, and link change events.

pyroute2 decodes every attribute of every message (statistics, per-family settings, ...), which
made a pass over a host with hundreds of devices that changes nothing take seconds.
"""
import ctypes
import os
import socket
import struct

NETLINK_ROUTE = 0
RTM_NEWLINK, RTM_DELLINK, RTM_GETLINK = 16, 17, 18
RTM_NEWNEIGH, RTM_GETNEIGH = 28, 30
NDA_DST, NDA_LLADDR = 1, 2
RTMGRP_LINK = 1
NLMSG_DONE, NLMSG_ERROR = 3, 2
NLM_F_REQUEST, NLM_F_DUMP = 0x1, 0x300
IFLA_IFNAME, IFLA_MTU, IFLA_LINK, IFLA_MASTER, IFLA_LINKINFO, IFLA_IFALIAS = 3, 4, 5, 10, 18, 20
IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS = 29, 1 << 3
IFLA_INFO_KIND, IFLA_INFO_DATA = 1, 2
IFLA_VLAN_ID = 1
VXLAN_ATTRS = {1: ("id", "I"), 2: ("group", "ip"), 3: ("link", "I"), 4: ("local", "ip"), 7: ("learning", "B"),
               11: ("proxy", "B"), 15: ("port", ">H"), 18: ("udp_csum", "B")}
CLONE_NEWNET = 0x40000000

_libc = ctypes.CDLL(None, use_errno=True)


def open_socket(netns=None):
    """A NETLINK_ROUTE socket in namespace ``netns`` (setns in this thread, then back)."""
    if not netns:
        return socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_ROUTE)
    mine = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    target = os.open(os.path.join("/run/netns", netns), os.O_RDONLY)
    try:
        if _libc.setns(target, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns into %s failed" % netns)
        try:
            return socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_ROUTE)
        finally:
            if _libc.setns(mine, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns back failed")
    finally:
        os.close(mine)
        os.close(target)


def _attrs(data, start, end):
    while start + 4 <= end:
        length, kind = struct.unpack_from("HH", data, start)
        if length < 4:
            break
        yield kind & 0x3fff, data[start + 4:start + length]
        start += (length + 3) & ~3


def _link(data, off, end):
    _, _, index, flags = struct.unpack_from("BxHiI", data, off)
    out = {"index": index, "up": bool(flags & 1), "name": None, "mtu": None, "link": None,
           "master": None, "alias": "", "kind": None, "vlan_id": None, "vxlan": None}
    for kind, value in _attrs(data, off + 16, end):
        if kind == IFLA_IFNAME:
            out["name"] = value.rstrip(b"\0").decode()
        elif kind == IFLA_MTU:
            out["mtu"] = struct.unpack("I", value)[0]
        elif kind == IFLA_LINK:
            out["link"] = struct.unpack("i", value)[0]
        elif kind == IFLA_MASTER:
            out["master"] = struct.unpack("i", value)[0]
        elif kind == IFLA_IFALIAS:
            out["alias"] = value.rstrip(b"\0").decode(errors="replace")
        elif kind == IFLA_LINKINFO:
            for ik, iv in _attrs(value, 0, len(value)):
                if ik == IFLA_INFO_KIND:
                    out["kind"] = iv.rstrip(b"\0").decode()
                elif ik == IFLA_INFO_DATA:
                    _info_data(out, iv)
    return out


def _info_data(out, value):
    # IFLA_INFO_KIND precedes IFLA_INFO_DATA in the kernel's messages
    if out["kind"] == "vlan":
        for k, v in _attrs(value, 0, len(value)):
            if k == IFLA_VLAN_ID:
                out["vlan_id"] = struct.unpack("H", v[:2])[0]
    elif out["kind"] == "vxlan":
        vx = {"id": None, "link": None, "local": None, "learning": False, "proxy": False,
              "port": None, "udp_csum": False, "group": None}
        for k, v in _attrs(value, 0, len(value)):
            if k in VXLAN_ATTRS:
                name, fmt = VXLAN_ATTRS[k]
                if fmt == "ip":
                    vx[name] = socket.inet_ntoa(v[:4])
                else:
                    n = struct.unpack(fmt, v[:struct.calcsize(fmt)])[0]
                    vx[name] = bool(n) if fmt == "B" else n
        out["vxlan"] = vx


def changes(sock):
    """[(event, link)] in the datagrams waiting on SOCK (bound to RTMGRP_LINK): event
    "new" or "del". Blocks up to the socket's timeout for the first one."""
    data = sock.recv(1 << 20)
    out, off = [], 0
    while off + 16 <= len(data):
        length, mtype = struct.unpack_from("IH", data, off)
        if length < 16:
            break
        if mtype in (RTM_NEWLINK, RTM_DELLINK):
            out.append(("new" if mtype == RTM_NEWLINK else "del",
                        _link(data, off + 16, off + length)))
        off += (length + 3) & ~3
    return out


def dump(sock, seq=1):
    """[{index, up, name, mtu, link, master, alias, kind, vlan_id, vxlan}] of every link."""
    ext = struct.pack("HHI", 8, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS)
    body = struct.pack("BxHiII", socket.AF_UNSPEC, 0, 0, 0, 0) + ext
    return _dump(sock, seq, RTM_GETLINK, RTM_NEWLINK, body, _link)


def neighbours(sock, family, seq=1):
    """[(ifindex, state, flags, dst, lladdr)] of every neighbour entry of ``family``
    (AF_INET/AF_INET6; AF_BRIDGE: the FDB, dst = the VXLAN destination when there is one)."""
    body = struct.pack("BxxxiHBB", family, 0, 0, 0, 0)
    return _dump(sock, seq, RTM_GETNEIGH, RTM_NEWNEIGH, body, _neighbour)


def _neighbour(data, off, end):
    _, index, state, flags, _ = struct.unpack_from("BxxxiHBB", data, off)
    dst = mac = None
    for kind, value in _attrs(data, off + 12, end):
        if kind == NDA_DST:
            dst = socket.inet_ntop(socket.AF_INET6 if len(value) == 16 else socket.AF_INET,
                                   value)
        elif kind == NDA_LLADDR and len(value) == 6:
            mac = ":".join("%02x" % b for b in value)
    return index, state, flags, dst, mac


def _dump(sock, seq, request, reply, body, parse):
    sock.send(struct.pack("IHHII", 16 + len(body), request, NLM_F_REQUEST | NLM_F_DUMP,
                          seq, 0) + body)
    out = []
    while True:
        data = sock.recv(1 << 20)
        off = 0
        while off + 16 <= len(data):
            length, mtype, _, mseq, _ = struct.unpack_from("IHHII", data, off)
            if length < 16:
                return out
            if mseq == seq:
                if mtype == NLMSG_DONE:
                    return out
                if mtype == NLMSG_ERROR:
                    err = -struct.unpack_from("i", data, off + 16)[0]
                    raise OSError(err, "rtnetlink dump %d: %s" % (request, os.strerror(err)))
                if mtype == reply:
                    out.append(parse(data, off + 16, off + length))
            off += (length + 3) & ~3
