"""L2 population, server side: which remote VTEPs and MACs a host needs for its tunnel networks
(the ``tunnels`` section of its desired state), and which hosts a port change concerns: when
the port's host is a VTEP (its live L2 agent has a ``tunnel_ip``), every host with a port on
the port's tunnel network, so their watches wake — and only those; otherwise its own host
alone, since no other host's ``tunnels`` lists the ports of a host without a VTEP.

A host's VTEP is the ``tunnel_ip`` in the configurations of its live L2 agent (Open vSwitch or
Linux bridge). Every function here costs a fixed number of queries whatever the number of
ports."""
from sqlalchemy import String, cast, select

from trunkline.channel import agents
from trunkline.db import schema

P, A, N, G = schema.ports, schema.ipallocations, schema.networks, schema.agents
TUNNEL_TYPES = ("vxlan", "gre")


def network_hosts(conn, network_ids, also=()):
    """The hosts whose L2 population a change of ports on ``also`` (the hosts they are or were
    bound to) alters: ``also`` plus, when one of them is a VTEP, every host with a port on one
    of ``network_ids`` that is a tunnel network (two queries)."""
    ids = sorted(set(n for n in network_ids if n))
    found = network_hosts_of(conn, ids) if ids and is_vtep(conn, also) else []
    return sorted(set(h for h in also if h) | set(found))


def port_hosts(conn, port_ids, also=()):
    """``network_hosts`` for the networks of the existing ports ``port_ids`` (two queries)."""
    found = network_hosts_of(conn, select(P.c.network_id).where(P.c.id.in_(list(port_ids)))) \
        if port_ids and is_vtep(conn, also) else []
    return sorted(set(h for h in also if h) | set(found))


def is_vtep(conn, hosts):
    """Is one of ``hosts`` a VTEP, i.e. does its live L2 agent report a ``tunnel_ip`` (one
    query)? Only such hosts' ports appear in other hosts' ``tunnels``."""
    hosts = sorted(set(h for h in hosts if h))
    if not hosts:
        return False
    return any(_tunnel_ip(conf) for conf in conn.execute(select(G.c.configurations).where(
        G.c.host.in_(hosts), G.c.agent_type.in_(agents.L2_AGENT_TYPES),
        G.c.heartbeat_at >= agents.alive_cutoff())).scalars())


def _tunnel_ip(conf):
    ip = (conf or {}).get("tunnel_ip")
    return ip if isinstance(ip, str) and ip else None


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
    query). Agents without a ``tunnel_ip`` string are left out by the database with a text
    match on the stored JSON (written by orjson, no spaces: ``"tunnel_ip":"``), cheaper than
    decoding a thousand agents' configurations on every state fetch; the decoded value is
    checked here."""
    out = {}
    for host, conf in conn.execute(select(G.c.host, G.c.configurations).where(
            G.c.agent_type.in_(agents.L2_AGENT_TYPES), G.c.heartbeat_at >= agents.alive_cutoff(),
            cast(G.c.configurations, String).contains('"tunnel_ip":"', autoescape=True))):
        ip, types = _tunnel_ip(conf), (conf or {}).get("tunnel_types")
        if ip:
            out[host] = (ip, set(types) if isinstance(types, list) else None)
    return out


def tunnels(conn, networks_by_host):
    """The ``tunnels`` section of the state of each host in ``networks_by_host`` ({host: the
    state's dicts of the networks of its ports}): per tunnel network it has a port on, the
    other live VTEPs with a port on it whose agent carries the network's type (its
    ``tunnel_types``) and their ACTIVE, admin-up ports' (MAC, IP)s. At most three queries
    whatever the number of hosts: VTEPs, which VTEP is on which network, the ACTIVE ports
    with their IPs."""
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
    where = (P.c.network_id.in_(wanted), P.c.host.in_(sorted(remote)))
    on = {}         # network -> the VTEP hosts with a port on it
    for net_id, vtep_host in conn.execute(select(P.c.network_id, P.c.host).where(*where)
                                          .group_by(P.c.network_id, P.c.host)):
        on.setdefault(net_id, []).append(vtep_host)
    entries = {}    # (network, VTEP host) -> its ACTIVE, admin-up ports' entries
    for net_id, vtep_host, mac, ip in conn.execute(
            select(P.c.network_id, P.c.host, P.c.mac_address, A.c.ip_address)
            .outerjoin(A, A.c.port_id == P.c.id)
            .where(*where, P.c.status == "ACTIVE", P.c.admin_state_up.is_(True))
            .order_by(P.c.mac_address, A.c.ip_address)):
        entries.setdefault((net_id, vtep_host), []).append(
            {"mac_address": mac, "ip_address": ip})
    for host, sections in out.items():
        for net_id, section in sections.items():
            for vtep_host in sorted(on.get(net_id, ())):
                ip, types = remote[vtep_host]
                # not itself; an agent that carries the network's type
                if vtep_host != host and (types is None or section["network_type"] in types):
                    section["vteps"].setdefault(ip, []).extend(
                        entries.get((net_id, vtep_host), ()))
    return out
