"""Who is calling. ``noauth``: everyone is an admin (Neutron's noauth mode; loopback only).
``keystone``: ``X-Auth-Token`` is validated against Keystone as keystonemiddleware does
(``GET /v3/auth/tokens`` with ``X-Subject-Token``, authenticated as trunkline's service user
through keystoneauth1), with a bounded cache whose entries end with the token or after a short
TTL. Validation runs in a small thread pool so the event loop keeps serving everyone else; one
token is validated once even when many requests bring it at the same time.

The agent channel accepts a per-deployment secret (``X-Trunkline-Agent-Secret``) and, with
Keystone, a token holding the ``service`` or ``admin`` role."""
import asyncio
import collections
import concurrent.futures
import datetime
import hashlib
import hmac
import logging
import time

from trunkline import exceptions as exc
from trunkline.api import context as context_mod

LOG = logging.getLogger(__name__)
AGENT_SECRET_HEADER = "x-trunkline-agent-secret"
AGENT_ROLES = ("service", "admin")
KEYSTONE_DOWN = ("The identity service (Keystone) could not be reached to validate the token; "
                 "try again later.")


def read_secret(path):
    """The agent secret: the file's first line, which must not be empty."""
    with open(path) as f:
        secret = f.readline().strip()
    if not secret:
        raise ValueError("agent secret file %s is empty" % path)
    return secret


class NoAuth:
    def __init__(self, policy, agent_secret=None):
        self.policy = policy
        self.agent_secret = agent_secret

    async def context(self, req):
        return context_mod.noauth(req.headers, req.request_id)

    async def check_agent(self, req):
        """Open on loopback unless a secret is configured."""
        if self.agent_secret is not None and not _secret_ok(req, self.agent_secret):
            raise exc.HTTPUnauthorized()

    def www_authenticate(self):
        return None


class KeystoneAuth:
    def __init__(self, policy, url, username, password, project_name, user_domain="Default",
                 project_domain="Default", cache_ttl=300.0, cache_size=10000,
                 agent_secret=None, timeout=10.0):
        from keystoneauth1 import session  # only a Keystone server loads keystoneauth1
        from keystoneauth1.identity import v3
        self.policy = policy
        self.agent_secret = agent_secret
        self.url = _v3(url)
        auth = v3.Password(auth_url=self.url, username=username, password=password,
                           project_name=project_name, user_domain_name=user_domain,
                           project_domain_name=project_domain)
        self.session = session.Session(auth=auth, timeout=timeout)
        self.cache = TokenCache(cache_size, cache_ttl)
        self.pool = concurrent.futures.ThreadPoolExecutor(4, thread_name_prefix="keystone")
        self.pending = {}

    def www_authenticate(self):
        return 'Keystone uri="%s"' % self.url.rsplit("/v3", 1)[0]

    async def context(self, req):
        token = await self.validate(req.headers.get("x-auth-token"))
        ctx = context_mod.from_token(token, req.request_id, is_admin=False)
        if self.policy.is_admin(ctx):
            ctx = context_mod.from_token(token, req.request_id, is_admin=True)
        return ctx

    async def check_agent(self, req):
        if self.agent_secret is not None and _secret_ok(req, self.agent_secret):
            return
        token = await self.validate(req.headers.get("x-auth-token"))
        roles = {r["name"].lower() for r in token.get("roles") or ()}
        if not roles.intersection(AGENT_ROLES):
            raise exc.HTTPUnauthorized("The agent channel needs the agent secret or a token "
                                       "with the service or admin role.")

    async def validate(self, token):
        """The token's body from Keystone (cached); HTTPUnauthorized when missing or invalid."""
        if not token:
            raise exc.HTTPUnauthorized()
        key = hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()
        body = self.cache.get(key)
        if body is not None:
            return body
        future = self.pending.get(key)
        if future is None:
            future = asyncio.get_running_loop().run_in_executor(self.pool, self._fetch, token)
            self.pending[key] = future
            future.add_done_callback(lambda _: self.pending.pop(key, None))
        body = await asyncio.shield(future)
        self.cache.put(key, body, _expires(body))
        return body

    def _fetch(self, token):
        from keystoneauth1 import exceptions as ks_exc
        try:
            # one retry: a kept-alive connection the server already closed is not an outage
            resp = self.session.get(self.url + "/auth/tokens", raise_exc=False,
                                    headers={"X-Subject-Token": token}, connect_retries=1)
        except (ks_exc.ConnectFailure, ks_exc.ConnectTimeout, ks_exc.DiscoveryFailure,
                ks_exc.RequestTimeout, ks_exc.Unauthorized, ks_exc.SSLError) as e:
            LOG.warning("cannot validate a token with Keystone at %s: %s", self.url, e)
            raise exc.HTTPServiceUnavailable(KEYSTONE_DOWN)
        if resp.status_code == 200:
            return resp.json()["token"]
        if resp.status_code in (401, 404):
            raise exc.HTTPUnauthorized()
        LOG.warning("Keystone at %s answered %s to a token validation: %s", self.url,
                    resp.status_code, resp.text[:200])
        raise exc.HTTPServiceUnavailable(KEYSTONE_DOWN)


class TokenCache:
    """Validated tokens by hash: at most ``size`` (least recently used leave first), each until
    its token expires or ``ttl`` seconds pass, whichever is first (so a revoked token stops
    working within ``ttl``)."""

    def __init__(self, size, ttl):
        self.size = size
        self.ttl = ttl
        self.entries = collections.OrderedDict()

    def get(self, key):
        entry = self.entries.get(key)
        if entry is None:
            return None
        body, until = entry
        if time.monotonic() >= until:
            del self.entries[key]
            return None
        self.entries.move_to_end(key)
        return body

    def put(self, key, body, expires_in):
        lifetime = min(self.ttl, expires_in)
        if lifetime <= 0:
            return
        self.entries[key] = (body, time.monotonic() + lifetime)
        self.entries.move_to_end(key)
        while len(self.entries) > self.size:
            self.entries.popitem(last=False)


def _expires(body):
    """Seconds until the token expires (0 when Keystone gave no usable time)."""
    try:
        at = datetime.datetime.fromisoformat(body["expires_at"].replace("Z", "+00:00"))
    except (KeyError, TypeError, ValueError):
        return 0.0
    return (at - datetime.datetime.now(datetime.timezone.utc)).total_seconds()


def _secret_ok(req, secret):
    given = req.headers.get(AGENT_SECRET_HEADER, "")
    return hmac.compare_digest(given.encode("utf-8", "surrogateescape"), secret.encode())


def _v3(url):
    url = url.rstrip("/")
    return url if url.endswith("/v3") else url + "/v3"
