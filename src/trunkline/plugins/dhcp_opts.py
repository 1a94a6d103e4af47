"""Ports' extra DHCP options (Neutron's extra_dhcp_opt extension, as its database layer keeps them):
stored per (port, opt_name, ip_version); on update the options given are merged into the
port's by (opt_name, ip_version): a null value removes one, another value replaces it, a new
one is added, and the others stay. An option without a value (null, or '' unless it is one of
the blank-able router/classless-static-route) is not stored."""
from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from sqlalchemy import delete, insert, select, update

from trunkline import exceptions as exc
from trunkline.db import schema
from trunkline.definitions.validators import BLANK_DHCP_OPTS
from trunkline.plugins import common

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from trunkline.db.engine import Txn

O = schema.extradhcpopts
KEYS = ["port_id", "opt_name", "ip_version"]
_OPTS = common.ByIds(select(O.c.port_id, O.c.opt_name, O.c.opt_value, O.c.ip_version).order_by(
    O.c.opt_name, O.c.ip_version), O.c.port_id)


def _storable(opt):
    if opt["opt_name"] in BLANK_DHCP_OPTS:
        return opt["opt_value"] is not None
    return bool(opt["opt_value"])


def _duplicate():
    return exc.NeutronDbObjectDuplicateEntry(object_type="ExtraDhcpOpt", attributes=KEYS)


def load(conn: Connection, port_ids: list) -> dict:
    """{port id: [{opt_name, opt_value, ip_version}]}, each port's sorted by name, version."""
    out = {}
    if not port_ids:
        return out
    for pid, name, value, version in _OPTS.raw(conn, port_ids):
        out.setdefault(pid, []).append({"opt_name": name, "opt_value": value,
                                        "ip_version": version})
    return out


def create(txn: Txn, port_id: str, opts: Optional[list]) -> None:
    rows = [dict(opt, port_id=port_id) for opt in opts or () if _storable(opt)]
    if len({(r["opt_name"], r["ip_version"]) for r in rows}) != len(rows):
        raise _duplicate()
    if rows:
        txn.execute(insert(O), rows)


def merge(txn: Txn, port_id: str, opts: Optional[list]) -> None:
    """Merge ``opts`` into the port's options (Neutron: nothing happens for null or [])."""
    if not opts:
        return
    current = {(name, version): value for name, version, value in txn.execute(
        select(O.c.opt_name, O.c.ip_version, O.c.opt_value).where(O.c.port_id == port_id))}
    new = []
    for opt in opts:
        key = (opt["opt_name"], opt["ip_version"])
        where = (O.c.port_id == port_id, O.c.opt_name == key[0], O.c.ip_version == key[1])
        if key in current:
            if opt["opt_value"] is None:
                txn.execute(delete(O).where(*where))
                del current[key]
            elif _storable(opt) and opt["opt_value"] != current[key]:
                txn.execute(update(O).where(*where).values(opt_value=opt["opt_value"]))
                current[key] = opt["opt_value"]
        elif _storable(opt):
            new.append(opt)
    # Neutron matches each option against the rows as they were before the request, so two
    # new options with one (name, version) both insert, and the second is refused
    if len({(o["opt_name"], o["ip_version"]) for o in new}) != len(new):
        raise _duplicate()
    if new:
        txn.execute(insert(O), [dict(o, port_id=port_id) for o in new])


def delete_ports(txn: Txn, port_ids: list) -> None:
    if port_ids:
        txn.execute(delete(O).where(O.c.port_id.in_(list(port_ids))))
