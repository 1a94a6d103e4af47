"""Schema migrations (Alembic): the schema is created and upgraded by migrations, never by
create_all. Migrations are ``migrations/versions/NNNN_<what>.py`` with revision ``NNNN``, each
on the one before: the head is the highest number, and a server starting on a database already
there does not load Alembic at all."""
import itertools
import os
import re
import time

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from trunkline.db.engine import is_retriable

HERE = os.path.dirname(os.path.abspath(__file__))
VERSIONS = os.path.join(HERE, "migrations", "versions")
LOCK_KEY = 0x7c1a_6d16   # the PostgreSQL advisory lock servers take turns on while migrating


def _config():
    from alembic.config import Config
    cfg = Config()
    cfg.set_main_option("script_location", os.path.join(HERE, "migrations"))
    return cfg


def head() -> str:
    """The newest migration's revision."""
    return max(m.group(1) for m in map(re.compile(r"^(\d{4})_\w+\.py$").match,
                                       os.listdir(VERSIONS)) if m)


def current(engine) -> str:
    """The database's revision (None: not migrated yet)."""
    with engine.connect() as conn:
        try:
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
        except DBAPIError:      # no version table: a new database
            return None


def upgrade(engine, target: str = "head", patience: float = 60.0) -> bool:
    """Bring the database to ``target``; a no-op when it is already there. Servers starting
    together take turns: the migration runs in one transaction holding the database's
    migration lock (an advisory lock on PostgreSQL, the write lock on SQLite), and whoever
    comes next finds the schema already at ``target``. A lock SQLite refuses without waiting
    (two connections switching a new database to WAL while a third migrates it) is retried
    for up to ``patience`` seconds."""
    deadline = time.monotonic() + patience
    for attempt in itertools.count():
        try:
            return _upgrade_once(engine, target)
        except DBAPIError as e:
            if not is_retriable(e) or time.monotonic() > deadline:
                raise
            engine.dispose()
            time.sleep(min(0.05 * (2 ** attempt), 1.0))


def _upgrade_once(engine, target):
    if target == "head" and current(engine) == head():
        return False
    from alembic import command
    cfg = _config()
    with engine.connect() as conn:
        conn = conn.execution_options(trunkline_write=True)   # SQLite: BEGIN IMMEDIATE
        with conn.begin():
            if engine.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCK_KEY})
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, target)
    return True
