"""Events around the core's writes, and extenders of what it answers: how services and the agent
channel take part in a change without the core knowing them (Neutron's callback registry:
its trunk plugin subscribes to PORT BEFORE_DELETE and extends port dicts with
``trunk_details``; the core never calls it).

A write publishes a ``Change`` (resource, operation, ids, the rows before, the values after,
the attributes that changed) inside its transaction:

- ``before(txn, change)`` runs the ``before`` subscribers, which may refuse by raising a
  NeutronError (nothing has been written yet);
- ``after(txn, change)`` runs the ``after`` subscribers, which may write more in the same
  transaction (a trunk's subports following their parent to a new host) and add to
  ``change.hosts`` the agents' hosts that must hear of it (the channel's audience rules);
  then the change log gets one row per id (db/changelog.py), so every change reaches the
  agents it concerns in the transaction that made it.

Extenders add computed attributes to answers (``extend_dicts``) and details to a port binding
(``extend_binding``); ``filter_by`` lets a service filter lists on an attribute it adds to a
core resource (ports by ``security_groups``). Subscriptions are idempotent (subscribing a
function twice keeps one).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Optional

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from trunkline.db.engine import Txn

BEFORE, AFTER = "before", "after"
CREATE, UPDATE, DELETE = "create", "update", "delete"

_subscribers = {}       # (when, resource, op) -> [fn(txn, change)]
_dict_extenders = {}    # resource -> [fn(conn, dicts, wanted)]
_binding_extenders = []  # [fn(conn, port_ids, agent) -> {port id: {vif_details updates}}]
_filters = {}           # resource -> {attribute: fn(values) -> WHERE clause}


@dataclass
class Change:
    """One write of one kind of resource (several rows at once for bulk work: a status
    report, subports following their parent). ``old``: {id: the row before} (update, delete);
    ``new``: {id: the values written} (create: every column; update: those set);
    ``changed``: the attribute or column names an update changed. ``hosts``: the hosts whose
    agents must hear of it (filled by ``after`` subscribers); ``quiet``: record no change
    row at all (nothing any agent reads changed). ``request`` and ``context``: the parsed
    request body and the caller, when the change is an API create or update of one resource
    (None for the core's own writes: a status report, subports following their parent), so a
    service can act on the attributes it adds (a port's ``security_groups``)."""
    resource: str
    op: str
    ids: list
    old: dict = field(default_factory=dict)
    new: dict = field(default_factory=dict)
    changed: frozenset = frozenset()
    hosts: set = field(default_factory=set)
    quiet: bool = False
    request: Optional[dict] = None
    context: Any = None

    def value(self, resource_id: str, key: str, default: Any = None) -> Any:
        """The value after the change, else before it."""
        new = self.new.get(resource_id)
        if new is not None and key in new:
            return new[key]
        old = self.old.get(resource_id)
        if old is not None:
            return getattr(old, key, default) if not isinstance(old, dict) else \
                old.get(key, default)
        return default


def subscribe(when: str, resource: str, op: str, fn: Callable) -> None:
    """Call ``fn(txn, change)`` ``when`` (BEFORE/AFTER) ``op`` (CREATE/UPDATE/DELETE) of
    ``resource`` (a member name, e.g. "port"; "*" for every resource)."""
    fns = _subscribers.setdefault((when, resource, op), [])
    if fn not in fns:
        fns.append(fn)


def _run(when, txn, change):
    for key in ((when, change.resource, change.op), (when, "*", change.op)):
        for fn in _subscribers.get(key, ()):
            fn(txn, change)


def before(txn: Txn, change: Change) -> Change:
    _run(BEFORE, txn, change)
    return change


def after(txn: Txn, change: Change) -> Change:
    _run(AFTER, txn, change)
    if not change.quiet:
        for resource_id in change.ids:
            txn.record(change.resource, resource_id, change.op, change.hosts)
    return change


def publish(txn: Txn, resource: str, op: str, ids: list, old: Optional[dict] = None,
            new: Optional[dict] = None, changed=(), request: Optional[dict] = None,
            context: Any = None) -> Change:
    """``after`` for a change described by its parts (the common case)."""
    return after(txn, Change(resource, op, list(ids), old or {}, new or {}, frozenset(changed),
                             request=request, context=context))


def extend_dicts(resource: str, fn: Callable) -> None:
    """Call ``fn(conn, dicts, wanted)`` whenever ``resource`` dicts are built; ``wanted`` is
    the set of attributes the answer needs (None: all), so an extender whose attribute is not
    wanted can skip its queries."""
    fns = _dict_extenders.setdefault(resource, [])
    if fn not in fns:
        fns.append(fn)


def extended(resource: str, conn: Connection, dicts: list,
             wanted: Optional[set] = None) -> list:
    for fn in _dict_extenders.get(resource, ()):
        fn(conn, dicts, wanted)
    return dicts


def filter_by(resource: str, attr: str, fn: Callable) -> None:
    """Lists of ``resource`` filtered on ``attr`` (an attribute a service adds) keep the rows
    of the WHERE clause ``fn(values)`` builds."""
    _filters.setdefault(resource, {})[attr] = fn


def filters(resource: str) -> dict:
    """{attribute: fn(values) -> WHERE clause} the services added for ``resource``."""
    return _filters.get(resource, {})


def extend_binding(fn: Callable) -> None:
    """Call ``fn(conn, port_ids, agent)`` when ports are bound to ``agent``'s host; it answers
    {port id: entries to add to that port's ``binding:vif_details``}."""
    if fn not in _binding_extenders:
        _binding_extenders.append(fn)


def binding_details(conn: Connection, port_ids: list, agent: Any) -> dict:
    out = {}
    for fn in _binding_extenders:
        for port_id, details in fn(conn, port_ids, agent).items():
            out.setdefault(port_id, {}).update(details)
    return out
