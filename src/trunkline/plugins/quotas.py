"""Quotas (Neutron's quota engine): each project's limit per quota resource, what it uses, and
the check that refuses a create going over a limit.

Which resource counts against which quota is declared once, on the resource's definition
(``Resource.quota``); a project's usage is the number of its rows in the tables of the
resources declaring that quota. A limit is the server's default (``configure``: the
``--quota-*`` options) unless the ``quotas`` table holds one for the project; -1 is unlimited.

``check`` runs inside the write transaction that then inserts the rows: writers are serialised
(db/engine.py), so the usage it reads cannot change before the insert commits and concurrent
creates never get past a limit together. Limit writes (``set_limits``, ``delete_limits``) are
not changes any agent sees: they take no revision and wake nobody, but they take the writers'
lock, so a limit checked against the usage is checked against the usage that stays.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Iterable

from sqlalchemy import delete, func, insert, select, update

from trunkline import definitions
from trunkline import exceptions as exc
from trunkline.db import schema

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from trunkline.plugins import Plugins

Q = schema.quotas
UNLIMITED = -1
MAX_LIMIT = 2 ** 31 - 1     # Neutron's DB_INTEGER_MAX_VALUE
# Neutron's [quotas] quota_* defaults
DEFAULTS = {"network": 100, "subnet": 100, "port": 500, "security_group": 10,
            "security_group_rule": 100, "trunk": -1}

_defaults = dict(DEFAULTS)
_tables = {}                # quota resource -> [tables whose rows count against it]


def resources() -> list:
    """The quota resources, in the order answers list them (the definitions')."""
    return list(dict.fromkeys(r.quota for r in definitions.RESOURCES.values() if r.quota))


def configure(plugins: Plugins, defaults: dict = None) -> None:
    """The tables each quota counts (from the plugins of the resources declaring it) and the
    server's default limits (DEFAULTS, overridden by ``defaults``)."""
    _tables.clear()
    for _, plugin in plugins.items():
        if plugin.resource.quota:
            _tables.setdefault(plugin.resource.quota, []).append(plugin.table)
    _defaults.clear()
    _defaults.update(DEFAULTS)
    _defaults.update({k: v for k, v in (defaults or {}).items() if v is not None})


def default_limits() -> dict:
    return {name: _defaults.get(name, UNLIMITED) for name in resources()}


def limits(conn: Connection, project_id: str) -> dict:
    """{quota resource: limit} of the project."""
    out = default_limits()
    for resource, limit in conn.execute(select(Q.c.resource, Q.c.limit)
                                        .where(Q.c.project_id == project_id)):
        if resource in out:
            out[resource] = limit
    return out


def every_project(conn: Connection) -> list:
    """The limits of every project that has a limit of its own (Neutron's quota list)."""
    out = {}
    for project_id, resource, limit in conn.execute(
            select(Q.c.project_id, Q.c.resource, Q.c.limit).order_by(Q.c.project_id)):
        entry = out.get(project_id)
        if entry is None:
            entry = out[project_id] = default_limits()
        if resource in entry:
            entry[resource] = limit
    return [dict(entry, project_id=p, tenant_id=p) for p, entry in out.items()]


def used(conn: Connection, project_id: str, resource: str) -> int:
    """How many rows of the project count against the quota ``resource``."""
    return sum(conn.execute(select(func.count()).select_from(t)
                            .where(t.c.project_id == project_id)).scalar_one()
               for t in _tables.get(resource, ()))


def details(conn: Connection, project_id: str) -> dict:
    """{quota resource: {limit, used, reserved}} (quota_details; nothing is ever reserved:
    the check and the insert share one transaction)."""
    return {name: {"limit": limit, "used": used(conn, project_id, name), "reserved": 0}
            for name, limit in limits(conn, project_id).items()}


def check(conn: Connection, project_id: str, deltas: dict) -> None:
    """Refuse (409 OverQuota, naming every resource over its limit) ``deltas`` ({quota
    resource: new rows}) more for the project. Unlimited quotas read no usage."""
    wanted = {name: n for name, n in deltas.items() if n > 0}
    if not wanted:
        return
    rows = conn.execute(select(Q.c.resource, Q.c.limit).where(
        Q.c.project_id == project_id, Q.c.resource.in_(list(wanted)))).all()
    own = dict(rows)
    overs = []
    for name, n in wanted.items():
        limit = own.get(name, _defaults.get(name, UNLIMITED))
        if limit != UNLIMITED and used(conn, project_id, name) + n > limit:
            overs.append(name)
    if overs:
        raise exc.OverQuota(overs=sorted(overs))


def check_create(conn: Connection, resource, items: Iterable[dict], ctx) -> None:
    """An API create of ``items`` (one request, bulk or not) of ``resource``: the whole
    request counts, per project it creates in."""
    if not resource.quota:
        return
    per_project = {}
    for res in items:
        project_id = res.get("project_id") or ctx.project_id
        per_project[project_id] = per_project.get(project_id, 0) + 1
    for project_id, n in per_project.items():
        check(conn, project_id, {resource.quota: n})


def lock_writers(conn: Connection) -> None:
    """Take the writers' lock without a new revision (SQLite's write transaction already holds
    it): a limit and the usage it is checked against stay as read until commit."""
    if conn.dialect.name == "postgresql":
        conn.execute(select(schema.revision.c.value).where(schema.revision.c.id == 1)
                     .with_for_update())


def set_limits(conn: Connection, project_id: str, new: dict, force: bool = False) -> None:
    """Store the project's limits ``new`` ({quota resource: limit}, validated); unless
    ``force``, a limit below what the project already uses is refused (Neutron's default
    since quota-check-limit-default)."""
    lock_writers(conn)
    if not force:
        for name, limit in new.items():
            if limit == UNLIMITED:
                continue
            usage = used(conn, project_id, name)
            if usage > limit:
                raise exc.HTTPBadRequest(
                    "Quota limit %s for %s must be greater than or equal to already used %s"
                    % (limit, name, usage))
    for name, limit in new.items():
        where = (Q.c.project_id == project_id) & (Q.c.resource == name)
        if conn.execute(update(Q).where(where).values(limit=limit)).rowcount == 0:
            conn.execute(insert(Q).values(project_id=project_id, resource=name, limit=limit))


def delete_limits(conn: Connection, project_id: str) -> None:
    """Back to the defaults; 404 when the project had no limit of its own."""
    lock_writers(conn)
    if conn.execute(delete(Q).where(Q.c.project_id == project_id)).rowcount < 1:
        raise exc.TenantQuotaNotFound(tenant_id=project_id)
