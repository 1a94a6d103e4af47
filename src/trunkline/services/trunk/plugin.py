"""The trunk service: Neutron's trunk API semantics (create, update, delete, add/remove/get
subports), in one transaction each, with subports bound to the parent's host."""
from sqlalchemy import case, delete, func, insert, select, update

from trunkline import definitions
from trunkline import exceptions as exc
from trunkline.db import schema
from trunkline.plugins import common
from trunkline.services.trunk import rules, status

T, S, P = schema.trunks, schema.subports, schema.ports
SUBPORT_OWNER = "trunk:subport"


class TrunkPlugin:
    resource = definitions.trunk
    table = T

    def __init__(self, can_trunk_bound_port=False):
        self.can_trunk_bound_port = can_trunk_bound_port

    # -- reading

    def dicts(self, conn, rows):
        ids = [r.id for r in rows]
        tags = common.load_tags(conn, ids)
        subs = self.subports_of(conn, ids)
        out = []
        for r in rows:
            d = common.standard_dict(r, tags)
            d.update({"admin_state_up": r.admin_state_up, "status": r.status,
                      "port_id": r.port_id, "sub_ports": subs.get(r.id, [])})
            out.append(d)
        return out

    @staticmethod
    def subports_of(conn, trunk_ids):
        if not trunk_ids:
            return {}
        stmt = common.restrict(
            select(S.c.trunk_id, S.c.port_id, S.c.segmentation_type, S.c.segmentation_id),
            S.c.trunk_id, trunk_ids)
        out = {}
        for tid, pid, stype, sid in conn.execute(stmt.order_by(S.c.position)):
            out.setdefault(tid, []).append({"segmentation_id": sid, "segmentation_type": stype,
                                            "port_id": pid})
        return out

    def list(self, conn, ctx, q):
        return self.dicts(conn, common.select_rows(conn, T, self.resource, q))

    def get_row(self, conn, trunk_id, for_update=False):
        return common.get_row(conn, T, trunk_id, exc.TrunkNotFound(trunk_id=trunk_id),
                              for_update=for_update)

    def get(self, conn, ctx, trunk_id):
        return self.dicts(conn, [self.get_row(conn, trunk_id)])[0]

    def get_subports(self, conn, ctx, trunk_id):
        self.get_row(conn, trunk_id)
        return {"sub_ports": self.subports_of(conn, [trunk_id]).get(trunk_id, [])}

    # -- writing

    def create(self, txn, ctx, res):
        parent = rules.check_port_free(txn.conn, res["port_id"], parent=True,
                                       can_trunk_bound=self.can_trunk_bound_port)
        subports = rules.validate_subports(txn.conn, res.get("sub_ports") or [], parent.id)
        trunk_id = common.new_id()
        values = common.standard_values(txn, ctx, res, trunk_id, revision_number=0)
        values.update(admin_state_up=res["admin_state_up"], status=status.INITIAL,
                      port_id=parent.id)
        txn.execute(insert(T).values(**values))
        self._insert_subports(txn, trunk_id, subports, parent)
        txn.record("trunk", trunk_id, "create", [parent.host])
        return trunk_id

    def update(self, txn, ctx, trunk_id, res, if_match=None):
        row = self.get_row(txn.conn, trunk_id, for_update=True)
        common.check_revision(row, if_match)
        values = {k: res[k] for k in ("name", "description", "admin_state_up") if k in res}
        common.bump(txn, T, trunk_id, values)
        txn.record("trunk", trunk_id, "update", self._hosts(txn.conn, row))
        return trunk_id

    def delete(self, txn, ctx, trunk_id, if_match=None):
        row = self.get_row(txn.conn, trunk_id, for_update=True)
        common.check_revision(row, if_match)
        rules.check_manageable(row)
        parent = txn.execute(select(P).where(P.c.id == row.port_id)).first()
        if parent is not None and not rules.can_be_trunked(parent, self.can_trunk_bound_port):
            raise exc.TrunkInUse(trunk_id=trunk_id)
        hosts = self._hosts(txn.conn, row)
        txn.execute(delete(S).where(S.c.trunk_id == trunk_id))
        txn.execute(delete(T).where(T.c.id == trunk_id))
        common.delete_tags(txn, [trunk_id])
        txn.record("trunk", trunk_id, "delete", hosts)

    def add_subports(self, txn, ctx, trunk_id, body):
        subports = _sub_ports(body)
        row = self.get_row(txn.conn, trunk_id, for_update=True)
        rules.basic_validation(subports)
        subports = rules.validate_subports(txn.conn, subports, row.port_id)
        rules.check_manageable(row)
        if row.status == "ERROR":
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
        txn.record("trunk", trunk_id, "update", self._hosts(txn.conn, row))
        return trunk_id

    def remove_subports(self, txn, ctx, trunk_id, body):
        subports = _sub_ports(body)
        row = self.get_row(txn.conn, trunk_id, for_update=True)
        rules.check_manageable(row)
        rules.basic_validation(subports)
        current = set(txn.execute(select(S.c.port_id).where(S.c.trunk_id == trunk_id))
                      .scalars())
        for sub in subports:
            if sub["port_id"] not in current:
                raise exc.SubPortNotFound(trunk_id=trunk_id, port_id=sub["port_id"])
        hosts = self._hosts(txn.conn, row)
        ids = [s["port_id"] for s in subports]
        if ids:
            txn.execute(delete(S).where(S.c.port_id.in_(ids)))
            for pid in ids:
                txn.record("port", pid, "update", hosts)
        status.subports_changed(txn, trunk_id)
        txn.record("trunk", trunk_id, "update", hosts)
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
            bind_subports(txn, ids, parent.host)
        for pid in ids:
            txn.record("port", pid, "update", [parent.host if parent is not None else ""])

    @staticmethod
    def _hosts(conn, row):
        host = conn.execute(select(P.c.host).where(P.c.id == row.port_id)).scalar()
        return [host] if host else []


def bind_subports(txn, port_ids, host):
    """Subports live where their parent lives: same host, device_owner trunk:subport; one that
    moves host is DOWN until the new host's agent wires it."""
    if port_ids:
        txn.execute(update(P).where(P.c.id.in_(port_ids)).values(
            host=host, device_owner=SUBPORT_OWNER, updated_at=txn.now,
            status=case((P.c.host != host, "DOWN"), else_=P.c.status),
            revision_number=P.c.revision_number + 1))


def _sub_ports(body):
    if not isinstance(body, dict) or "sub_ports" not in body:
        raise exc.HTTPBadRequest("Unable to find 'sub_ports' in request body")
    return body["sub_ports"]
