"""Trunk status: the one module that writes it (Neutron wrote it from many places).

DOWN on create and whenever the API adds or removes subports, DOWN when the parent port moves
to another host or is unbound, DOWN when the agent of the parent's host is dead (no agent
vouches for the wiring any more: Neutron's rule for an unbound parent, "no more physical
resources associated"), and otherwise only what the agent of the parent's host reports
(BUILD, ACTIVE, DEGRADED, ERROR). Every change made here is published as a trunk update
(plugins/events.py), so the host's agent sees it."""
from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select, update

from trunkline import constants as k
from trunkline.db import schema
from trunkline.plugins import common, events

if TYPE_CHECKING:
    from trunkline.db.engine import Txn

T, P = schema.trunks, schema.ports
INITIAL = k.DOWN
REPORTABLE = k.TRUNK_STATUSES


def subports_changed(txn: Txn, trunk_id: str) -> None:
    """add/remove_subports: DOWN until the agent has wired the change. Neutron 29 moves
    updated_at but leaves revision_number alone here."""
    txn.execute(update(T).where(T.c.id == trunk_id).values(status=INITIAL, updated_at=txn.now))


def _set(txn, rows, statuses):
    """Set each trunk in ``rows`` (id, status) to ``statuses[id]``; one change."""
    for tid, _ in rows:
        common.bump(txn, T, tid, {"status": statuses[tid]})
    if rows:
        events.publish(txn, "trunk", events.UPDATE, [tid for tid, _ in rows],
                       old={tid: {"status": s} for tid, s in rows},
                       new={tid: {"status": statuses[tid]} for tid, _ in rows},
                       changed={"status"})


def parent_moved(txn: Txn, parent_id: str) -> None:
    """The parent port changed host or was unbound: its trunk is not wired there (yet)."""
    row = txn.execute(select(T.c.id, T.c.status).where(T.c.port_id == parent_id)).first()
    if row is not None and row.status != INITIAL:
        _set(txn, [tuple(row)], {row.id: INITIAL})


def host_lost(txn: Txn, host: str) -> list:
    """The Open vSwitch agent of ``host`` is dead: the trunks whose parent is bound there go
    DOWN until it comes back and reports again; returns their ids."""
    rows = [tuple(r) for r in txn.execute(select(T.c.id, T.c.status).join(
        P, P.c.id == T.c.port_id).where(P.c.host == host, T.c.status != INITIAL))]
    _set(txn, rows, {tid: INITIAL for tid, _ in rows})
    return [tid for tid, _ in rows]


def apply_reports(txn: Txn, host: str, statuses: dict) -> list:
    """An agent's report ``{trunk id: status}``: applied to the trunks whose parent is bound to
    ``host``, ignored for any other trunk; returns the ids whose status changed."""
    wanted = {tid: s for tid, s in statuses.items() if s in REPORTABLE}
    if not wanted:
        return []
    rows = [tuple(r) for r in txn.execute(select(T.c.id, T.c.status).join(
        P, P.c.id == T.c.port_id).where(T.c.id.in_(list(wanted)), P.c.host == host))]
    changed = [(tid, s) for tid, s in rows if wanted[tid] != s]
    _set(txn, changed, wanted)
    return [tid for tid, _ in changed]
