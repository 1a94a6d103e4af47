"""What the trunk service does when the core changes ports, subscribed to the core's events
(plugins/events.py) the way Neutron's trunk plugin subscribes to its callbacks:

- a port that is a trunk's parent or subport cannot be deleted (before delete);
- a parent that moves to another host (or is unbound) takes its trunk DOWN and its subports
  along to the new host (after update);
- a parent's answer carries ``trunk_details`` (dict extender);
- a parent bound on an Open vSwitch host is plugged into its trunk bridge ``tbr-<trunk id>``,
  which os-vif creates (binding extender: ``binding:vif_details.bridge_name``).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

from sqlalchemy import case, select, update

from trunkline import constants as k
from trunkline import exceptions as exc
from trunkline import names
from trunkline.db import schema
from trunkline.plugins import common, events
from trunkline.services.trunk import status

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from trunkline.db.engine import Txn
    from trunkline.plugins.events import Change

T, S, P = schema.trunks, schema.subports, schema.ports
_PARENTS = common.ByIds(select(T.c.id, T.c.port_id), T.c.port_id)


def subscribe() -> None:
    events.subscribe(events.BEFORE, "port", events.DELETE, refuse_trunk_port_delete)
    events.subscribe(events.AFTER, "port", events.UPDATE, parent_moved)
    events.extend_dicts("port", trunk_details)
    events.extend_binding(trunk_bridge)


def refuse_trunk_port_delete(txn: Txn, change: Change) -> None:
    for port_id in change.ids:
        trunk_id = txn.execute(select(T.c.id).where(T.c.port_id == port_id)).scalar()
        if trunk_id:
            raise exc.PortInUseAsTrunkParent(port_id=port_id, trunk_id=trunk_id)
        trunk_id = txn.execute(select(S.c.trunk_id).where(S.c.port_id == port_id)).scalar()
        if trunk_id:
            raise exc.PortInUseAsSubPort(port_id=port_id, trunk_id=trunk_id)


def parent_moved(txn: Txn, change: Change) -> None:
    """A trunk parent bound to another host (or unbound): trunk DOWN, subports follow (what
    Neutron's trunk driver does once the agent wires the parent; trunkline does it at once)."""
    if "host" not in change.changed:
        return
    for port_id in change.ids:
        old, new = change.old[port_id].host, change.value(port_id, "host")
        if old == new:
            continue
        status.parent_moved(txn, port_id)
        if new:
            ids = list(txn.execute(select(S.c.port_id).join(T, T.c.id == S.c.trunk_id)
                                   .where(T.c.port_id == port_id)).scalars())
            bind_subports(txn, ids, new)


def bind_subports(txn: Txn, port_ids: list, host: str) -> None:
    """Subports live where their parent lives: same host, device_owner trunk:subport; one that
    moves host is DOWN until the new host's agent wires it."""
    if not port_ids:
        return
    old = {r.id: r for r in txn.execute(select(P).where(P.c.id.in_(port_ids)))}
    txn.execute(update(P).where(P.c.id.in_(port_ids)).values(
        host=host, device_owner=k.OWNER_TRUNK_SUBPORT, updated_at=txn.now,
        status=case((P.c.host != host, k.DOWN), else_=P.c.status),
        revision_number=P.c.revision_number + 1))
    events.publish(txn, "port", events.UPDATE, port_ids, old=old,
                   new={pid: {"host": host} for pid in port_ids},
                   changed={"host", "device_owner", "status", "trunk"})


def trunk_details(conn: Connection, dicts: list, wanted: Optional[set]) -> None:
    """``trunk_details`` of the ports that are trunk parents (two queries)."""
    if not common.wants(wanted, "trunk_details") or not dicts:
        return
    ids = [d["id"] for d in dicts]
    listed = set(ids)
    wanted_parents = {pid: tid for tid, pid in _PARENTS.raw(conn, ids) if pid in listed}
    if not wanted_parents:
        return
    details = {pid: {"trunk_id": tid, "sub_ports": []} for pid, tid in wanted_parents.items()}
    by_trunk = {tid: pid for pid, tid in wanted_parents.items()}
    rows = conn.execute(
        select(S.c.trunk_id, S.c.port_id, S.c.segmentation_type, S.c.segmentation_id,
               P.c.mac_address).join(P, P.c.id == S.c.port_id)
        .where(S.c.trunk_id.in_(list(by_trunk))).order_by(S.c.position))
    for tid, pid, stype, sid, mac in rows:
        details[by_trunk[tid]]["sub_ports"].append({
            "segmentation_id": sid, "segmentation_type": stype, "port_id": pid,
            "mac_address": mac})
    for d in dicts:
        if d["id"] in details:
            d["trunk_details"] = details[d["id"]]


def trunk_bridge(conn: Connection, port_ids: list, agent: Any) -> dict:
    """A trunk parent on an Open vSwitch host is plugged into its trunk bridge."""
    if agent.agent_type != k.AGENT_OVS or not port_ids:
        return {}
    return {pid: {"bridge_name": names.trunk_bridge(tid)} for pid, tid in conn.execute(
        select(T.c.port_id, T.c.id).where(T.c.port_id.in_(list(port_ids))))}
