"""Assembling and running the API server: database (migrated to head), plugins, the ASGI app,
and uvicorn with the fastest loop and HTTP parser available."""
import logging
import os

import uvicorn

from trunkline import plugins
from trunkline.api.app import MAX_BODY, Api
from trunkline.channel import binding
from trunkline.channel.routes import Channel
from trunkline.db import migrate
from trunkline.db.engine import Database
from trunkline.services.trunk.plugin import TrunkPlugin

LOG = logging.getLogger(__name__)
DEFAULT_STATE_DIR = "/var/lib/trunkline"
ENV_DB = "TRUNKLINE_DB"
ENV_MAX_BODY = "TRUNKLINE_MAX_REQUEST_BODY_SIZE"
ENV_MAX_LIMIT = "TRUNKLINE_PAGINATION_MAX_LIMIT"


def default_db_url(state_dir):
    return "sqlite:///" + os.path.join(os.path.abspath(state_dir), "trunkline.db")


def prepare_database(url):
    """Create the state directory for SQLite and migrate the schema to head."""
    if url.startswith("sqlite:///"):
        path = url[len("sqlite:///"):]
        if path and path != ":memory:":
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    db = Database(url)
    try:
        migrate.upgrade(db.engine)
    finally:
        db.dispose()


def build_app(url, max_body=MAX_BODY, max_limit=-1):
    db = Database(url)
    core = plugins.build(binder=binding.bind)
    return Api(db, core, TrunkPlugin(), Channel(db, core), max_body=max_body,
               max_limit=max_limit)


def factory():
    """uvicorn's app factory for worker processes (the settings come through the
    environment)."""
    return build_app(os.environ[ENV_DB], int(os.environ.get(ENV_MAX_BODY, MAX_BODY)),
                     int(os.environ.get(ENV_MAX_LIMIT, -1)))


def run(bind, url, workers=1, log_level="warning", max_body=MAX_BODY, max_limit=-1):
    host, _, port = bind.rpartition(":")
    prepare_database(url)
    os.environ[ENV_DB] = url
    os.environ[ENV_MAX_BODY] = str(max_body)
    os.environ[ENV_MAX_LIMIT] = str(max_limit)
    uvicorn.run("trunkline.server:factory", factory=True, host=host or "127.0.0.1",
                port=int(port), workers=workers if workers > 1 else None, loop="uvloop",
                http="httptools", log_level=log_level, access_log=False,
                server_header=False, date_header=False,
                # open long polls (agents' watches) must not hold a shutdown for their timeout
                timeout_graceful_shutdown=3)
