"""A compute port's bindings (binding-extended), as Neutron's ML2 plugin keeps them: the ACTIVE
binding is the port's own (``binding:host_id`` and its vif columns, what agents wire), each
INACTIVE one a ``portbindings`` row for another host, bound like the active one would be there
(plugins/binding.py) but wired by nobody until it is activated.

- create: a binding for a host the port has none on; INACTIVE, as the port always has its
  active one (Neutron keeps an ACTIVE binding with an empty host on an unbound port too); a
  host without a live L2 agent is a ``PortBindingError``.
- update: vnic_type and profile; on the active binding it is the port's own update.
- activate: the host's INACTIVE binding becomes the port's binding (a port update: status
  DOWN until the new host's agent wires it, a trunk parent's subports follow), the previous
  active one is kept as INACTIVE.
- delete: an INACTIVE binding goes; deleting the active one unbinds the port.

Only ``compute:*`` ports have these operations (400 otherwise)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, List

from sqlalchemy import delete, insert, select, update

from trunkline import constants as k
from trunkline import exceptions as exc
from trunkline.db import schema
from trunkline.plugins import binding

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from trunkline.db.engine import Txn

B, P = schema.portbindings, schema.ports
ACTIVE, INACTIVE = k.ACTIVE, k.INACTIVE


def _binding(host, vif_type, vif_details, vnic_type, profile, status) -> dict:
    return {"host": host, "vif_type": vif_type, "vif_details": vif_details or {},
            "vnic_type": vnic_type, "profile": profile or {}, "status": status}


def _active(row) -> dict:
    return _binding(row.host, row.vif_type, row.vif_details, row.vnic_type, row.profile, ACTIVE)


def _inactive(row) -> dict:
    return _binding(row.host, row.vif_type, row.vif_details, row.vnic_type, row.profile,
                    INACTIVE)


def port_row(conn: Connection, ports: Any, port_id: str):
    """The compute port ``port_id`` (404 PortNotFound, 400 for any other port)."""
    row = ports.get_row(conn, port_id)
    if not (row.device_owner or "").startswith(k.OWNER_COMPUTE_PREFIX):
        raise exc.BadRequest(resource="port", msg="Invalid port %s. Operation only valid on "
                                                  "compute ports" % port_id)
    return row


def _inactive_row(conn: Connection, port_id: str, host: str):
    return conn.execute(select(B).where(B.c.port_id == port_id, B.c.host == host)).first()


def list_bindings(conn: Connection, ports: Any, port_id: str) -> List[dict]:
    row = port_row(conn, ports, port_id)
    rows = conn.execute(select(B).where(B.c.port_id == port_id).order_by(B.c.host)).all()
    return [_active(row)] + [_inactive(r) for r in rows]


def show(conn: Connection, ports: Any, port_id: str, host: str) -> dict:
    row = port_row(conn, ports, port_id)
    if host == row.host:
        return _active(row)
    other = _inactive_row(conn, port_id, host)
    if other is None:
        raise exc.PortBindingNotFound(port_id=port_id, host=host)
    return _inactive(other)


def _bind(conn: Connection, port_id: str, host: str) -> tuple:
    vif_type, details = binding.bind(conn, host, port_id)
    if vif_type == k.VIF_TYPE_BINDING_FAILED:
        raise exc.PortBindingError(port_id=port_id, host=host)
    return vif_type, details


def create(txn: Txn, ports: Any, port_id: str, res: dict) -> dict:
    """``res``: the prepared body (host, vnic_type, profile)."""
    row = port_row(txn.conn, ports, port_id)
    host = res["host"]
    if host == row.host or _inactive_row(txn.conn, port_id, host) is not None:
        raise exc.PortBindingAlreadyExists(port_id=port_id, host=host)
    vif_type, details = _bind(txn.conn, port_id, host)
    values = {"port_id": port_id, "host": host, "vif_type": vif_type, "vif_details": details,
              "vnic_type": res["vnic_type"], "profile": res.get("profile") or {}}
    txn.execute(insert(B).values(**values))
    return _binding(host, vif_type, details, values["vnic_type"], values["profile"], INACTIVE)


def update_binding(txn: Txn, ports: Any, ctx: Any, port_id: str, host: str,
                   res: dict) -> dict:
    row = port_row(txn.conn, ports, port_id)
    if host and host == row.host:
        change = {"binding:" + key: res[key] for key in ("vnic_type", "profile") if key in res}
        if change:
            ports.update(txn, ctx, port_id, change)
        return _active(ports.get_row(txn.conn, port_id))
    other = _inactive_row(txn.conn, port_id, host)
    if other is None:
        raise exc.PortBindingNotFound(port_id=port_id, host=host)
    vif_type, details = _bind(txn.conn, port_id, host)
    values = {"vif_type": vif_type, "vif_details": details}
    if "vnic_type" in res:
        values["vnic_type"] = res["vnic_type"]
    if "profile" in res:
        values["profile"] = res["profile"] or {}
    txn.execute(update(B).where(B.c.port_id == port_id, B.c.host == host).values(**values))
    return _inactive(_inactive_row(txn.conn, port_id, host))


def activate(txn: Txn, ports: Any, ctx: Any, port_id: str, host: str) -> dict:
    row = port_row(txn.conn, ports, port_id)
    if host == row.host:
        raise exc.PortBindingAlreadyActive(port_id=port_id, host=host)
    new = _inactive_row(txn.conn, port_id, host)
    if new is None:
        raise exc.PortBindingNotFound(port_id=port_id, host=host)
    _bind(txn.conn, port_id, host)      # the host must still have a live agent
    txn.execute(delete(B).where(B.c.port_id == port_id, B.c.host == host))
    if row.host:
        txn.execute(insert(B).values(port_id=port_id, host=row.host, vif_type=row.vif_type,
                                     vif_details=row.vif_details, vnic_type=row.vnic_type,
                                     profile=row.profile))
    ports.update(txn, ctx, port_id, {"binding:host_id": host,
                                     "binding:vnic_type": new.vnic_type,
                                     "binding:profile": new.profile or {}})
    return _active(ports.get_row(txn.conn, port_id))


def delete_binding(txn: Txn, ports: Any, ctx: Any, port_id: str, host: str) -> None:
    row = port_row(txn.conn, ports, port_id)
    if host and host == row.host:
        ports.update(txn, ctx, port_id, {"binding:host_id": ""})
        return
    if _inactive_row(txn.conn, port_id, host) is None:
        raise exc.PortBindingNotFound(port_id=port_id, host=host)
    txn.execute(delete(B).where(B.c.port_id == port_id, B.c.host == host))


def filtered(bindings: List[dict], params: List[tuple]) -> List[dict]:
    """A list's filters, the query's (key, value) pairs: ``host``, ``status``, ``vif_type``,
    ``vnic_type`` (a key given twice matches either value)."""
    keep: dict = {}
    for key, value in params:
        if key in ("host", "status", "vif_type", "vnic_type"):
            keep.setdefault(key, set()).add(value)
    return [b for b in bindings if all(b[key] in vals for key, vals in keep.items())]
