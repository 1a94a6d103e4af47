"""HTTP JSON client for the agent channel (`/agent/v1`, docs/agent-channel.md): stdlib HTTP,
keeping one connection per server and thread alive between calls, and orjson (the server's
encoder) for the bodies — a 20-host x 50-port state is ~75 kB to decode on every pass.

The client knows a list of servers (all stateless, on one database) and talks to one at a
time; when that one fails (connection refused or reset, timeout, 5xx) it moves to the next
and repeats the call there, once around the list, before it gives up with the last error.
"""
import http.client
import logging
import threading
import urllib.parse

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
        self._local = threading.local()     # each thread's kept connections

    def begin(self, request_id):
        """Send ``request_id`` as ``X-OpenStack-Request-ID`` on this thread's calls from now
        on: the server's log names the agent's pass with it."""
        self._local.request_id = request_id

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
        target = urllib.parse.urlsplit(base)
        url = target.path + path
        if query:
            url += "?" + urllib.parse.urlencode(query)
        data = orjson.dumps(body) if body is not None else None
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.secret:
            headers[SECRET_HEADER] = self.secret
        request_id = getattr(self._local, "request_id", None)
        if request_id:
            headers["X-OpenStack-Request-ID"] = request_id
        timeout = timeout or self.timeout
        for attempt in range(2):
            conn, reused = self._connection(target, timeout)
            try:
                conn.request(method, url, body=data, headers=headers)
                r = conn.getresponse()
                raw = r.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self._drop(target)
                if reused and attempt == 0:
                    continue    # the server closed the kept connection meanwhile: a new one
                raise
            except BaseException:
                self._drop(target)
                raise
            if r.will_close:
                self._drop(target)
            break
        if r.status >= 400:
            msg = raw.decode(errors="replace")[:300]
            if r.status == 410:
                raise Gone(410, msg)
            raise ChannelError(r.status, msg)
        return orjson.loads(raw) if raw else None

    def _connection(self, target, timeout):
        """(this thread's kept-alive connection to ``target``, whether it served before): one
        TCP connection per server instead of one per call spares the server a connection
        setup for each of a thousand agents' heartbeats, watches and state fetches."""
        conns = self._local.__dict__.setdefault("conns", {})
        conn = conns.get(target)
        reused = conn is not None
        if conn is None:
            kind = http.client.HTTPSConnection if target.scheme == "https" \
                else http.client.HTTPConnection
            conn = conns[target] = kind(target.netloc, timeout=timeout)
        conn.timeout = timeout
        if conn.sock is not None:
            conn.sock.settimeout(timeout)
        return conn, reused

    def _drop(self, target):
        conn = self._local.__dict__.get("conns", {}).pop(target, None)
        if conn is not None:
            conn.close()

    def register(self, agent_type, binary, configurations, start_flag=False,
                 pass_seconds=None):
        """Register or heartbeat (upsert by host and agent type); ``start_flag`` on the first
        report after a (re)start moves the agent's ``started_at``; ``pass_seconds``: how long
        the last pass took (the server's metrics)."""
        body = {"host": self.host, "agent_type": agent_type, "binary": binary,
                "configurations": configurations}
        if start_flag:
            body["start_flag"] = True
        if pass_seconds is not None:
            body["pass_seconds"] = pass_seconds
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
