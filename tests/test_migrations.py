"""The Alembic migrations produce exactly the schema trunkline's code describes
(db/schema.py), on SQLite and PostgreSQL, and ``trunkline db upgrade`` is idempotent."""
import os
import re
import subprocess

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, select

from fixtures import TRUNKLINE
from trunkline.db import engine as db_engine
from trunkline.db import migrate, schema


@pytest.fixture(scope="module")
def db_url(backend, db_url_factory):
    return db_url_factory(backend)


def db(*args):
    return subprocess.run([TRUNKLINE, "db", *args], capture_output=True, text=True, timeout=60,
                          env=dict(os.environ))


def test_upgrade_is_idempotent(db_url):
    for _ in range(2):
        r = db("upgrade", "--db", db_url)
        assert r.returncode == 0, r.stderr
    r = db("current", "--db", db_url)
    assert r.returncode == 0 and migrate.head() in r.stdout
    eng = create_engine(db_engine.normalise_url(db_url))
    try:
        with eng.connect() as conn:
            assert conn.execute(select(schema.revision)).all() == [(1, 0)]
    finally:
        eng.dispose()


def _defaults(_ctx, _inspected_col, _col, inspected, _default, rendered):
    """Server defaults differ unless equal once casts, parentheses and quotes are dropped
    (SQLite's ``DEFAULT ''`` reflects as ``('')``, PostgreSQL's as ``''::character varying``,
    which Alembic's own comparison reports as changes)."""
    def norm(value):
        return None if value is None else re.sub(r"::[a-z ]+$", "", str(value)).strip("()'\"")
    return norm(inspected) != norm(rendered)


def test_schema_matches_metadata(db_url):
    assert db("upgrade", "--db", db_url).returncode == 0
    eng = create_engine(db_engine.normalise_url(db_url))
    try:
        with eng.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True,
                                                         "compare_server_default": _defaults})
            diffs = [d for d in compare_metadata(ctx, schema.metadata)
                     if not (isinstance(d, tuple) and d[0] == "remove_table"
                             and d[1].name == "alembic_version")]
    finally:
        eng.dispose()
    assert diffs == []
