"""``GET /agent/v1/hosts/{H}/state``: what host H should look like, read in one snapshot with a
fixed number of queries whatever the number of ports (a host with a 4094-subport trunk is a
handful of SELECTs; one with ports and no trunk, on a tunnel network without other VTEPs,
five): the ports bound to H, the trunks whose parent is bound to H with their subports, the
networks those use, the remote VTEPs and MACs of its tunnel networks (channel/l2pop.py) and
(for DHCP agents) every network with a DHCP-enabled subnet with its subnets and ports."""
from sqlalchemy import select, union

from trunkline.channel import l2pop
from trunkline import names
from trunkline.db import schema
from trunkline.plugins.common import fast_rows

P, A, N, T, S, SN = (schema.ports, schema.ipallocations, schema.networks, schema.trunks,
                     schema.subports, schema.subnets)
O = schema.extradhcpopts
REV = schema.revision


def host_states(db, hosts: list, dhcp: bool = False) -> dict:
    """{host: its desired state} for several hosts at once, in one snapshot and with the
    queries of one: when a change concerns a thousand agents, their refetches are read in a
    few batches (channel/routes.py), not a thousand times."""
    hosts = sorted(set(hosts))
    with db.snapshot() as conn:
        revision = conn.execute(select(REV.c.value).where(REV.c.id == 1)).scalar_one()
        on_hosts = P.c.host.in_(hosts)
        ports = _ports(conn, on_hosts)
        trunks = _trunks(conn, hosts)
        net_ids = select(P.c.network_id).where(on_hosts)
        dhcp_nets = select(SN.c.network_id).where(SN.c.enable_dhcp.is_(True))
        if dhcp:
            net_ids = union(net_ids, dhcp_nets)
        networks = {r.id: _network(r) for r in fast_rows(conn.execute(
            select(N).where(N.c.id.in_(net_ids)).order_by(N.c.id)))}
        own = {h: sorted({p["network_id"] for p in ports.get(h, ())}) for h in hosts}
        tunnels = l2pop.tunnels(conn, {h: [networks[n] for n in own[h]] for h in hosts},
                                revision)
        dhcp_section = _dhcp(conn, networks, dhcp_nets) if dhcp else {}
    out = {}
    for host in hosts:
        used = set(own[host]) | set(dhcp_section)
        out[host] = {"revision": revision, "host": host,
                     "networks": {n: networks[n] for n in sorted(used)},
                     "ports": ports.get(host, []), "trunks": trunks.get(host, []),
                     "tunnels": tunnels[host]}
        if dhcp:
            out[host]["dhcp"] = dhcp_section
    return out


def _network(r):
    return {"id": r.id, "network_type": r.network_type,
            "physical_network": r.physical_network or None,
            "segmentation_id": r.segmentation_id or None, "mtu": r.mtu,
            "admin_state_up": r.admin_state_up}


def _fixed_ips(conn, stmt):
    out = {}
    for port_id, subnet_id, ip in conn.execute(stmt.order_by(A.c.subnet_id, A.c.ip_address)):
        out.setdefault(port_id, []).append({"subnet_id": subnet_id, "ip_address": ip})
    return out


def _ports(conn, on_hosts):
    """{host: the ports bound to it with their fixed IPs} (one query)."""
    out = {}
    last = None
    for r in fast_rows(conn.execute(
            select(P.c.host, P.c.id, P.c.network_id, P.c.mac_address, P.c.admin_state_up,
                   P.c.device_owner, P.c.status, A.c.subnet_id, A.c.ip_address)
            .outerjoin(A, A.c.port_id == P.c.id).where(on_hosts)
            .order_by(P.c.id, A.c.subnet_id, A.c.ip_address))):
        if last is None or last["id"] != r.id:
            last = {"id": r.id, "network_id": r.network_id, "mac_address": r.mac_address,
                    "admin_state_up": r.admin_state_up, "device_owner": r.device_owner,
                    "status": r.status, "fixed_ips": []}
            out.setdefault(r.host, []).append(last)
        if r.subnet_id is not None:
            last["fixed_ips"].append({"subnet_id": r.subnet_id, "ip_address": r.ip_address})
    return out


# built once: an alias's column collection costs milliseconds to set up on every call
PARENT, SUB = P.alias("parent"), P.alias("sub")


def _trunks(conn, hosts):
    """{host: the trunks whose parent is bound to it, with their subports} (two queries)."""
    parent, sub = PARENT, SUB
    rows = fast_rows(conn.execute(
        select(parent.c.host, T.c.id, T.c.port_id, T.c.admin_state_up, T.c.status)
        .join(parent, parent.c.id == T.c.port_id).where(parent.c.host.in_(hosts))
        .order_by(T.c.id)))
    if not rows:
        return {}
    subports = {}
    for r in fast_rows(conn.execute(
            select(S.c.trunk_id, S.c.port_id, S.c.segmentation_type, S.c.segmentation_id,
                   sub.c.mac_address, sub.c.network_id)
            .join(T, T.c.id == S.c.trunk_id).join(parent, parent.c.id == T.c.port_id)
            .join(sub, sub.c.id == S.c.port_id).where(parent.c.host.in_(hosts))
            .order_by(S.c.trunk_id, S.c.position))):
        subports.setdefault(r.trunk_id, []).append({
            "port_id": r.port_id, "segmentation_type": r.segmentation_type,
            "segmentation_id": r.segmentation_id, "mac_address": r.mac_address,
            "network_id": r.network_id})
    out = {}
    for r in rows:
        out.setdefault(r.host, []).append({
            "id": r.id, "port_id": r.port_id, "admin_state_up": r.admin_state_up,
            "status": r.status, "bridge_name": names.trunk_bridge(r.id),
            "sub_ports": subports.get(r.id, [])})
    return out


def _dhcp(conn, networks, dhcp_nets):
    """Every network with a DHCP-enabled subnet: its subnets and all its ports (with their
    extra DHCP options, when they have any)."""
    out = {}
    for r in fast_rows(conn.execute(select(N.c.id).where(N.c.id.in_(dhcp_nets)))):
        out[r.id] = {"network": networks[r.id], "subnets": [], "ports": []}
    for r in fast_rows(conn.execute(
            select(SN).where(SN.c.network_id.in_(dhcp_nets)).order_by(SN.c.id))):
        out[r.network_id]["subnets"].append({
            "id": r.id, "cidr": r.cidr, "ip_version": r.ip_version, "gateway_ip": r.gateway_ip,
            "enable_dhcp": r.enable_dhcp, "dns_nameservers": r.dns_nameservers,
            "host_routes": r.host_routes, "ipv6_address_mode": r.ipv6_address_mode})
    ips = _fixed_ips(conn, select(A.c.port_id, A.c.subnet_id, A.c.ip_address)
                     .where(A.c.network_id.in_(dhcp_nets)))
    opts = {}
    for r in fast_rows(conn.execute(
            select(O.c.port_id, O.c.opt_name, O.c.opt_value, O.c.ip_version)
            .join(P, P.c.id == O.c.port_id).where(P.c.network_id.in_(dhcp_nets))
            .order_by(O.c.port_id, O.c.opt_name, O.c.ip_version))):
        opts.setdefault(r.port_id, []).append({
            "opt_name": r.opt_name, "opt_value": r.opt_value, "ip_version": r.ip_version})
    for r in fast_rows(conn.execute(
            select(P.c.id, P.c.network_id, P.c.mac_address, P.c.device_owner)
            .where(P.c.network_id.in_(dhcp_nets)).order_by(P.c.id))):
        port = {"id": r.id, "mac_address": r.mac_address, "fixed_ips": ips.get(r.id, []),
                "device_owner": r.device_owner}
        if r.id in opts:
            port["extra_dhcp_opts"] = opts[r.id]
        out[r.network_id]["ports"].append(port)
    return out
