"""Keeping the change log bounded, and knowing how far back it is complete.

Rows older than the last ``keep`` revisions are deleted now and then (inside a write, so the
deletion is serialised with every other writer). Row 2 of the ``revision`` table records the
revision up to which rows may be gone: a watcher asking for changes after an older revision
cannot be answered from the log and must re-read the state (HTTP 410).
"""
from sqlalchemy import delete, insert, select, update

from trunkline.db import schema

R, C = schema.revision, schema.changes
HORIZON = 2
KEEP = 100000        # revisions whose rows are kept
PRUNE_EVERY = 1000   # prune when the revision is a multiple of this


def horizon(conn):
    """The revision up to which change rows may have been pruned (0: none ever were)."""
    return conn.execute(select(horizon_subquery())).scalar() or 0


def horizon_subquery():
    """``horizon`` (NULL: 0) as a scalar subquery, to read along with something else."""
    return select(R.c.value).where(R.c.id == HORIZON).scalar_subquery()


def prune(conn, upto):
    """Delete the rows of revisions <= ``upto`` and move the horizon there. Call it inside a
    write transaction (one that holds the revision row)."""
    if upto <= horizon(conn):
        return
    conn.execute(delete(C).where(C.c.revision <= upto))
    if conn.execute(update(R).where(R.c.id == HORIZON).values(value=upto)).rowcount == 0:
        conn.execute(insert(R).values(id=HORIZON, value=upto))


def maybe_prune(conn, revision, keep=KEEP, every=PRUNE_EVERY):
    """Prune now and then: when ``revision`` is a multiple of ``every``."""
    if revision % every == 0 and revision > keep:
        prune(conn, revision - keep)
