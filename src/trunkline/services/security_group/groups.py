"""What the security group API and its callbacks both write and read: a new group with the
rules its templates give it, each project's default group (created once, lazily, as Neutron
does), the groups a port may use, and port bindings. Every write is published
(plugins/events.py) so the change log sees it."""
from __future__ import annotations

from typing import TYPE_CHECKING, Iterable, Optional

from sqlalchemy import delete, insert, select

from trunkline import exceptions as exc
from trunkline.db import schema
from trunkline.definitions import security_groups as d
from trunkline.plugins import common, events, quotas

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from trunkline.db.engine import Txn
    from trunkline.plugins.common import Context

SG, R, B = schema.securitygroups, schema.securitygrouprules, schema.securitygroupportbindings
D, TPL = schema.default_security_group, schema.securitygroupdefaultrules
DEFAULT_DESCRIPTION = "Default security group"
RULE_COLUMNS = ("direction", "ethertype", "protocol", "port_range_min", "port_range_max",
                "remote_ip_prefix", "remote_group_id", "remote_address_group_id")
_BOUND = common.ByIds(select(B.c.port_id, B.c.security_group_id)
                      .order_by(B.c.security_group_id), B.c.port_id)


def default_group(conn: Connection, project_id: str) -> Optional[str]:
    return conn.execute(select(D.c.security_group_id).where(D.c.project_id == project_id)) \
        .scalar()


def can_have_default(project_id) -> bool:
    """A project id a default group can be stored for."""
    return isinstance(project_id, str) and 0 < len(project_id) <= 255


def ensure_default(txn: Txn, project_id: str) -> Optional[str]:
    """The project's default group, created with its template rules if it has none yet
    (writers are serialised: the check and the insert cannot race)."""
    if not can_have_default(project_id):
        return None
    group_id = default_group(txn.conn, project_id)
    if group_id is None:
        values = {"project_id": project_id, "name": d.DEFAULT_NAME,
                  "description": DEFAULT_DESCRIPTION}
        group_id = create_group(txn, None, values, stateful=True, default=True)
    return group_id


def ensure_default_outside(db, ctx: Context, project_id: str) -> None:
    """Before a list: the default group of the project listed (or the caller's), when the
    caller may create it (Neutron's create_default_security_group: admins, services, the
    project itself)."""
    if not can_have_default(project_id):
        return
    if not (ctx.is_admin or "service" in ctx.roles or project_id == ctx.project_id):
        return
    with db.read() as conn:
        if default_group(conn, project_id) is not None:
            return
    db.write(ensure_default, project_id)


def create_group(txn: Txn, ctx: Optional[Context], res: dict, stateful: bool,
                 default: bool = False) -> str:
    group_id = common.new_id()
    values = common.standard_values(txn, ctx or common.Context(project_id=res["project_id"]),
                                    res, group_id, revision_number=0)
    flag = TPL.c.used_in_default_sg if default else TPL.c.used_in_non_default_sg
    templates = txn.execute(select(TPL).where(flag.is_(True)).order_by(TPL.c.id)).all()
    # Neutron checks the rules a new group gets against the rule quota, a project's default
    # group too (a network or port create that makes it can fail so); the group itself
    # counts only when the API creates it
    quotas.check(txn.conn, values["project_id"], {d.SECURITY_GROUP_RULE.quota: len(templates)})
    values["stateful"] = stateful
    txn.execute(insert(SG).values(**values))
    if default:
        txn.execute(insert(D).values(project_id=values["project_id"], security_group_id=group_id))
    events.publish(txn, "security_group", events.CREATE, [group_id], new={group_id: values})
    rules = []
    for tpl in templates:
        rule = {name: getattr(tpl, name) for name in RULE_COLUMNS}
        if rule["remote_group_id"] == d.PARENT:
            rule["remote_group_id"] = group_id
        rules.append(dict(rule, project_id=values["project_id"], security_group_id=group_id))
    insert_rules(txn, rules)
    return group_id


def insert_rules(txn: Txn, rules: list) -> list:
    """Store validated rules (dicts of their attributes and project); their ids."""
    if not rules:
        return []
    rows = []
    for rule in rules:
        rows.append({
            "id": common.new_id(), "project_id": rule["project_id"],
            "security_group_id": rule["security_group_id"],
            "remote_group_id": rule.get("remote_group_id"),
            "remote_address_group_id": rule.get("remote_address_group_id"),
            "direction": rule["direction"], "ethertype": rule["ethertype"],
            "protocol": rule.get("protocol"), "port_range_min": rule.get("port_range_min"),
            "port_range_max": rule.get("port_range_max"),
            "remote_ip_prefix": rule.get("remote_ip_prefix"),
            "normalized_cidr": d.normalized_cidr(rule.get("remote_ip_prefix")),
            "description": rule.get("description") or "", "revision_number": 0,
            "created_at": txn.now, "updated_at": txn.now})
    txn.execute(insert(R), rows)
    events.publish(txn, "security_group_rule", events.CREATE, [r["id"] for r in rows],
                   new={r["id"]: r for r in rows})
    return [r["id"] for r in rows]


def visible(conn: Connection, ctx: Optional[Context], ids: Iterable[str],
            project_id: Optional[str] = None) -> list:
    """The rows of the groups ``ids`` the caller may name (for a resource of ``project_id``):
    an admin any that exists, anyone else its own project's; 404 naming the others."""
    ids = list(dict.fromkeys(ids))
    rows = conn.execute(select(SG).where(SG.c.id.in_(ids))).all() if ids else []
    admin = ctx is None or ctx.is_admin

    def ok(row):
        if admin:
            return True
        return row.project_id == ctx.project_id and (not project_id or
                                                     row.project_id == project_id)
    found = {r.id: r for r in rows if ok(r)}
    missing = [i for i in ids if i not in found]
    if missing:
        raise d.SecurityGroupNotFound(id=", ".join(missing))
    return [found[i] for i in ids]


def bound(conn: Connection, port_ids: list) -> dict:
    """{port id: [its groups' ids]} for the ports that have any."""
    out = {}
    if not port_ids:
        return out
    wanted = set(port_ids)
    for port_id, group_id in _BOUND.raw(conn, port_ids):
        if port_id in wanted:
            out.setdefault(port_id, []).append(group_id)
    return out


def bind(txn: Txn, port_id: str, groups: list) -> None:
    """Bind exactly ``groups`` (rows) to the port; stateful and stateless groups do not mix."""
    if any(g.stateful for g in groups) and any(not g.stateful for g in groups):
        raise exc.SecurityGroupConflict(reason="Cannot apply both stateful and stateless "
                                               "security groups on the same port at the same "
                                               "time")
    txn.execute(delete(B).where(B.c.port_id == port_id))
    if groups:
        txn.execute(insert(B), [{"port_id": port_id, "security_group_id": g.id}
                                for g in groups])


def in_use(conn: Connection, group_id: str) -> bool:
    return conn.execute(select(B.c.port_id).where(B.c.security_group_id == group_id)
                        .limit(1)).first() is not None
