"""The trunk service: Neutron's trunk API semantics (create, update, delete, add/remove/get
subports), in one transaction each, with subports bound to the parent's host. What it does
when ports change (deletion guard, subports following their parent, ``trunk_details``, the
trunk bridge in a parent's binding) is in callbacks.py."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

from sqlalchemy import delete, func, insert, select

from trunkline import constants as k
from trunkline import definitions
from trunkline import exceptions as exc
from trunkline.db import schema
from trunkline.plugins import common, events
from trunkline.services.trunk import callbacks, rules, status

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from trunkline.db.engine import Txn
    from trunkline.plugins.common import Context

T, S, P = schema.trunks, schema.subports, schema.ports
_SUBPORTS = common.ByIds(select(S.c.trunk_id, S.c.port_id, S.c.segmentation_type,
                                S.c.segmentation_id).order_by(S.c.position), S.c.trunk_id)


class TrunkPlugin(common.ResourcePlugin):
    resource = definitions.trunk
    table = T

    def __init__(self, plugins, can_trunk_bound_port=False):
        super().__init__(plugins)
        self.can_trunk_bound_port = can_trunk_bound_port
        callbacks.subscribe()

    # -- reading

    def fill(self, conn: Connection, dicts: list, wanted: Optional[set]) -> None:
        if common.wants(wanted, "sub_ports"):
            subs = subports_of(conn, [d["id"] for d in dicts])
            for d in dicts:
                d["sub_ports"] = subs.get(d["id"], [])

    def get_subports(self, conn: Connection, ctx: Context, trunk_id: str) -> dict:
        self.get_row(conn, trunk_id)
        return {"sub_ports": subports_of(conn, [trunk_id]).get(trunk_id, [])}

    # -- writing

    def create(self, txn: Txn, ctx: Context, res: dict) -> str:
        parent = rules.check_port_free(txn.conn, res["port_id"], parent=True,
                                       can_trunk_bound=self.can_trunk_bound_port)
        subports = rules.validate_subports(txn.conn, res.get("sub_ports") or [], parent.id)
        trunk_id = common.new_id()
        values = common.standard_values(txn, ctx, res, trunk_id, revision_number=0)
        values.update(admin_state_up=res["admin_state_up"], status=status.INITIAL,
                      port_id=parent.id)
        txn.execute(insert(T).values(**values))
        self._insert_subports(txn, trunk_id, subports, parent)
        events.publish(txn, "trunk", events.CREATE, [trunk_id], new={trunk_id: values})
        return trunk_id

    def update(self, txn: Txn, ctx: Context, trunk_id: str, res: dict,
               if_match: Optional[int] = None) -> str:
        row = self.get_row(txn.conn, trunk_id, for_update=True)
        common.check_revision(row, if_match)
        values = {key: res[key] for key in ("name", "description", "admin_state_up")
                  if key in res}
        common.bump(txn, T, trunk_id, values)
        events.publish(txn, "trunk", events.UPDATE, [trunk_id], old={trunk_id: row},
                       new={trunk_id: values}, changed=values)
        return trunk_id

    def delete(self, txn: Txn, ctx: Context, trunk_id: str, if_match: Optional[int] = None) -> None:
        row = self.get_row(txn.conn, trunk_id, for_update=True)
        common.check_revision(row, if_match)
        rules.check_manageable(row)
        parent = txn.execute(select(P).where(P.c.id == row.port_id)).first()
        if parent is not None and not rules.can_be_trunked(parent, self.can_trunk_bound_port):
            raise exc.TrunkInUse(trunk_id=trunk_id)
        txn.execute(delete(S).where(S.c.trunk_id == trunk_id))
        txn.execute(delete(T).where(T.c.id == trunk_id))
        common.delete_tags(txn, [trunk_id])
        events.publish(txn, "trunk", events.DELETE, [trunk_id], old={trunk_id: row})

    def add_subports(self, txn: Txn, ctx: Context, trunk_id: str, body: Any) -> str:
        subports = _sub_ports(body)
        row = self.get_row(txn.conn, trunk_id, for_update=True)
        rules.basic_validation(subports)
        subports = rules.validate_subports(txn.conn, subports, row.port_id)
        rules.check_manageable(row)
        if row.status == k.ERROR:
            raise exc.TrunkInErrorState(trunk_id=trunk_id)
        existing = {(stype, sid) for stype, sid in txn.execute(
            select(S.c.segmentation_type, S.c.segmentation_id).where(S.c.trunk_id == trunk_id))}
        for sub in subports:
            if (sub["segmentation_type"], sub["segmentation_id"]) in existing:
                raise exc.DuplicateSubPort(segmentation_type=sub["segmentation_type"],
                                           segmentation_id=sub["segmentation_id"],
                                           trunk_id=trunk_id)
        parent = txn.execute(select(P).where(P.c.id == row.port_id)).first()
        self._insert_subports(txn, trunk_id, subports, parent)
        status.subports_changed(txn, trunk_id)
        events.publish(txn, "trunk", events.UPDATE, [trunk_id], old={trunk_id: row},
                       changed={"sub_ports", "status"})
        return trunk_id

    def remove_subports(self, txn: Txn, ctx: Context, trunk_id: str, body: Any) -> str:
        subports = _sub_ports(body)
        row = self.get_row(txn.conn, trunk_id, for_update=True)
        rules.check_manageable(row)
        rules.basic_validation(subports)
        current = set(txn.execute(select(S.c.port_id).where(S.c.trunk_id == trunk_id))
                      .scalars())
        for sub in subports:
            if sub["port_id"] not in current:
                raise exc.SubPortNotFound(trunk_id=trunk_id, port_id=sub["port_id"])
        ids = [s["port_id"] for s in subports]
        if ids:
            ports = txn.execute(select(P).where(P.c.id.in_(ids))).all()
            txn.execute(delete(S).where(S.c.port_id.in_(ids)))
            events.publish(txn, "port", events.UPDATE, ids, old={r.id: r for r in ports},
                           changed={"trunk"})
        status.subports_changed(txn, trunk_id)
        events.publish(txn, "trunk", events.UPDATE, [trunk_id], old={trunk_id: row},
                       changed={"sub_ports", "status"})
        return trunk_id

    # -- helpers

    def _insert_subports(self, txn, trunk_id, subports, parent):
        if not subports:
            return
        start = txn.execute(select(func.coalesce(func.max(S.c.position), 0))
                            .where(S.c.trunk_id == trunk_id)).scalar()
        txn.execute(insert(S), [dict(sub, trunk_id=trunk_id, position=start + i + 1)
                                for i, sub in enumerate(subports)])
        ids = [s["port_id"] for s in subports]
        if parent is not None and parent.host:
            callbacks.bind_subports(txn, ids, parent.host)
        else:
            ports = txn.execute(select(P).where(P.c.id.in_(ids))).all()
            events.publish(txn, "port", events.UPDATE, ids, old={r.id: r for r in ports},
                           changed={"trunk"})


def subports_of(conn: Connection, trunk_ids: list) -> dict:
    """{trunk id: its subports as the API shows them, in the order they were added}."""
    if not trunk_ids:
        return {}
    out = {}
    listed = set(trunk_ids)
    for tid, pid, stype, sid in _SUBPORTS.raw(conn, trunk_ids):
        if tid not in listed:
            continue
        out.setdefault(tid, []).append({"segmentation_id": sid, "segmentation_type": stype,
                                        "port_id": pid})
    return out


def _sub_ports(body):
    if not isinstance(body, dict) or "sub_ports" not in body:
        raise exc.HTTPBadRequest("Unable to find 'sub_ports' in request body")
    return body["sub_ports"]
