"""Network segments: validating provider attributes and allocating tenant segments (VXLAN VNIs,
GRE keys, VLAN ids) from the configured ranges, and the MTU each type leaves for tenants."""
from sqlalchemy import select

from trunkline import exceptions as exc
from trunkline.db import schema

VXLAN_OVERHEAD = 50   # 30 bytes of VXLAN/UDP/outer Ethernet + 20 of IPv4
GRE_OVERHEAD = 42     # 22 + 20
MAX_VNI = 2 ** 24 - 1
MAX_GRE = 2 ** 32 - 1


def max_mtu(cfg, network_type: str) -> int:
    return cfg.global_physnet_mtu - {"vxlan": VXLAN_OVERHEAD, "gre": GRE_OVERHEAD}.get(
        network_type, 0)


def _invalid(msg):
    return exc.InvalidInput(error_message=msg)


def segment_for(conn, cfg, res: dict) -> tuple:
    """Return (network_type, physical_network, segmentation_id) for a new network."""
    ntype = res.get("provider:network_type")
    physnet = res.get("provider:physical_network")
    seg_id = res.get("provider:segmentation_id")
    if ntype is None:
        if physnet is not None or seg_id is not None:
            raise _invalid("network_type required")
        if not cfg.tenant_network_types:
            raise exc.NoNetworkAvailable()
        for tenant_type in cfg.tenant_network_types[:-1]:
            try:
                return _allocate(conn, cfg, tenant_type, None)
            except exc.NoNetworkAvailable:
                continue  # ML2 tries the next tenant network type
        return _allocate(conn, cfg, cfg.tenant_network_types[-1], None)
    if ntype not in cfg.type_drivers:
        raise _invalid("network_type value '%s' not supported" % ntype)
    if ntype in ("vxlan", "gre"):
        if physnet is not None:
            raise _invalid("provider:physical_network specified for %s network" % ntype.upper())
        if seg_id is None:
            return _allocate(conn, cfg, ntype, None)
        top = MAX_VNI if ntype == "vxlan" else MAX_GRE
        if not 1 <= seg_id <= top:
            raise _invalid("%(id)s is not a valid %(type)s tunnel ID" % {
                "id": seg_id, "type": ntype.upper()})
        _ensure_free(conn, ntype, "", seg_id, tunnel=True)
        return ntype, "", seg_id
    if ntype == "vlan":
        if physnet is None:
            if not cfg.network_vlan_ranges:
                raise _invalid("physical_network required for VLAN provider network")
            if seg_id is not None:
                raise _invalid("segmentation_id requires physical_network for VLAN provider "
                               "network")
            return _allocate(conn, cfg, "vlan", None)
        if physnet not in cfg.network_vlan_ranges:
            raise _invalid("physical_network '%s' unknown for VLAN provider network" % physnet)
        if seg_id is None:
            return _allocate(conn, cfg, "vlan", physnet)
        if not 1 <= seg_id <= 4094:
            raise _invalid("segmentation_id out of range (1 through 4094)")
        _ensure_free(conn, "vlan", physnet, seg_id)
        return "vlan", physnet, seg_id
    if ntype == "flat":
        if seg_id is not None:
            raise _invalid("segmentation_id specified for flat provider network")
        if physnet is None:
            raise _invalid("physical_network required for flat provider network")
        if "*" not in cfg.flat_networks and physnet not in cfg.flat_networks:
            raise _invalid("physical_network '%s' unknown for flat provider network" % physnet)
        n = schema.networks
        taken = conn.execute(select(n.c.id).where(
            n.c.network_type == "flat", n.c.physical_network == physnet)).first()
        if taken:
            raise exc.InUse("Unable to create the flat network. Physical network %s is in use."
                            % physnet)
        return "flat", physnet, 0
    raise _invalid("network_type value '%s' not supported" % ntype)


def _ensure_free(conn, ntype, physnet, seg_id, tunnel=False):
    n = schema.networks
    taken = conn.execute(select(n.c.id).where(
        n.c.network_type == ntype, n.c.physical_network == physnet,
        n.c.segmentation_id == seg_id)).first()
    if taken:
        if tunnel:
            raise exc.TunnelIdInUse(tunnel_id=seg_id)
        raise exc.VlanIdInUse(vlan_id=seg_id, physical_network=physnet)


def _allocate(conn, cfg, ntype, physnet):
    if ntype == "vlan":
        candidates = ([physnet] if physnet else list(cfg.network_vlan_ranges))
        for net in candidates:
            seg = _first_free(conn, "vlan", net, cfg.network_vlan_ranges.get(net, ()))
            if seg is not None:
                return "vlan", net, seg
        raise exc.NoNetworkAvailable()
    ranges = cfg.vni_ranges if ntype == "vxlan" else cfg.gre_ranges
    seg = _first_free(conn, ntype, "", ranges)
    if seg is None:
        raise exc.NoNetworkAvailable()
    return ntype, "", seg


def _first_free(conn, ntype, physnet, ranges):
    n = schema.networks
    used = set(conn.execute(select(n.c.segmentation_id).where(
        n.c.network_type == ntype, n.c.physical_network == physnet)).scalars())
    for low, high in ranges:
        for seg in range(low, high + 1):
            if seg not in used:
                return seg
    return None
