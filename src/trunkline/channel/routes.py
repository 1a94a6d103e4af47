"""The agent channel's HTTP routes under ``/agent/v1`` (docs/agent-channel.md). Handlers
answer ``(status, payload)``; the API application turns that into the response. The watch
awaits, and so does a state fetch (to be read with the others asked for at the same time,
channel/batch.py); everything else is one short transaction, like the Neutron API."""
import math
import re

from trunkline import exceptions as exc
from trunkline.channel import dhcp, health, register, reports, wake, watch
from trunkline.channel.batch import StateBatcher
from trunkline.channel.feed import Feed
from trunkline.channel.notify import Notifier

_STATE = re.compile(r"^/agent/v1/hosts/([^/]+)/state$")
DEFAULT_WATCH_TIMEOUT = 30.0


class Channel:
    def __init__(self, db, plugins):
        self.db = db
        self.plugins = plugins
        self.agents = plugins["agents"]
        wake.subscribe()            # every change tells the agents it concerns
        self.notifier = Notifier()
        db.on_commit.append(self.notifier.notify)
        db.listen(self.notifier.notify)     # PostgreSQL: other servers' commits too
        self.states = StateBatcher(db)
        self.feed = Feed(db, self.notifier)
        self.notifier.sort = self.feed.sort     # a commit wakes only the watches it concerns

    async def periodic(self):
        """The server's background work while it runs: the agent check (channel/health.py)."""
        await health.run(self.db)

    async def dispatch(self, req):
        path = req.path.rstrip("/")
        m = _STATE.match(path)
        if m:
            _only(req, "GET")
            return 200, await self.states.get(m.group(1), _flag(req, "dhcp"))
        if path == "/agent/v1/watch":
            _only(req, "GET")
            return 200, await self.watch(req)
        handler = {"/agent/v1/agents": self.register, "/agent/v1/status": self.status,
                   "/agent/v1/dhcp-port": self.dhcp_port}.get(path)
        if handler is None:
            raise exc.HTTPNotFound()
        _only(req, "POST")
        return handler(req.json())

    def register(self, body):
        rep = register.parse(body)
        row = self.db.write_unlogged(register.heartbeat, rep)
        if row is not None:
            return 200, {"agent": self.agents.dicts(None, [row])[0]}
        agent_id = self.db.write(register.report, rep)
        with self.db.read() as conn:
            return 200, {"agent": self.agents.get(conn, None, agent_id)}

    async def watch(self, req):
        params = dict(req.params)
        host = params.get("host")
        if not host:
            raise exc.InvalidInput(error_message="watch needs a 'host'")
        since = _number(params, "since", int, 0)
        timeout = _number(params, "timeout", float, DEFAULT_WATCH_TIMEOUT)
        return await watch.watch(self.feed, since, host, timeout, _flag(req, "dhcp"),
                                 req.receive)

    def status(self, body):
        self.db.write(reports.apply, *reports.parse(body))
        return 204, None

    def dhcp_port(self, body):
        host, network_id = dhcp.parse(body)
        ports = self.plugins["ports"]
        port_id = self.db.write(dhcp.ensure, ports, host, network_id)
        with self.db.read() as conn:
            return 200, {"port": ports.get(conn, None, port_id)}


def _only(req, method):
    if req.method != method:
        raise exc.HTTPMethodNotAllowed()


def _flag(req, name):
    return dict(req.params).get(name, "").lower() in ("1", "true", "yes")


def _number(params, name, kind, default):
    if name not in params:
        return default
    try:
        value = kind(params[name])
    except ValueError:
        value = -1
    if not math.isfinite(value) or value < 0:
        raise exc.InvalidInput(error_message="'%s' must be a non-negative number" % name)
    return value
