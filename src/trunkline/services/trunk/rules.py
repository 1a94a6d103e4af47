"""Trunk validation without persistence, in Neutron's order (its trunk rules module):
which port may be a parent, which ports may be subports, segmentation types and ranges, MTU.
Every function reads; none writes."""
from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select

from trunkline import constants as k
from trunkline import exceptions as exc
from trunkline.db import schema
from trunkline import definitions
from trunkline.definitions import validators

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Row

P, N, T, S = schema.ports, schema.networks, schema.trunks, schema.subports

TRUNK_BOUND_VIF_TYPES = {k.VIF_TYPE_BRIDGE}  # the Linux bridge trunk driver: can_trunk_bound_port
SEGMENTATION_TYPES = {"vlan": lambda seg_id: 1 <= seg_id <= 4094}


def _invalid(msg):
    return exc.InvalidInput(error_message=msg)


def check_port_free(conn: Connection, port_id: str, parent: bool,
                    can_trunk_bound: bool = False) -> Row:
    """TrunkPortValidator.validate: not already a subport, not already a parent; a parent must
    exist (and be unbound unless the driver trunks bound ports); a subport must have no device."""
    return _check_free(_usage(conn, [port_id]), port_id, parent, can_trunk_bound)


def _usage(conn, port_ids):
    """What the checks need about ``port_ids``, in three queries however many ports."""
    ids = list(set(port_ids))
    in_subports = set(conn.execute(select(S.c.port_id).where(S.c.port_id.in_(ids))).scalars())
    in_parents = set(conn.execute(select(T.c.port_id).where(T.c.port_id.in_(ids))).scalars())
    ports = {row.id: row for row in conn.execute(select(P).where(P.c.id.in_(ids)))}
    return in_subports, in_parents, ports


def _check_free(usage, port_id, parent, can_trunk_bound=False):
    in_subports, in_parents, ports = usage
    if port_id in in_subports:
        raise exc.TrunkPortInUse(port_id=port_id)
    if port_id in in_parents:
        raise exc.ParentPortInUse(port_id=port_id)
    port = ports.get(port_id)
    if port is None:
        raise definitions.port.not_found(port_id)
    if parent:
        if not can_be_trunked(port, can_trunk_bound):
            raise exc.ParentPortInUse(port_id=port_id)
    elif port.device_id:
        raise exc.PortInUse(net_id=port.network_id, port_id=port_id, device_id=port.device_id)
    return port


def is_bound(port: Row) -> bool:
    """Neutron's test: a port with a binding:host_id is bound, whatever its vif_type."""
    return bool(port.host)


def can_be_trunked(port: Row, can_trunk_bound: bool = False) -> bool:
    """Neutron's can_be_trunked_or_untrunked: an unbound port always; a bound one when the trunk
    driver of its vif_type trunks bound ports (Linux bridge's does, Open vSwitch's does not)."""
    return not is_bound(port) or can_trunk_bound or port.vif_type in TRUNK_BOUND_VIF_TYPES


def basic_validation(subports: list) -> None:
    reason = validators.subports(subports)
    if reason:
        raise _invalid(reason)


def validate_subports(conn: Connection, subports: list, parent_id: str) -> list:
    """SubPortsValidator.validate with trunk validation: returns normalised subport dicts."""
    ids = [s["port_id"] for s in subports]
    mtus = _mtus(conn, ids + [parent_id])
    segments = _segments(conn, ids) if any(
        s.get("segmentation_type") == "inherit" for s in subports) else {}
    parent_mtu = mtus.get(parent_id)
    usage = _usage(conn, ids)
    result = []
    for sub in subports:
        port_id = sub["port_id"]
        if port_id == parent_id:
            raise exc.ParentPortInUse(port_id=port_id)
        port_mtu = mtus.get(port_id)
        if parent_mtu and port_mtu and port_mtu > parent_mtu:
            raise exc.SubPortMtuGreaterThanTrunkPortMtu(
                port_id=port_id, port_mtu=port_mtu, trunk_id=parent_id, trunk_mtu=parent_mtu)
        if sub.get("segmentation_type") == "inherit" and port_id in segments:
            sub = dict(sub, segmentation_type=segments[port_id][0],
                       segmentation_id=segments[port_id][1])
        if "segmentation_type" not in sub or "segmentation_id" not in sub:
            raise _invalid("Invalid subport details '%s': missing segmentation information. "
                           "Must specify both segmentation_id and segmentation_type"
                           % _repr(sub))
        seg_type = sub["segmentation_type"]
        try:
            seg_id = int(sub["segmentation_id"])  # as Neutron: true is 1, 5.5 is 5
        except (TypeError, ValueError):
            raise _invalid("Invalid subport details: segmentation_id '%s' is not an integer"
                           % sub["segmentation_id"])
        if seg_type not in SEGMENTATION_TYPES:
            raise _invalid("Unknown segmentation_type '%s'" % seg_type)
        if not SEGMENTATION_TYPES[seg_type](seg_id):
            raise _invalid("Segmentation ID '%s' is not in range" % seg_id)
        _check_free(usage, port_id, parent=False)
        result.append({"port_id": port_id, "segmentation_type": seg_type,
                       "segmentation_id": seg_id})
    return result


def _repr(sub):
    """Python's dict repr, as Neutron's message prints it."""
    return repr({k: v for k, v in sub.items()})


def _mtus(conn, port_ids):
    rows = conn.execute(select(P.c.id, N.c.mtu).join(N, N.c.id == P.c.network_id)
                        .where(P.c.id.in_(port_ids)))
    return dict(rows.all())


def _segments(conn, port_ids):
    rows = conn.execute(select(P.c.id, N.c.network_type, N.c.segmentation_id)
                        .join(N, N.c.id == P.c.network_id).where(P.c.id.in_(port_ids)))
    return {pid: (ntype, seg) for pid, ntype, seg in rows}


def check_manageable(trunk: Row) -> None:
    if not trunk.admin_state_up:
        raise exc.TrunkDisabled(trunk_id=trunk.id)
