"""Schema migrations (Alembic): the schema is created and upgraded by migrations, never by create_all."""
import os

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text

HERE = os.path.dirname(os.path.abspath(__file__))
LOCK_KEY = 0x7c1a_6d16   # the PostgreSQL advisory lock servers take turns on while migrating


def _config():
    cfg = Config()
    cfg.set_main_option("script_location", os.path.join(HERE, "migrations"))
    return cfg


def head():
    return ScriptDirectory.from_config(_config()).get_current_head()


def current(engine):
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine, target="head"):
    """Bring the database to ``target``; a no-op when it is already there. Servers starting
    together take turns: the migration runs in one transaction holding the database's
    migration lock (an advisory lock on PostgreSQL, the write lock on SQLite), and whoever
    comes next finds the schema already at ``target``."""
    if target == "head" and current(engine) == head():
        return False
    cfg = _config()
    with engine.connect() as conn:
        conn = conn.execution_options(trunkline_write=True)   # SQLite: BEGIN IMMEDIATE
        with conn.begin():
            if engine.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCK_KEY})
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, target)
    return True
