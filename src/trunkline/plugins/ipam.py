"""IP address management: default allocation pools, pool validation, and allocating addresses.

Each subnet keeps the addresses of its pools that no port holds as free ranges (table
``ipfreeranges``: [first, last], the addresses in fixed-width hex so that text order is
address order), updated in the write that takes or gives back an address. Finding a free
address, taking one or returning one is a handful of index lookups whatever the number of
ports on the subnet; only a change of the pools themselves re-reads the subnet's allocations.

DHCP ports get the first free address of the pools (Neutron's PreferNextAddressRequest); other
ports a random free address among the first ones of the pools (Neutron picks among the first
1000 free ones; here among those of the first few free ranges, at most 1000). Uniqueness is
the database's job: (subnet_id, ip_address) is the primary key of ipallocations; writers are
serialised (db/engine.py), so the ranges always agree with the allocations.
"""
from __future__ import annotations

import ipaddress
import random
from typing import TYPE_CHECKING, Iterable, Optional

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from trunkline.db.engine import Txn

from sqlalchemy import bindparam, delete, insert, select, update

from trunkline import exceptions as exc
from trunkline.db import schema

WINDOW = 1000       # a random pick chooses among at most this many free addresses
RANGES_READ = 32    # ... of at most this many free ranges
A, F, S = schema.ipallocations, schema.ipfreeranges, schema.subnets
_rand = random.SystemRandom()


def _key(value, version):
    return "%0*x" % (8 if version == 4 else 32, value)


def _ip(value, version):
    return str(ipaddress.IPv4Address(value) if version == 4 else ipaddress.IPv6Address(value))


def _pool_spans(pools):
    return [(int(ipaddress.ip_address(p["start"])), int(ipaddress.ip_address(p["end"])))
            for p in pools or ()]


def default_pools(cidr: str, gateway_ip: Optional[str]) -> list:
    net = ipaddress.ip_network(cidr)
    if net.version == 4:
        if net.prefixlen >= 31:
            first, last = int(net.network_address), int(net.broadcast_address)
        else:
            first, last = int(net.network_address) + 1, int(net.broadcast_address) - 1
    else:
        first, last = int(net.network_address) + 1, int(net.broadcast_address)
    ranges = [(first, last)]
    if gateway_ip:
        gw = int(ipaddress.ip_address(gateway_ip))
        split = []
        for lo, hi in ranges:
            split += [(lo, gw - 1), (gw + 1, hi)] if lo <= gw <= hi else [(lo, hi)]
        ranges = split
    return [{"start": str(ipaddress.ip_address(lo)), "end": str(ipaddress.ip_address(hi))}
            for lo, hi in ranges if lo <= hi]


def validate_pools(cidr: str, pools: list, gateway_ip: Optional[str]) -> None:
    net = ipaddress.ip_network(cidr)
    spans = []
    for pool in pools:
        start, end = ipaddress.ip_address(pool["start"]), ipaddress.ip_address(pool["end"])
        text = "%s-%s" % (pool["start"], pool["end"])
        if start.version != net.version or end.version != net.version:
            raise exc.InvalidAllocationPool(pool=text)
        if start > end:
            raise exc.InvalidAllocationPool(pool=pool)  # Neutron prints the pool dict here
        if start not in net or end not in net:
            raise exc.OutOfBoundsAllocationPool(pool=text, subnet_cidr=cidr)
        if net.version == 4 and net.prefixlen < 31 and (
                start == net.network_address or end == net.broadcast_address):
            raise exc.OutOfBoundsAllocationPool(pool=text, subnet_cidr=cidr)
        spans.append((int(start), int(end), text))
    spans.sort()
    for (_, e1, t1), (s2, _, t2) in zip(spans, spans[1:]):
        if s2 <= e1:
            raise exc.OverlappingAllocationPools(pool_1=t1, pool_2=t2, subnet_cidr=cidr)
    if gateway_ip:
        gw = int(ipaddress.ip_address(gateway_ip))
        for lo, hi, text in spans:
            if lo <= gw <= hi:
                raise exc.GatewayConflictWithAllocationPools(ip_address=gateway_ip, pool=text)


def usable(subnet_row, ip: str) -> bool:
    """Is ``ip`` an address a port may hold on this subnet (inside, not network/broadcast)?"""
    net = ipaddress.ip_network(subnet_row.cidr)
    addr = ipaddress.ip_address(ip)
    if addr.version != net.version or addr not in net:
        return False
    if net.version == 4 and net.prefixlen < 31:
        return addr not in (net.network_address, net.broadcast_address)
    if net.version == 6:
        return addr != net.network_address
    return True


# The statements of the hot paths, built once (a statement built per call costs more than
# SQLite takes to run it); parameters: sid (subnet id), key (an address key), ...
_HELD = select(A.c.port_id).where(A.c.subnet_id == bindparam("sid"),
                                  A.c.ip_address == bindparam("ip"))
_FIRST_RANGES = select(F.c.first, F.c.last).where(F.c.subnet_id == bindparam("sid")).order_by(
    F.c.first).limit(RANGES_READ)
_AT_OR_BEFORE = select(F.c.first, F.c.last).where(
    F.c.subnet_id == bindparam("sid"), F.c.first <= bindparam("key")).order_by(
    F.c.first.desc()).limit(1)
_STARTING_AT = select(F.c.last).where(F.c.subnet_id == bindparam("sid"),
                                      F.c.first == bindparam("key"))
_DROP_RANGE = delete(F).where(F.c.subnet_id == bindparam("sid"), F.c.first == bindparam("key"))
_SET_FIRST = update(F).where(F.c.subnet_id == bindparam("sid"),
                             F.c.first == bindparam("key")).values(first=bindparam("to"))
_SET_LAST = update(F).where(F.c.subnet_id == bindparam("sid"),
                            F.c.first == bindparam("key")).values(last=bindparam("to"))
_ADD_RANGE = insert(F)
_PORT_ADDRESSES = select(A.c.subnet_id, A.c.ip_address, S.c.ip_version,
                         S.c.allocation_pools).join(S, S.c.id == A.c.subnet_id).where(
    A.c.port_id == bindparam("port_id"))
_DROP_PORT_ADDRESSES = delete(A).where(A.c.port_id == bindparam("port_id"))
_DROP_ADDRESS = delete(A).where(A.c.subnet_id == bindparam("sid"),
                                A.c.ip_address == bindparam("ip"))


def is_allocated(conn: Connection, subnet_id: str, ip: str) -> bool:
    """Does a port hold ``ip`` on the subnet (one primary-key lookup)?"""
    return conn.execute(_HELD, {"sid": subnet_id, "ip": ip}).first() is not None


def pick(conn: Connection, subnet_row, first_free: bool,
         taken: Iterable[str] = ()) -> Optional[str]:
    """A free address of the subnet's pools, not in ``taken`` (chosen earlier in the same
    request), or None when there is none. One query: the first free ranges."""
    avoid = {int(ipaddress.ip_address(t)) for t in taken}
    spans, size = [], 0
    for first, last in conn.execute(_FIRST_RANGES, {"sid": subnet_row.id}):
        lo = int(first, 16)
        hi = min(int(last, 16), lo + WINDOW + len(avoid) - size - 1)
        spans.append((lo, hi))
        size += hi - lo + 1
        if size >= WINDOW + len(avoid):
            break
    if first_free:
        for lo, hi in spans:
            ip = next((i for i in range(lo, hi + 1) if i not in avoid), None)
            if ip is not None:
                return _ip(ip, subnet_row.ip_version)
        return None
    if size <= sum(1 for ip in avoid if any(lo <= ip <= hi for lo, hi in spans)):
        return None
    while True:
        n = _rand.randrange(size)
        for lo, hi in spans:
            if n <= hi - lo:
                break
            n -= hi - lo + 1
        if lo + n not in avoid:
            return _ip(lo + n, subnet_row.ip_version)


def allocate(txn: Txn, port_id: str, network_id: str, pairs: list, subnets: dict) -> None:
    """Give the port the (subnet id, address) ``pairs``: allocation rows, and the addresses
    taken out of their subnets' free ranges (``subnets``: {id: row})."""
    if not pairs:
        return
    txn.execute(insert(A), [{"subnet_id": sid, "ip_address": ip, "port_id": port_id,
                             "network_id": network_id} for sid, ip in pairs])
    for sid, ip in pairs:
        _take(txn, sid, subnets[sid].ip_version, int(ipaddress.ip_address(ip)))


def release(txn: Txn, pairs: list, subnets: dict) -> None:
    """Take the (subnet id, address) ``pairs`` off their port and return those inside the
    pools to the free ranges (``subnets``: {id: row})."""
    for sid, ip in pairs:
        txn.execute(_DROP_ADDRESS, {"sid": sid, "ip": ip})
        subnet = subnets[sid]
        _give(txn, sid, subnet.ip_version, subnet.allocation_pools,
              int(ipaddress.ip_address(ip)))


def release_port(txn: Txn, port_id: str) -> None:
    """Free every address of a port that is going away."""
    held = txn.execute(_PORT_ADDRESSES, {"port_id": port_id}).all()
    if held:
        txn.execute(_DROP_PORT_ADDRESSES, {"port_id": port_id})
        for sid, ip, version, pools in held:
            _give(txn, sid, version, pools, int(ipaddress.ip_address(ip)))


def release_subnet(txn: Txn, subnet_row) -> None:
    """The subnet goes: its allocations and free ranges with it."""
    txn.execute(delete(A).where(A.c.subnet_id == subnet_row.id))
    txn.execute(delete(F).where(F.c.subnet_id == subnet_row.id))


def reset_ranges(txn: Txn, subnet_id: str, version: int, pools: list) -> None:
    """(Re)compute the subnet's free ranges: its pools less what ports hold there (a new
    subnet, or one whose pools changed)."""
    txn.execute(delete(F).where(F.c.subnet_id == subnet_id))
    used = sorted(int(ipaddress.ip_address(ip)) for ip in txn.execute(
        select(A.c.ip_address).where(A.c.subnet_id == subnet_id)).scalars())
    rows = []
    for lo, hi in sorted(_pool_spans(pools)):
        for ip in [u for u in used if lo <= u <= hi] + [hi + 1]:
            if lo <= ip - 1:
                rows.append({"subnet_id": subnet_id, "first": _key(lo, version),
                             "last": _key(ip - 1, version)})
            lo = ip + 1
    if rows:
        txn.execute(insert(F), rows)


def _take(txn, sid, version, ip):
    """Take address ``ip`` (an integer) out of the free range holding it, if one does (a
    fixed IP may be anywhere in the subnet, outside the pools too)."""
    key = _key(ip, version)
    found = txn.execute(_AT_OR_BEFORE, {"sid": sid, "key": key}).first()
    if found is None or found.last < key:
        return
    first, last = found
    at = {"sid": sid, "key": first}
    if first == last:
        txn.execute(_DROP_RANGE, at)
    elif key == first:
        txn.execute(_SET_FIRST, dict(at, to=_key(ip + 1, version)))
    else:
        txn.execute(_SET_LAST, dict(at, to=_key(ip - 1, version)))
        if key != last:
            txn.execute(_ADD_RANGE, {"subnet_id": sid, "first": _key(ip + 1, version),
                                     "last": last})


def _give(txn, sid, version, pools, ip):
    """Return address ``ip`` to the free ranges when it is in the pools, merged with the
    ranges ending just before it and starting just after it."""
    if not any(lo <= ip <= hi for lo, hi in _pool_spans(pools)):
        return
    key, before, after = _key(ip, version), _key(ip - 1, version), _key(ip + 1, version)
    prev = txn.execute(_AT_OR_BEFORE, {"sid": sid, "key": key}).first()
    nxt = txn.execute(_STARTING_AT, {"sid": sid, "key": after}).scalar()
    if nxt is not None:
        txn.execute(_DROP_RANGE, {"sid": sid, "key": after})
    last = nxt if nxt is not None else key
    if prev is not None and prev.last == before:
        txn.execute(_SET_LAST, {"sid": sid, "key": prev.first, "to": last})
    else:
        txn.execute(_ADD_RANGE, {"subnet_id": sid, "first": key, "last": last})


def eui64(subnet_row, mac: str) -> str:
    """The SLAAC address of ``mac`` on an IPv6 /64."""
    net = ipaddress.ip_network(subnet_row.cidr)
    octets = [int(x, 16) for x in mac.split(":")]
    octets[0] ^= 0x02
    iid = octets[:3] + [0xFF, 0xFE] + octets[3:]
    return str(ipaddress.ip_address(int(net.network_address) | int.from_bytes(bytes(iid), "big")))


def is_auto_address(subnet_row) -> bool:
    return subnet_row.ip_version == 6 and subnet_row.ipv6_address_mode in (
        "slaac", "dhcpv6-stateless")
