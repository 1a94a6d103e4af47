"""HTTP JSON client for the agent channel (`/agent/v1`, docs/agent-channel.md): stdlib HTTP,
orjson (the server's encoder) for the bodies — a 20-host x 50-port state is ~75 kB to decode on
every pass.

The client knows a list of servers (all stateless, on one database) and talks to one at a
time; when that one fails (connection refused or reset, timeout, 5xx) it moves to the next
and repeats the call there, once around the list, before it gives up with the last error.
"""
import http.client
import logging
import urllib.error
import urllib.parse
import urllib.request

import orjson

LOG = logging.getLogger(__name__)


class ChannelError(RuntimeError):
    """The server answered with an unexpected status (carries `.status`)."""

    def __init__(self, status, message):
        super().__init__("HTTP %s: %s" % (status, message))
        self.status = status


class Gone(ChannelError):
    """410 from watch: the revision is older than the change log; refetch the state."""


SECRET_HEADER = "X-Trunkline-Agent-Secret"


def read_secret(path):
    """The deployment's agent secret: the first line of the file."""
    with open(path) as f:
        return f.readline().strip()


def server_list(servers):
    """``servers``: "URL1,URL2,..." or a list of URLs; returns the list (at least one)."""
    if isinstance(servers, str):
        servers = servers.split(",")
    servers = [s.strip().rstrip("/") for s in servers if s.strip()]
    if not servers:
        raise ValueError("no server URL given")
    return servers


class ChannelClient:
    def __init__(self, servers, host, timeout=10.0, secret=None):
        self.servers = server_list(servers)
        self.current = 0
        self.host = host
        self.timeout = timeout
        self.secret = secret

    @property
    def base(self):
        """The server in use."""
        return self.servers[self.current]

    def _call(self, method, path, body=None, query=None, timeout=None):
        for attempt in range(len(self.servers)):
            base = self.base
            try:
                return self._call_one(base, method, path, body, query, timeout)
            except (ChannelError, OSError, http.client.HTTPException) as e:
                server_failed = not isinstance(e, ChannelError) or e.status >= 500
                if not server_failed or attempt == len(self.servers) - 1:
                    raise
                if self.base == base:   # (another thread may have moved on already)
                    self.current = (self.current + 1) % len(self.servers)
                LOG.warning("server %s failed (%s); switching to %s", base, e, self.base)

    def _call_one(self, base, method, path, body, query, timeout):
        url = base + path
        if query:
            url += "?" + urllib.parse.urlencode(query)
        data = orjson.dumps(body) if body is not None else None
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.secret:
            headers[SECRET_HEADER] = self.secret
        req = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=timeout or self.timeout) as r:
                raw = r.read()
                return orjson.loads(raw) if raw else None
        except urllib.error.HTTPError as e:
            msg = e.read().decode(errors="replace")[:300]
            if e.code == 410:
                raise Gone(410, msg) from None
            raise ChannelError(e.code, msg) from None

    def register(self, agent_type, binary, configurations, start_flag=False):
        """Register or heartbeat (upsert by host and agent type); ``start_flag`` on the first
        report after a (re)start moves the agent's ``started_at``."""
        body = {"host": self.host, "agent_type": agent_type, "binary": binary,
                "configurations": configurations}
        if start_flag:
            body["start_flag"] = True
        return self._call("POST", "/agent/v1/agents", body)

    def state(self, dhcp=False):
        return self._call("GET", "/agent/v1/hosts/%s/state" % urllib.parse.quote(self.host),
                          query={"dhcp": 1} if dhcp else None)

    def status(self, ports, trunks):
        return self._call("POST", "/agent/v1/status",
                          {"host": self.host, "ports": ports, "trunks": trunks})

    def dhcp_port(self, network_id):
        return self._call("POST", "/agent/v1/dhcp-port",
                          {"host": self.host, "network_id": network_id})["port"]

    def watch(self, since, timeout=30, dhcp=False):
        """Long poll: the new revision (== since when nothing changed); raises Gone on 410.
        A DHCP agent watches every port change (``dhcp=1``): all ports reach its host files."""
        query = {"since": since, "host": self.host, "timeout": timeout}
        if dhcp:
            query["dhcp"] = 1
        res = self._call("GET", "/agent/v1/watch", query=query, timeout=timeout + 10)
        return res["revision"]
