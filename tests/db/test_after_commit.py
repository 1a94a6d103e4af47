"""``txn.after_commit``: a hook runs once the write has committed (what it reads from another
connection is there), never for a write that failed, and once for a write that was retried."""
import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from trunkline import exceptions as exc
from trunkline.db import migrate, schema
from trunkline.db.engine import Database


@pytest.fixture
def db(tmp_path):
    d = Database("sqlite:///%s" % (tmp_path / "t.db"))
    migrate.upgrade(d.engine)
    yield d
    d.dispose()


def _revision(db):
    with db.read() as conn:
        return conn.execute(select(schema.revision.c.value)).scalar_one()


def test_hook_runs_after_the_commit(db):
    seen = []

    def write(txn):
        txn.after_commit(lambda: seen.append((txn.revision, _revision(db))))
        return txn.revision

    rev = db.write(write)
    assert seen == [(rev, rev)]     # another connection already sees the committed revision


def test_no_hook_for_a_failed_write(db):
    seen = []

    def write(txn):
        txn.after_commit(lambda: seen.append(txn.revision))
        raise exc.InvalidInput(error_message="refused")

    before = _revision(db)
    with pytest.raises(exc.InvalidInput):
        db.write(write)
    assert seen == [] and _revision(db) == before


def test_one_hook_for_a_retried_write(db):
    seen, attempts = [], []

    def write(txn):
        attempts.append(txn.revision)
        txn.after_commit(lambda: seen.append(txn.revision))
        if len(attempts) == 1:
            raise OperationalError("UPDATE", {}, Exception("database is locked"))

    db.write(write)
    assert len(attempts) == 2 and seen == [attempts[-1]]


def test_a_failing_hook_does_not_undo_the_write(db):
    def write(txn):
        txn.after_commit(lambda: 1 / 0)
        return txn.revision

    assert db.write(write) == _revision(db)
