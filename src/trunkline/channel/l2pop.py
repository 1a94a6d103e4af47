"""L2 population, server side: which remote VTEPs and MACs a host needs for its tunnel networks
(the ``tunnels`` section of its desired state), and which hosts a port change concerns: when
the port's host is a VTEP (its live L2 agent has a ``tunnel_ip``), every host with a port on
the port's tunnel network, so their watches wake — and only those; otherwise its own host
alone, since no other host's ``tunnels`` lists the ports of a host without a VTEP.

A host's VTEP is the ``tunnel_ip`` in the configurations of its live L2 agent (Open vSwitch or
Linux bridge). Every function here costs a fixed number of queries whatever the number of
ports; the per-network part of ``tunnels`` is computed once per database revision
(``NetworkViews``)."""
from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Iterable, Optional

from sqlalchemy import String, cast, select

from trunkline import constants as k
from trunkline.plugins import agents
from trunkline.db import schema

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

P, A, N, G = schema.ports, schema.ipallocations, schema.networks, schema.agents
TUNNEL_TYPES = ("vxlan", "gre")


def network_hosts(conn: Connection, network_ids: Iterable[str],
                  also: Iterable[str] = ()) -> list:
    """The hosts whose L2 population a change of ports on ``also`` (the hosts they are or were
    bound to) alters: ``also`` plus, when one of them is a VTEP, every host with a port on one
    of ``network_ids`` that is a tunnel network (two queries)."""
    ids = sorted(set(n for n in network_ids if n))
    found = network_hosts_of(conn, ids) if ids and is_vtep(conn, also) else []
    return sorted(set(h for h in also if h) | set(found))


def port_hosts(conn: Connection, port_ids: list, also: Iterable[str] = ()) -> list:
    """``network_hosts`` for the networks of the existing ports ``port_ids`` (two queries)."""
    found = network_hosts_of(conn, select(P.c.network_id).where(P.c.id.in_(list(port_ids)))) \
        if port_ids and is_vtep(conn, also) else []
    return sorted(set(h for h in also if h) | set(found))


def is_vtep(conn: Connection, hosts: Iterable[str]) -> bool:
    """Is one of ``hosts`` a VTEP, i.e. does its live L2 agent report a ``tunnel_ip`` (one
    query)? Only such hosts' ports appear in other hosts' ``tunnels``."""
    hosts = sorted(set(h for h in hosts if h))
    if not hosts:
        return False
    return any(_tunnel_ip(conf) for conf in conn.execute(select(G.c.configurations).where(
        G.c.host.in_(hosts), G.c.agent_type.in_(k.L2_AGENT_TYPES),
        G.c.heartbeat_at >= agents.alive_cutoff())).scalars())


def _tunnel_ip(conf):
    ip = (conf or {}).get("tunnel_ip")
    return ip if isinstance(ip, str) and ip else None


def first_on_host(conn: Connection, network_id: str, host: str, port_id: str) -> bool:
    """Is ``port_id`` the only port of ``host`` on ``network_id`` (one query)? Its arrival or
    departure then adds or removes the host as a VTEP of the network."""
    return conn.execute(select(P.c.id).where(
        P.c.network_id == network_id, P.c.host == host, P.c.id != port_id).limit(1)).first() \
        is None


def neighbour_hosts(conn: Connection, host: str) -> list:
    """The hosts sharing a tunnel network with ``host`` (one query): they must learn when its
    VTEP appears, comes back or moves."""
    own_nets = select(P.c.network_id).where(P.c.host == host)
    return network_hosts_of(conn, own_nets, exclude=host)


def network_hosts_of(conn: Connection, nets, exclude: Optional[str] = None) -> list:
    """The hosts with a port on the tunnel networks among ``nets`` (ids or a subquery)."""
    stmt = (select(P.c.host).distinct().join(N, N.c.id == P.c.network_id)
            .where(P.c.network_id.in_(nets), N.c.network_type.in_(TUNNEL_TYPES), P.c.host != ""))
    return sorted(h for h in conn.execute(stmt).scalars() if h != exclude)


def vteps(conn: Connection) -> dict:
    """{host: (tunnel_ip, tunnel types or None = any)} of the live L2 agents that tunnel (one
    query). Agents without a ``tunnel_ip`` string are left out by the database with a text
    match on the stored JSON (written by orjson, no spaces: ``"tunnel_ip":"``), cheaper than
    decoding a thousand agents' configurations on every state fetch; the decoded value is
    checked here."""
    out = {}
    for host, conf in conn.execute(select(G.c.host, G.c.configurations).where(
            G.c.agent_type.in_(k.L2_AGENT_TYPES), G.c.heartbeat_at >= agents.alive_cutoff(),
            cast(G.c.configurations, String).contains('"tunnel_ip":"', autoescape=True))):
        ip, types = _tunnel_ip(conf), (conf or {}).get("tunnel_types")
        if ip:
            out[host] = (ip, set(types) if isinstance(types, list) else None)
    return out


def tunnels(conn: Connection, networks_by_host: dict, revision: Optional[int] = None) -> dict:
    """The ``tunnels`` section of the state of each host in ``networks_by_host`` ({host: the
    state's dicts of the networks of its ports}): per tunnel network it has a port on, the
    other live VTEPs with a port on it whose agent carries the network's type (its
    ``tunnel_types``) and their ACTIVE, admin-up ports' (MAC, IP)s.

    One query (the live VTEPs) per call whatever the number of hosts; the per-network part
    (which VTEP is on which network, the ACTIVE ports with their IPs: two queries over every
    port of the networks) is shared by every call at the same database ``revision`` with the
    same live VTEPs (``NetworkViews``): the hosts one change wakes all ask at one revision,
    and the network's part is the same for all of them but for their own entry."""
    out = {host: {n["id"]: {"network_type": n["network_type"],
                            "segmentation_id": n["segmentation_id"], "vteps": {}}
                  for n in nets if n["network_type"] in TUNNEL_TYPES}
           for host, nets in networks_by_host.items()}
    wanted = sorted({net_id for sections in out.values() for net_id in sections})
    if not wanted:
        return out
    remote = vteps(conn)
    if not remote:
        return out
    views = VIEWS.get(conn, revision, remote, wanted)
    for host, sections in out.items():
        for net_id, section in sections.items():
            for vtep_host, entries in sorted(views[net_id].items()):
                ip, types = remote[vtep_host]
                # not itself; an agent that carries the network's type
                if vtep_host != host and (types is None or section["network_type"] in types):
                    section["vteps"].setdefault(ip, []).extend(entries)
    return out


def network_views(conn: Connection, remote: dict, net_ids: list) -> dict:
    """{network id: {host: [its ACTIVE, admin-up ports' {"mac_address", "ip_address"}]}} for
    the hosts among ``remote`` (live VTEPs) with a port on each network (two queries)."""
    out = {n: {} for n in net_ids}
    where = (P.c.network_id.in_(list(net_ids)), P.c.host.in_(sorted(remote)))
    for net_id, on in conn.execute(select(P.c.network_id, P.c.host).where(*where)
                                   .group_by(P.c.network_id, P.c.host)):
        out[net_id][on] = []
    for net_id, on, mac, ip in conn.execute(
            select(P.c.network_id, P.c.host, P.c.mac_address, A.c.ip_address)
            .outerjoin(A, A.c.port_id == P.c.id)
            .where(*where, P.c.status == k.ACTIVE, P.c.admin_state_up.is_(True))
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

    def get(self, conn: Connection, revision: Optional[int], remote: dict, net_ids: list) -> dict:
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
