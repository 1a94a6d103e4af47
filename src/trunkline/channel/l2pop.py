"""L2 population, server side: which remote VTEPs and MACs a host needs for its tunnel networks
(the ``tunnels`` section of its desired state), and which hosts a port change concerns (every
host with a port on the port's tunnel network, so their watches wake — and only those).

A host's VTEP is the ``tunnel_ip`` in the configurations of its live L2 agent (Open vSwitch or
Linux bridge). Every function here costs a fixed number of queries whatever the number of
ports; the per-network part of ``tunnels`` is computed once per database revision
(``NetworkViews``)."""
import threading

from sqlalchemy import select

from trunkline.channel import agents
from trunkline.db import schema
from trunkline.plugins.common import fast_rows

P, A, N, G = schema.ports, schema.ipallocations, schema.networks, schema.agents
TUNNEL_TYPES = ("vxlan", "gre")


def network_hosts(conn, network_ids, also=()):
    """``also`` plus every host with a port on one of ``network_ids`` that is a tunnel network
    (one query): the hosts whose L2 population a port change on those networks alters."""
    ids = sorted(set(n for n in network_ids if n))
    found = network_hosts_of(conn, ids) if ids else []
    return sorted(set(h for h in also if h) | set(found))


def port_hosts(conn, port_ids, also=()):
    """``network_hosts`` for the networks of the existing ports ``port_ids`` (one query)."""
    found = network_hosts_of(conn, select(P.c.network_id).where(P.c.id.in_(list(port_ids)))) \
        if port_ids else []
    return sorted(set(h for h in also if h) | set(found))


def first_on_host(conn, network_id, host, port_id):
    """Is ``port_id`` the only port of ``host`` on ``network_id`` (one query)? Its arrival or
    departure then adds or removes the host as a VTEP of the network."""
    return conn.execute(select(P.c.id).where(
        P.c.network_id == network_id, P.c.host == host, P.c.id != port_id).limit(1)).first() \
        is None


def neighbour_hosts(conn, host):
    """The hosts sharing a tunnel network with ``host`` (one query): they must learn when its
    VTEP appears, comes back or moves."""
    own_nets = select(P.c.network_id).where(P.c.host == host)
    return network_hosts_of(conn, own_nets, exclude=host)


def network_hosts_of(conn, nets, exclude=None):
    """The hosts with a port on the tunnel networks among ``nets`` (ids or a subquery)."""
    stmt = (select(P.c.host).distinct().join(N, N.c.id == P.c.network_id)
            .where(P.c.network_id.in_(nets), N.c.network_type.in_(TUNNEL_TYPES), P.c.host != ""))
    return sorted(h for h in conn.execute(stmt).scalars() if h != exclude)


def vteps(conn):
    """{host: (tunnel_ip, tunnel types or None = any)} of the live L2 agents that tunnel (one
    query)."""
    out = {}
    for host, conf in conn.execute(select(G.c.host, G.c.configurations).where(
            G.c.agent_type.in_(agents.L2_AGENT_TYPES),
            G.c.heartbeat_at >= agents.alive_cutoff())):
        conf = conf or {}
        ip, types = conf.get("tunnel_ip"), conf.get("tunnel_types")
        if isinstance(ip, str) and ip:
            out[host] = (ip, set(types) if isinstance(types, list) else None)
    return out


def tunnels(conn, host, revision=None):
    """The ``tunnels`` section of ``host``'s state: per tunnel network it has a port on, the
    other live VTEPs with a port on it whose agent carries the network's type (its
    ``tunnel_types``) and their ACTIVE, admin-up ports' (MAC, IP)s.

    Two small queries (its networks, the live VTEPs) per call; the per-network part (which VTEP
    is on which network, the ACTIVE ports with their IPs: two queries over every port of the
    network) is shared by every call at the same database ``revision`` with the same live
    VTEPs (``NetworkViews``): the hosts one change wakes all ask at one revision, and the
    network's part is the same for all of them but for their own entry."""
    own_nets = select(P.c.network_id).where(P.c.host == host)
    nets = fast_rows(conn.execute(
        select(N.c.id, N.c.network_type, N.c.segmentation_id)
        .where(N.c.id.in_(own_nets), N.c.network_type.in_(TUNNEL_TYPES))))
    out = {r.id: {"network_type": r.network_type, "segmentation_id": r.segmentation_id,
                  "vteps": {}} for r in nets}
    if not out:
        return out
    remote = vteps(conn)
    if not remote.keys() - {host}:
        return out
    views = VIEWS.get(conn, revision, remote, list(out))
    for net_id, net in out.items():
        for on, entries in views[net_id].items():
            ip, types = remote[on]
            if on == host or (types is not None and net["network_type"] not in types):
                continue
            have = net["vteps"].get(ip)
            # two hosts claiming one address (a misconfiguration) share its entry
            net["vteps"][ip] = entries if have is None else sorted(
                have + entries, key=lambda e: (e["mac_address"], e["ip_address"] or ""))
    return out


def network_views(conn, remote, net_ids):
    """{network id: {host: [its ACTIVE, admin-up ports' {"mac_address", "ip_address"}]}} for
    the hosts among ``remote`` (live VTEPs) with a port on each network (two queries)."""
    out = {n: {} for n in net_ids}
    where = (P.c.network_id.in_(list(net_ids)), P.c.host.in_(list(remote)))
    for net_id, on in conn.execute(select(P.c.network_id, P.c.host).where(*where)
                                   .group_by(P.c.network_id, P.c.host)):
        out[net_id][on] = []
    for net_id, on, mac, ip in conn.execute(
            select(P.c.network_id, P.c.host, P.c.mac_address, A.c.ip_address)
            .outerjoin(A, A.c.port_id == P.c.id)
            .where(*where, P.c.status == "ACTIVE", P.c.admin_state_up.is_(True))
            .order_by(P.c.mac_address, A.c.ip_address)):
        out[net_id][on].append({"mac_address": mac, "ip_address": ip})
    return out


class NetworkViews:
    """``network_views`` as of one database revision and one set of live VTEPs: every write
    moves the revision, so a view cached for (revision, live VTEPs) is exact; liveness (time
    passing, no write) is checked on every call. Holds one revision at a time. Thread-safe.
    The lists handed out are shared: read them, never change them."""

    def __init__(self):
        self._lock = threading.Lock()
        self._key, self._views = None, {}

    def get(self, conn, revision, remote, net_ids):
        key = (revision, tuple(sorted((h, ip, tuple(sorted(t)) if t is not None else None)
                                      for h, (ip, t) in remote.items())))
        with self._lock:
            views = self._views if revision is not None and key == self._key else {}
            found = {n: views[n] for n in net_ids if n in views}
        missing = [n for n in net_ids if n not in found]
        if missing:
            fresh = network_views(conn, remote, missing)
            found.update(fresh)
            if revision is not None:
                with self._lock:
                    if key != self._key:
                        self._key, self._views = key, {}
                    self._views.update(fresh)
        return found


VIEWS = NetworkViews()
