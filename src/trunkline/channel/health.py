"""The server's periodic agent check: a host whose L2 agent (Open vSwitch or Linux bridge) stopped heartbeating for
longer than ``agent_down_time`` has lost its ports; an agent dead for longer than
``agent_retention`` loses its row. They go DOWN, and the trunks whose parent is
bound there go DOWN (services/trunk/status.py); every change is bumped and published, so other
hosts and the returning agent see it. When the agent is back it reports its wiring and the
statuses return to ACTIVE through the ordinary status reports.

Neutron's server checks agents every ``agent_down_time / 2`` seconds and only logs the dead
ones; trunkline acts on them. Every server process runs the check: it first looks in a read
snapshot (no write, no revision taken when nothing is to do), then writes through
``Database.write``, which re-checks inside the serialised transaction — a second server doing
the same finds nothing left to change.
"""
from __future__ import annotations

import asyncio
import datetime
import logging
from typing import TYPE_CHECKING

from sqlalchemy import select, update

from trunkline import constants as k
from trunkline import exceptions as exc
from trunkline.db import schema
from trunkline.plugins import agents, events
from trunkline.services.trunk import status as trunk_status

if TYPE_CHECKING:
    from trunkline.db.engine import Database, Txn

LOG = logging.getLogger(__name__)
P, T = schema.ports, schema.trunks


def _lost(conn):
    """{dead host: [its ports not DOWN yet]} plus the dead hosts with trunks to set DOWN."""
    dead = agents.dead_hosts(conn)
    if not dead:
        return {}, set()
    ports = {}
    for row in conn.execute(select(P).where(P.c.host.in_(sorted(dead)),
                                            P.c.status != k.DOWN)).all():
        ports.setdefault(row.host, []).append(row)
    trunk_hosts = set(conn.execute(select(P.c.host).join(T, T.c.port_id == P.c.id).where(
        P.c.host.in_(sorted(dead)), T.c.status != trunk_status.INITIAL)).scalars())
    return ports, trunk_hosts


def mark_lost(txn: Txn) -> dict:
    """Set DOWN what is bound to hosts whose agent is dead; returns {host: ports set DOWN}."""
    ports, trunk_hosts = _lost(txn.conn)
    for host, rows in ports.items():
        ids = [r.id for r in rows]
        txn.execute(update(P).where(P.c.id.in_(ids)).values(
            status=k.DOWN, revision_number=P.c.revision_number + 1, updated_at=txn.now))
        events.publish(txn, "port", events.UPDATE, ids, old={r.id: r for r in rows},
                       new={pid: {"status": k.DOWN} for pid in ids}, changed={"status"})
    for host in trunk_hosts:
        trunk_status.host_lost(txn, host)
    return {host: len(ids) for host, ids in ports.items()}


def check(db: Database) -> None:
    """One check: write only when a read finds something to change."""
    with db.read() as conn:
        ports, trunk_hosts = _lost(conn)
        gone = agents.retention > 0 and conn.execute(select(schema.agents.c.id).where(
            schema.agents.c.heartbeat_at < agents.stamp(
                agents.utcnow() - datetime.timedelta(seconds=agents.retention)))).first()
    if ports or trunk_hosts:
        changed = db.write(mark_lost)
        for host, count in changed.items():
            LOG.warning("the agent of host %s is dead: %d of its ports set DOWN", host, count)
    if gone:
        # no agent sees agent rows: no revision, nobody woken
        for agent_type, host in db.write_unlogged(agents.forget_gone):
            LOG.warning("deleted the %s of host %s: dead for more than %g s "
                        "(--agent-retention)", agent_type, host, agents.retention)


async def run(db: Database) -> None:
    """Check every ``agent_down_time / 2`` seconds (as Neutron does) until cancelled. The
    first check waits a whole ``agent_down_time``: agents that could not heartbeat while this
    server (or every server) was down get that long to report again before they count as dead."""
    await asyncio.sleep(agents.down_time)
    while True:
        try:
            check(db)
        except exc.ServiceUnavailable as e:
            LOG.warning("agent check skipped: %s", e.msg)
        except Exception:       # a bug must not end the checks for the server's lifetime
            LOG.exception("agent check failed")
        await asyncio.sleep(max(agents.down_time / 2, 0.5))
