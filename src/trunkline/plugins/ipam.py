"""IP address management: default allocation pools, pool validation, and picking addresses.

DHCP ports get the first free address of the pools (Neutron's PreferNextAddressRequest); other
ports a random free address among the first 1000 of the pools (Neutron picks among the
first 1000 free ones). Uniqueness is
the database's job: (subnet_id, ip_address) is the primary key of ipallocations.
"""
import ipaddress
import random

from sqlalchemy import select

from trunkline import exceptions as exc
from trunkline.db import schema

WINDOW = 1000
PROBES = 16
_rand = random.SystemRandom()


def default_pools(cidr, gateway_ip):
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


def validate_pools(cidr, pools, gateway_ip):
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


def usable(subnet_row, ip):
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


def allocated(conn, subnet_id):
    a = schema.ipallocations
    return set(conn.execute(select(a.c.ip_address).where(a.c.subnet_id == subnet_id)).scalars())


def pick(conn, subnet_row, first_free, taken=()):
    """An address from the subnet's pools, or None when it is full.

    A random pick first probes a few addresses of the window with one primary-key query, so a
    create does not read every allocation of a big subnet; only when every probe is taken (a
    nearly full window) does it scan the allocations."""
    pools = [(int(ipaddress.ip_address(p["start"])), int(ipaddress.ip_address(p["end"])))
             for p in subnet_row.allocation_pools]
    if not first_free:
        found = _probe(conn, subnet_row.id, pools, set(taken))
        if found:
            return found
    used = {int(ipaddress.ip_address(x)) for x in allocated(conn, subnet_row.id) | set(taken)}
    candidates = []
    for lo, hi in pools:
        ip = lo
        while ip <= hi and len(candidates) < WINDOW:
            if ip not in used:
                if first_free:
                    return str(ipaddress.ip_address(ip))
                candidates.append(ip)
            ip += 1
    if not candidates:
        return None
    return str(ipaddress.ip_address(_rand.choice(candidates)))


def _probe(conn, subnet_id, pools, taken):
    window, left = [], WINDOW
    for lo, hi in pools:
        if left <= 0:
            break
        hi = min(hi, lo + left - 1)
        window.append((lo, hi))
        left -= hi - lo + 1
    size = sum(hi - lo + 1 for lo, hi in window)
    if not size:
        return None
    probes = {str(ipaddress.ip_address(_nth(window, _rand.randrange(size))))
              for _ in range(min(PROBES, size))} - taken
    a = schema.ipallocations
    used = set(conn.execute(select(a.c.ip_address).where(
        a.c.subnet_id == subnet_id, a.c.ip_address.in_(sorted(probes)))).scalars())
    free = sorted(probes - used)
    return _rand.choice(free) if free else None


def _nth(ranges, n):
    for lo, hi in ranges:
        if n <= hi - lo:
            return lo + n
        n -= hi - lo + 1
    raise IndexError(n)


def eui64(subnet_row, mac):
    """The SLAAC address of ``mac`` on an IPv6 /64."""
    net = ipaddress.ip_network(subnet_row.cidr)
    octets = [int(x, 16) for x in mac.split(":")]
    octets[0] ^= 0x02
    iid = octets[:3] + [0xFF, 0xFE] + octets[3:]
    return str(ipaddress.ip_address(int(net.network_address) | int.from_bytes(bytes(iid), "big")))


def is_auto_address(subnet_row):
    return subnet_row.ip_version == 6 and subnet_row.ipv6_address_mode in (
        "slaac", "dhcpv6-stateless")
