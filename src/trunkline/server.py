"""Assembling and running the API server: database (migrated to head), plugins, the ASGI app,
and uvicorn with the fastest loop and HTTP parser available."""
import json
import logging
import os

import uvicorn

from trunkline import plugins
from trunkline.api.app import MAX_BODY, Api
from trunkline.channel import agents, binding
from trunkline.channel.routes import Channel
from trunkline.db import migrate
from trunkline.db.engine import Database
from trunkline.services.trunk.plugin import TrunkPlugin

LOG = logging.getLogger(__name__)
DEFAULT_STATE_DIR = "/var/lib/trunkline"
ENV_DB = "TRUNKLINE_DB"
ENV_SETTINGS = "TRUNKLINE_SERVER_SETTINGS"   # the settings (JSON) for worker processes
DEFAULTS = {"agent_down_time": agents.DOWN_TIME, "max_body": MAX_BODY, "max_limit": -1}


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


def build_app(url, settings=None):
    """The ASGI app on database ``url``; ``settings`` as DEFAULTS (the server's options)."""
    settings = dict(DEFAULTS, **(settings or {}))
    agents.configure(settings["agent_down_time"])
    db = Database(url)
    core = plugins.build(binder=binding.bind)
    return Api(db, core, TrunkPlugin(), Channel(db, core), max_body=settings["max_body"],
               max_limit=settings["max_limit"])


def factory():
    """uvicorn's app factory for worker processes (URL and settings come through the
    environment)."""
    return build_app(os.environ[ENV_DB], json.loads(os.environ.get(ENV_SETTINGS) or "{}"))


def run(bind, url, workers=1, log_level="warning", settings=None):
    host, _, port = bind.rpartition(":")
    prepare_database(url)
    os.environ[ENV_DB] = url
    os.environ[ENV_SETTINGS] = json.dumps(settings or {})
    uvicorn.run("trunkline.server:factory", factory=True, host=host or "127.0.0.1",
                port=int(port), workers=workers if workers > 1 else None, loop="uvloop",
                http="httptools", log_level=log_level, access_log=False,
                server_header=False, date_header=False,
                # open long polls (agents' watches) must not hold a shutdown for their timeout
                timeout_graceful_shutdown=3)
