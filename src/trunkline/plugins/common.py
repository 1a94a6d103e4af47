"""What every resource plugin shares: the caller's context, the base class that turns rows into
answers from the resource's declared columns (``Shape``) and serves get/list, list queries built
from the definitions (filters, tag filters, sorting, marker pagination), tags, standard
attributes, and revision handling (bump on change, ``If-Match`` preconditions)."""
from __future__ import annotations

import uuid
from collections import namedtuple
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterable, Optional

import orjson
from sqlalchemy import (JSON, Boolean, Text, and_, bindparam, cast, delete, exists, insert, or_,
                        select, update)

from trunkline import exceptions as exc
from trunkline.db import schema
from trunkline.plugins import events

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from trunkline.db.engine import Txn

DEFAULT_PROJECT = "b2a5f8c4d1e94a7f8a3c6e0d9b1f2a4c"


@dataclass(frozen=True)
class Context:
    """Who is calling: built per request by the API's auth layer (api/context.py). The default
    is the no-auth caller, an admin, as in Neutron's ``noauth`` mode."""
    project_id: str = DEFAULT_PROJECT
    is_admin: bool = True
    request_id: str = ""
    user_id: str = ""
    roles: tuple = ("admin", "member", "reader")
    system_scope: str = ""
    project_name: str = ""


@dataclass
class ListQuery:
    """A list request as the API parsed it (api/listing.py), for a plugin's ``list``."""
    filters: dict = field(default_factory=dict)     # attribute -> list of converted values
    fields: list = field(default_factory=list)
    sorts: list = field(default_factory=list)       # [(attribute, ascending)]
    limit: int = 0
    marker: str = None
    page_reverse: bool = False
    tags: dict = field(default_factory=dict)        # tag filter name -> list of tags
    scope: list = field(default_factory=list)       # SQL clauses: what the caller may see


def new_id() -> str:
    return str(uuid.uuid4())


def standard_values(txn: Txn, ctx: Context, res: dict, resource_id: str,
                    revision_number: int = 1) -> dict:
    """Columns of a new resource. Neutron answers revision_number 1 for a new network or port,
    but 0 for a new subnet or trunk (observed on Neutron 29)."""
    return {"id": resource_id, "project_id": res.get("project_id") or ctx.project_id,
            "name": res.get("name", ""), "description": res.get("description", ""),
            "revision_number": revision_number, "created_at": txn.now, "updated_at": txn.now}


def wants(wanted: Optional[set], name: str) -> bool:
    """Does an answer limited to ``wanted`` attributes (None: all) need ``name``?"""
    return wanted is None or name in wanted


class Shape:
    """How rows of a resource's table become its answers: every visible attribute stored in a
    column (its declared ``column``, else the column of its name) is read from that column
    through its ``to_wire``; the others (fixed IPs, tags, ...) are the plugin's to compute.

    ``columns(wanted)`` is what a list selects for an answer limited to ``wanted`` attributes
    (``fields=``; None: all), JSON columns as text: such rows are read as the database
    driver's plain tuples (``raw_rows``), without SQLAlchemy's per-value processing, and
    ``dicts(rows, wanted, listed=True)`` turns them into answers (JSON decoded, booleans made
    bool); ``listed=False`` reads rows of the whole table as SQLAlchemy returns them
    (``get_row``). Each (wanted, listed) reader is compiled once into one function building one
    dict display per row: a list of a thousand ports is mostly this loop."""

    def __init__(self, resource, table):
        self.resource = resource
        self.table = table
        names = list(table.c.keys())
        self.stored = {}            # attribute -> column name
        for name, attr in resource.attrs.items():
            column = attr.column or name
            if attr.visible and column in names:
                self.stored[name] = column
        self.wire = {n: a.to_wire for n, a in resource.attrs.items()
                     if a.to_wire is not None and n in self.stored}
        self.json = {c.name for c in table.c if isinstance(c.type, JSON)}
        self._readers = {}

    def columns(self, wanted: Optional[set] = None) -> list:
        """The columns a list selects for an answer with ``wanted`` attributes."""
        return self._reader(wanted, True)[0]

    def _reader(self, wanted, listed):
        key = (None if wanted is None else frozenset(wanted), listed)
        reader = self._readers.get(key)
        if reader is None:
            reader = self._readers[key] = self._compile(wanted, listed)
        return reader

    def _compile(self, wanted, listed):
        names = [n for n in self.stored if wanted is None or n in wanted]
        if wanted is None or not listed:
            cols = list(self.table.c.keys())
        else:
            cols = list(dict.fromkeys(["id"] + [self.stored[n] for n in names]))
        index = {c: i for i, c in enumerate(cols)}
        env = {"loads": orjson.loads}
        items = []
        for n in names:
            column = self.table.c[self.stored[n]]
            value = "r[%d]" % index[column.name]
            if listed and column.name in self.json:
                value = "(None if %s is None else loads(%s))" % (value, value)
            elif listed and isinstance(column.type, Boolean):
                # SQLite answers 0/1, PostgreSQL false/true: both compare to 1
                value = "(None if %s is None else %s == 1)" % (value, value) \
                    if column.nullable else "(%s == 1)" % value
            if n in self.wire:
                env["wire_%d" % len(env)] = self.wire[n]
                value = "wire_%d(%s)" % (len(env) - 1, value)
            items.append("%r: %s" % (n, value))
        build = eval("lambda r: {%s}" % ", ".join(items), env)
        selected = [cast(self.table.c[c], Text).label(c) if c in self.json
                    else self.table.c[c] for c in cols]
        return selected, build

    def dicts(self, rows: list, wanted: Optional[set] = None, listed: bool = False) -> list:
        build = self._reader(wanted, listed)[1]
        return [build(r) for r in rows]

    def values(self, res: dict, names: Iterable[str]) -> dict:
        """{column: value} of the attributes ``names`` that ``res`` (a parsed body) sets."""
        return {self.stored[n]: res[n] for n in names if n in res}


class ResourcePlugin:
    """The common part of a resource's plugin: answers from rows (``Shape``; the plugin's
    ``fill`` computes the rest, extenders add theirs: plugins/events.py), get and list.
    Subclasses set ``resource``, ``table`` and, for attributes filtered in a way of their
    own, ``custom_filters`` ({attribute: values -> WHERE clause}; services add theirs with
    ``events.filter_by``). ``prepare_list`` runs before a list is read (Neutron creates a
    project's default security group when it lists its groups); ``create_many`` creates a
    bulk request's items in one transaction (a plugin that judges the items together, such
    as security group rules refusing duplicates within one POST, overrides it)."""
    resource = None
    table = None
    custom_filters = {}

    def __init__(self, plugins):
        self.plugins = plugins
        self.cfg = plugins.cfg
        self.shape = Shape(self.resource, self.table)

    def dicts(self, conn: Connection, rows: list, wanted: Optional[set] = None,
              listed: bool = False) -> list:
        out = self.shape.dicts(rows, wanted, listed)
        if self.resource.tags and wants(wanted, "tags"):
            tags = load_tags(conn, [d["id"] for d in out])
            for d in out:
                d["tags"] = tags.get(d["id"], [])
        self.fill(conn, out, wanted)
        return events.extended(self.resource.member, conn, out, wanted)

    def fill(self, conn: Connection, dicts: list, wanted: Optional[set]) -> None:
        """Compute the attributes no column holds (``wanted``: the answer's attributes, None:
        all)."""

    def prepare_list(self, db, ctx: Context, q: ListQuery) -> None:
        """Called before a list is read, outside any transaction (``db`` is the Database:
        a write it needs is its own ``db.write``)."""

    def create_many(self, txn: Txn, ctx: Context, items: list) -> list:
        """Create every item of a request (one unless bulk); their ids, in order."""
        return [self.create(txn, ctx, res) for res in items]

    def projects(self, conn: Connection, ids: Iterable[str]) -> dict:
        """{id: project_id} of the rows among ``ids`` that exist (a child's policy target
        names its parent's owner: definitions' ``Parent``)."""
        ids = [i for i in ids if isinstance(i, str)]
        if not ids:
            return {}
        t = self.table
        return dict(conn.execute(select(t.c.id, t.c.project_id).where(t.c.id.in_(ids))).all())

    def list(self, conn: Connection, ctx: Context, q: ListQuery,
             wanted: Optional[set] = None) -> list:
        filters = events.filters(self.resource.member)
        rows = select_rows(conn, self.table, self.resource, q,
                           custom_filters=dict(self.custom_filters, **filters) if filters
                           else self.custom_filters,
                           columns=self.shape.columns(wanted))
        return self.dicts(conn, rows, wanted, listed=True)

    def get_row(self, conn: Connection, resource_id: str, for_update: bool = False):
        return get_row(conn, self.table, resource_id, self.resource.not_found(resource_id),
                       for_update=for_update)

    def get(self, conn: Connection, ctx: Optional[Context], resource_id: str) -> dict:
        return self.dicts(conn, [self.get_row(conn, resource_id)])[0]


IN_LIMIT = 500


class ByIds:
    """A SELECT of the rows whose ``column`` is among some ids, built once: a statement built
    per call costs more than the database takes to run it. Past IN_LIMIT ids the caller is
    listing a large part of the table, where one scan (the caller ignores extra rows) is cheaper
    than a huge IN list."""

    def __init__(self, stmt, column):
        self.some = stmt.where(column.in_(bindparam("ids", expanding=True)))
        self.every = stmt

    def execute(self, conn: Connection, ids: Iterable[str]):
        ids = list(ids)
        if len(ids) <= IN_LIMIT:
            return conn.execute(self.some, {"ids": ids})
        return conn.execute(self.every)

    def raw(self, conn: Connection, ids: Iterable[str]) -> list:
        """The rows as the driver's tuples (``raw_rows``)."""
        result = self.execute(conn, ids)
        try:
            return result.cursor.fetchall()
        finally:
            result.close()


_TAGS = ByIds(select(schema.tags.c.resource_id, schema.tags.c.tag).order_by(schema.tags.c.tag),
             schema.tags.c.resource_id)


def load_tags(conn: Connection, ids: list) -> dict:
    if not ids:
        return {}
    result = {}
    wanted = set(ids)
    for rid, tag in _TAGS.raw(conn, ids):
        if rid in wanted:
            result.setdefault(rid, []).append(tag)
    return result


def select_rows(conn: Connection, table, resource, q: ListQuery, extra_where=(),
                custom_filters: Optional[dict] = None, columns: Optional[list] = None) -> list:
    """SELECT rows of ``table`` for a parsed list query. ``custom_filters`` maps attribute names
    that are not plain columns to functions (values -> where clause). With ``columns`` (a
    Shape's) the rows are the driver's tuples (``raw_rows``)."""
    custom_filters = custom_filters or {}
    stmt = select(*(columns or [table]))
    where = list(extra_where)
    for name, vals in q.filters.items():
        if name in custom_filters:
            where.append(custom_filters[name](vals))
            continue
        col = table.c[resource.column_of(name)]
        where.append(col.in_(vals) if len(vals) > 1 else col == vals[0])
    where.extend(_tag_clauses(table, q.tags))
    where.extend(q.scope)
    sorts = list(q.sorts)
    if q.limit and not sorts:
        sorts = [("id", True)]
    if sorts and "id" not in [k for k, _ in sorts]:
        sorts.append(("id", sorts[-1][1]))
    cols = [(table.c[resource.column_of(k)], asc != q.page_reverse) for k, asc in sorts]
    if q.marker:
        marker = conn.execute(select(*[c for c, _ in cols]).where(table.c.id == q.marker)).first()
        if marker is None:
            raise exc.HTTPBadRequest("Marker %s could not be found" % q.marker)
        where.append(_after_marker(cols, marker))
    if where:
        stmt = stmt.where(and_(*where))
    if cols:
        stmt = stmt.order_by(*[c.asc() if asc else c.desc() for c, asc in cols])
    if q.limit:
        stmt = stmt.limit(q.limit)
    rows = raw_rows(conn, stmt) if columns is not None else conn.execute(stmt).all()
    if q.page_reverse:
        rows.reverse()
    return rows


def raw_rows(conn: Connection, stmt) -> list:
    """The rows of ``stmt`` as the database driver's own tuples: for columns whose values need
    no conversion by SQLAlchemy (text, integers; booleans and JSON are the reader's to
    convert)."""
    result = conn.execute(stmt)
    try:
        return result.cursor.fetchall()
    finally:
        result.close()


_ROW_TYPES = {}


def fast_rows(result) -> list:
    """The result's rows as named tuples. SQLAlchemy's ``Row`` resolves ``row.name`` through a
    Python ``__getattr__``; a named tuple's field is a C descriptor, an order of magnitude
    cheaper, and a long list reads many attributes of every row."""
    keys = tuple(result.keys())
    cls = _ROW_TYPES.get(keys)
    if cls is None:
        try:
            base = namedtuple("Row", keys)
        except ValueError:  # a label a named tuple cannot carry: keep SQLAlchemy's rows
            return result.all()
        cls = _ROW_TYPES[keys] = type("Row", (base,), {
            "__slots__": (), "_mapping": property(lambda self: dict(zip(self._fields, self)))})
    return list(map(cls._make, result.all()))


def _after_marker(cols, marker):
    """Rows strictly after the marker in a multi-key order (lexicographic)."""
    clauses = []
    for i, (col, asc) in enumerate(cols):
        eq = [cols[j][0] == marker[j] for j in range(i)]
        cmp = col > marker[i] if asc else col < marker[i]
        clauses.append(and_(*eq, cmp))
    return or_(*clauses)


def _tag_clauses(table, tag_filters):
    t = schema.tags
    out = []

    def has(tag):
        return exists().where(t.c.resource_id == table.c.id, t.c.tag == tag)

    for tag in tag_filters.get("tags", []):
        out.append(has(tag))
    if tag_filters.get("tags-any"):
        out.append(or_(*[has(tag) for tag in tag_filters["tags-any"]]))
    if tag_filters.get("not-tags"):
        out.append(~and_(*[has(tag) for tag in tag_filters["not-tags"]]))
    for tag in tag_filters.get("not-tags-any", []):
        out.append(~has(tag))
    return out


def get_row(conn: Connection, table, resource_id: str, not_found: Exception,
            for_update: bool = False):
    stmt = select(table).where(table.c.id == resource_id)
    if for_update and conn.dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    row = conn.execute(stmt).first()
    if row is None:
        raise not_found
    return row


def check_revision(row, if_match: Optional[int]) -> None:
    """``If-Match: revision_number=N`` (revision-if-match extension) -> 412 when it differs."""
    if if_match is None:
        return
    if row.revision_number != if_match:
        raise exc.RevisionNumberConstraintFailed(expected=if_match, current=row.revision_number)


def bump(txn: Txn, table, resource_id: str, values: Optional[dict] = None) -> None:
    values = dict(values or {})
    values["revision_number"] = table.c.revision_number + 1
    values["updated_at"] = txn.now
    txn.execute(update(table).where(table.c.id == resource_id).values(**values))


def delete_tags(txn: Txn, resource_ids: Iterable[str]) -> None:
    if resource_ids:
        txn.execute(delete(schema.tags).where(schema.tags.c.resource_id.in_(list(resource_ids))))


def set_tags(txn: Txn, resource_id: str, tag_list: list) -> None:
    delete_tags(txn, [resource_id])
    if tag_list:
        txn.execute(insert(schema.tags), [{"resource_id": resource_id, "tag": t}
                                          for t in tag_list])

