"""Assembling and running the API server: database (migrated to head), the plugin of every
resource the definitions declare, the agent channel, the ASGI app with its authentication and
policy, and uvicorn with the fastest loop and HTTP parser available."""
import atexit
import glob
import http.client
import importlib
import ipaddress
import json
import logging
import os
import shutil
import tempfile
import threading
import time
from typing import Optional

import uvicorn

from trunkline import constants, definitions, logs, sdnotify
from trunkline.api import auth as auth_mod
from trunkline.api import metrics as metrics_mod
from trunkline.api.app import MAX_BODY, Api
from trunkline.api.health import Healthcheck
from trunkline.api.policy import Policy
from trunkline.channel.routes import Channel
from trunkline.db import migrate
from trunkline.db.engine import Database, MissingDriver
from trunkline.plugins import Plugins, agents, quotas
from trunkline.plugins.config import PluginConfig
from trunkline.services.nova import events as nova_events
from trunkline.services.nova import notifier as nova_notifier

LOG = logging.getLogger(__name__)
DEFAULT_STATE_DIR = constants.STATE_DIR
ENV_DB = "TRUNKLINE_DB"
ENV_SETTINGS = "TRUNKLINE_SERVER_SETTINGS"   # the settings (JSON) for worker processes
ENV_KEYSTONE_PASSWORD = "TRUNKLINE_KEYSTONE_PASSWORD"
ENV_KEYSTONE_APP_CRED_SECRET = "TRUNKLINE_KEYSTONE_APPLICATION_CREDENTIAL_SECRET"
# idle keep-alive connections live as long as Neutron's client_socket_timeout: a short limit
# (uvicorn's own is 5 s) lets a client reuse a connection the server is just closing
KEEP_ALIVE = 900.0
METRICS_DIR = "trunkline-metrics-"    # + the server's PID, under the temporary directory
# the server's settings: agent liveness, request limits and the auth options (build_auth)
DEFAULTS = {"agent_down_time": agents.DOWN_TIME, "max_body": MAX_BODY, "max_limit": -1,
            "auth": {}}


class ConfigError(Exception):
    """A server option that cannot work; the message says what to do."""


def default_db_url(state_dir: str) -> str:
    return "sqlite:///" + os.path.join(os.path.abspath(state_dir), "trunkline.db")


def prepare_database(url: str) -> None:
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


def build_auth(opts: dict):
    """The authenticator for the options ``trunkline server`` was given (a dict: ``auth``,
    ``policy_file``, ``agent_secret_file``, ``keystone_*``, ``token_cache_ttl``)."""
    policy = Policy(opts.get("policy_file"), enforce_scope=opts.get("enforce_scope", True),
                    enforce_new_defaults=opts.get("enforce_new_defaults", True),
                    policy_dirs=opts.get("policy_dirs"))
    secret = None
    if opts.get("agent_secret_file"):
        secret = auth_mod.read_secret(opts["agent_secret_file"])
    if opts.get("auth", "noauth") == "noauth":
        return auth_mod.NoAuth(policy, agent_secret=secret)
    return auth_mod.KeystoneAuth(
        policy, opts["keystone_url"], auth_type=opts.get("keystone_auth_type") or "password",
        auth_options=_keystone_plugin_options(opts),
        tls={k: opts.get("keystone_" + k) for k in ("cafile", "certfile", "keyfile", "insecure")},
        service_type=opts.get("keystone_service_type") or "network",
        service_token_roles=opts.get("keystone_service_token_roles") or ("service",),
        service_token_roles_required=opts.get("keystone_service_token_roles_required", True),
        cache_ttl=float(opts.get("token_cache_ttl", 300)), agent_secret=secret)


def _keystone_plugin_options(opts):
    """keystoneauth1's options for the service user's plugin (secrets from the environment
    when not given as options)."""
    if (opts.get("keystone_auth_type") or "password") == "v3applicationcredential":
        return {"application_credential_id": opts.get("keystone_application_credential_id"),
                "application_credential_secret":
                    opts.get("keystone_application_credential_secret")
                    or os.environ.get(ENV_KEYSTONE_APP_CRED_SECRET, "")}
    return {"username": opts.get("keystone_user"),
            "password": opts.get("keystone_password") or os.environ.get(ENV_KEYSTONE_PASSWORD, ""),
            "project_name": opts.get("keystone_project"),
            "user_domain_name": opts.get("keystone_user_domain") or "Default",
            "project_domain_name": opts.get("keystone_project_domain") or "Default"}


def check_auth(host: str, opts: dict) -> None:
    """Refuse what cannot be safe or cannot work, before anything starts."""
    mode = opts.get("auth", "noauth")
    if mode == "noauth" and not _loopback(host):
        raise ConfigError(
            "refusing to serve without authentication on %s: no-auth mode makes every caller "
            "an admin. Bind to 127.0.0.1, or use --auth keystone --keystone-url URL "
            "(with the service user's --keystone-user/--keystone-password/"
            "--keystone-project)." % host)
    if mode == "keystone":
        plugin = _keystone_plugin_options(opts)
        if (opts.get("keystone_auth_type") or "password") == "v3applicationcredential":
            missing = [o for o in ("keystone_url", "keystone_application_credential_id")
                       if not opts.get(o)]
            if not plugin["application_credential_secret"]:
                missing.append("keystone_application_credential_secret")
            env = ENV_KEYSTONE_APP_CRED_SECRET
        else:
            missing = [o for o in ("keystone_url", "keystone_user", "keystone_project")
                       if not opts.get(o)]
            if not plugin["password"]:
                missing.append("keystone_password")
            env = ENV_KEYSTONE_PASSWORD
        if missing:
            raise ConfigError("--auth keystone needs %s (the secret may come from $%s)" % (
                ", ".join("--" + m.replace("_", "-") for m in missing), env))
        for name in ("cafile", "certfile", "keyfile"):
            path = opts.get("keystone_" + name)
            if path and not os.path.isfile(path):
                raise ConfigError("--keystone-%s %s: no such file" % (name, path))
        if opts.get("keystone_keyfile") and not opts.get("keystone_certfile"):
            raise ConfigError("--keystone-keyfile needs --keystone-certfile")
        from keystoneauth1 import exceptions as ks_exc
        errors = (OSError, ValueError, ks_exc.ClientException)
    else:
        errors = (OSError, ValueError)
    try:
        build_auth(opts)
    except errors as e:
        raise ConfigError("cannot use the auth options: %s" % e)


def check_nova(opts: dict) -> None:
    """The notifier's options are complete when it is on (``auth_url`` given)."""
    if not opts or not opts.get("auth_url"):
        return
    missing = ["--nova-" + o for o in ("username", "project") if not opts.get(o)]
    if not (opts.get("password") or os.environ.get(nova_notifier.ENV_PASSWORD)):
        missing.append("--nova-password")
    if missing:
        raise ConfigError("--nova-auth-url needs %s (the password may come from $%s)" % (
            ", ".join(missing), nova_notifier.ENV_PASSWORD))


def _loopback(host):
    if host in ("localhost", ""):
        return host == "localhost"
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def build_plugins(cfg: Optional[PluginConfig] = None) -> Plugins:
    """The plugin of every resource in the definitions (each names its ``module:Class``),
    core first, in the order the API lists them."""
    plugins = Plugins(cfg)
    for res in definitions.RESOURCES.values():
        module, _, cls = res.plugin.partition(":")
        plugins.add(res.collection, getattr(importlib.import_module(module), cls)(plugins))
    quotas.configure(plugins, plugins.cfg.quotas)
    return plugins


def plugin_config(settings: dict) -> PluginConfig:
    """The ML2 settings of the server's options as a PluginConfig."""
    cfg = PluginConfig()
    if settings.get("network_vlan_ranges") is not None:
        cfg.network_vlan_ranges = {name: tuple(tuple(r) for r in ranges)
                                   for name, ranges in settings["network_vlan_ranges"].items()}
    for key in ("type_drivers", "tenant_network_types", "flat_networks"):
        if settings.get(key) is not None:
            setattr(cfg, key, tuple(settings[key]))
    for key in ("vni_ranges", "gre_ranges"):
        if settings.get(key):
            setattr(cfg, key, tuple(tuple(r) for r in settings[key]))
    if settings.get("quotas"):
        cfg.quotas = dict(settings["quotas"])
    return cfg


def check_types(settings: dict) -> None:
    """ML2 refuses to start with a tenant network type it has no type driver for."""
    cfg = plugin_config(settings)
    missing = [t for t in cfg.tenant_network_types if t not in cfg.type_drivers]
    if missing:
        raise ConfigError("tenant network type %s has no type driver: add it to "
                          "--type-drivers ([ml2] type_drivers) or remove it from "
                          "--tenant-network-types" % ", ".join(missing))


def build_app(url: str, settings: Optional[dict] = None) -> Api:
    """The ASGI app on database ``url``; ``settings`` as DEFAULTS (the server's options)."""
    settings = dict(DEFAULTS, **(settings or {}))
    agents.configure(settings["agent_down_time"], settings.get("mechanism_drivers") or (),
                     settings.get("agent_retention", agents.RETENTION))
    db = Database(url)
    cfg = plugin_config(settings)
    plugins = build_plugins(cfg)
    notifier = nova_notifier.from_settings(settings.get("nova"))
    if notifier is not None:
        nova_events.subscribe(notifier.queue)
    auth = build_auth(settings["auth"])
    health = Healthcheck(db, keystone_url=getattr(auth, "url", None),
                         disable_file=settings.get("healthcheck_disable_file"))
    api = Api(db, plugins, Channel(db, plugins), auth=auth, max_body=settings["max_body"],
              max_limit=settings["max_limit"], health=health)
    api.metrics = metrics_mod.Metrics(db, api.routes, settings.get("metrics_allow"),
                                      controllers=api.controllers)
    return api


def factory() -> Api:
    """uvicorn's app factory for worker processes (URL and settings come through the
    environment)."""
    logs.setup_from_env()
    return build_app(os.environ[ENV_DB], json.loads(os.environ.get(ENV_SETTINGS) or "{}"))


def run(bind: str, url: str, workers: int = 1, log_level: str = "warning",
        settings: Optional[dict] = None, keep_alive: float = KEEP_ALIVE) -> None:
    host, _, port = bind.rpartition(":")
    settings = settings or {}
    check_auth(host or "127.0.0.1", settings.get("auth") or {})
    check_nova(settings.get("nova"))
    check_types(settings)
    try:
        prepare_database(url)
    except MissingDriver as e:
        raise ConfigError(str(e))
    os.environ[ENV_DB] = url
    os.environ[ENV_SETTINGS] = json.dumps(settings)
    if workers > 1:
        # the workers share their request metrics through files in a directory of their own,
        # named by this process: a killed server's is removed by the next one
        for old in glob.glob(os.path.join(tempfile.gettempdir(), METRICS_DIR + "*")):
            pid = old.rsplit("-", 1)[-1]
            if pid.isdigit() and not os.path.exists("/proc/" + pid):
                shutil.rmtree(old, ignore_errors=True)
        shared = os.path.join(tempfile.gettempdir(), METRICS_DIR + str(os.getpid()))
        shutil.rmtree(shared, ignore_errors=True)
        os.makedirs(shared)
        atexit.register(shutil.rmtree, shared, True)
        os.environ[metrics_mod.ENV_MULTIPROC] = shared
    config = uvicorn.Config(
        "trunkline.server:factory", factory=True, host=host or "127.0.0.1", port=int(port),
        workers=workers, loop="uvloop", http="trunkline.api.http:Protocol",
        log_level=log_level, access_log=False, server_header=False, date_header=False,
        log_config=None,  # trunkline's own logging (logs.py); api/access.py logs requests
        timeout_keep_alive=keep_alive,
        # open long polls (agents' watches) must not hold a shutdown for their timeout
        timeout_graceful_shutdown=3)
    if workers > 1:
        from uvicorn.supervisors import Multiprocess
        sock = config.bind_socket()
        threading.Thread(target=_notify_when_serving, args=(host or "127.0.0.1", int(port)),
                         daemon=True).start()
        Multiprocess(config, sockets=[sock]).run()
        return
    config.load_app()
    server = _Server(config)
    server.run()
    if not server.started:
        raise SystemExit(3)


def _notify_when_serving(host, port, patience=120.0):
    """Several workers: tell systemd once one of them answers (the supervisor has no hook)."""
    deadline = time.monotonic() + patience
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection(host, port, timeout=2)
            conn.request("GET", "/")
            if conn.getresponse().status == 200:
                sdnotify.notify("READY=1")
                return
        except OSError:
            pass
        finally:
            conn.close()
        time.sleep(0.1)


class _Server(uvicorn.Server):
    """uvicorn's server that tells systemd once it listens."""

    async def startup(self, sockets=None):
        await super().startup(sockets=sockets)
        if self.started:
            sdnotify.notify("READY=1")
