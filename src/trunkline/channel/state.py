"""``GET /agent/v1/hosts/{H}/state``: what host H should look like, read in one snapshot with a
fixed number of queries whatever the number of ports (a host with a 4094-subport trunk is a
handful of SELECTs; one with ports and no trunk, on a tunnel network without other VTEPs,
five): the ports bound to H, the trunks whose parent is bound to H with their subports, the
networks those use, the remote VTEPs and MACs of its tunnel networks (channel/l2pop.py) and
(for DHCP agents) every network with a DHCP-enabled subnet with its subnets and ports."""
from sqlalchemy import select, union

from trunkline.channel import l2pop
from trunkline.channel.binding import trunk_bridge
from trunkline.db import schema
from trunkline.plugins.common import fast_rows

P, A, N, T, S, SN = (schema.ports, schema.ipallocations, schema.networks, schema.trunks,
                     schema.subports, schema.subnets)
REV = schema.revision


def host_state(db, host, dhcp=False):
    with db.snapshot() as conn:
        revision = conn.execute(select(REV.c.value).where(REV.c.id == 1)).scalar_one()
        on_host = P.c.host == host
        ports = _ports(conn, on_host)
        trunks = _trunks(conn, host)
        net_ids = select(P.c.network_id).where(on_host)
        dhcp_nets = select(SN.c.network_id).where(SN.c.enable_dhcp.is_(True))
        if dhcp:
            net_ids = union(net_ids, dhcp_nets)
        networks = {r.id: _network(r) for r in fast_rows(conn.execute(
            select(N).where(N.c.id.in_(net_ids)).order_by(N.c.id)))}
        own = {p["network_id"] for p in ports}
        state = {"revision": revision, "host": host, "networks": networks, "ports": ports,
                 "trunks": trunks,
                 "tunnels": l2pop.tunnels(conn, host, [networks[n] for n in sorted(own)])}
        if dhcp:
            state["dhcp"] = _dhcp(conn, networks, dhcp_nets)
    return state


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


def _ports(conn, on_host):
    """The ports bound to the host with their fixed IPs (one query)."""
    out = []
    for r in fast_rows(conn.execute(
            select(P.c.id, P.c.network_id, P.c.mac_address, P.c.admin_state_up,
                   P.c.device_owner, P.c.status, A.c.subnet_id, A.c.ip_address)
            .outerjoin(A, A.c.port_id == P.c.id).where(on_host)
            .order_by(P.c.id, A.c.subnet_id, A.c.ip_address))):
        if not out or out[-1]["id"] != r.id:
            out.append({"id": r.id, "network_id": r.network_id, "mac_address": r.mac_address,
                        "admin_state_up": r.admin_state_up, "device_owner": r.device_owner,
                        "status": r.status, "fixed_ips": []})
        if r.subnet_id is not None:
            out[-1]["fixed_ips"].append({"subnet_id": r.subnet_id, "ip_address": r.ip_address})
    return out


# built once: an alias's column collection costs milliseconds to set up on every call
PARENT, SUB = P.alias("parent"), P.alias("sub")


def _trunks(conn, host):
    parent, sub = PARENT, SUB
    rows = fast_rows(conn.execute(
        select(T.c.id, T.c.port_id, T.c.admin_state_up, T.c.status)
        .join(parent, parent.c.id == T.c.port_id).where(parent.c.host == host)
        .order_by(T.c.id)))
    if not rows:
        return []
    subports = {}
    for r in fast_rows(conn.execute(
            select(S.c.trunk_id, S.c.port_id, S.c.segmentation_type, S.c.segmentation_id,
                   sub.c.mac_address, sub.c.network_id)
            .join(T, T.c.id == S.c.trunk_id).join(parent, parent.c.id == T.c.port_id)
            .join(sub, sub.c.id == S.c.port_id).where(parent.c.host == host)
            .order_by(S.c.trunk_id, S.c.position))):
        subports.setdefault(r.trunk_id, []).append({
            "port_id": r.port_id, "segmentation_type": r.segmentation_type,
            "segmentation_id": r.segmentation_id, "mac_address": r.mac_address,
            "network_id": r.network_id})
    return [{"id": r.id, "port_id": r.port_id, "admin_state_up": r.admin_state_up,
             "status": r.status, "bridge_name": trunk_bridge(r.id),
             "sub_ports": subports.get(r.id, [])} for r in rows]


def _dhcp(conn, networks, dhcp_nets):
    """Every network with a DHCP-enabled subnet: its subnets and all its ports."""
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
    for r in fast_rows(conn.execute(
            select(P.c.id, P.c.network_id, P.c.mac_address, P.c.device_owner)
            .where(P.c.network_id.in_(dhcp_nets)).order_by(P.c.id))):
        out[r.network_id]["ports"].append({
            "id": r.id, "mac_address": r.mac_address, "fixed_ips": ips.get(r.id, []),
            "device_owner": r.device_owner})
    return out
