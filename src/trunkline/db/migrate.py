"""Schema migrations (Alembic): the schema is created and upgraded by migrations, never by create_all."""
import os

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

HERE = os.path.dirname(os.path.abspath(__file__))


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
    """Bring the database to ``target``; a no-op when it is already there."""
    if target == "head" and current(engine) == head():
        return False
    cfg = _config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, target)
    return True
