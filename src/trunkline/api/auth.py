"""Who is calling. ``noauth``: everyone is an admin (Neutron's noauth mode; loopback only).
``keystone``: ``X-Auth-Token`` is validated against Keystone as keystonemiddleware does
(``GET /v3/auth/tokens`` with ``X-Subject-Token``, authenticated as trunkline's service user
through a keystoneauth1 plugin and session, TLS options included), with a bounded cache whose
entries end with the token or after a short TTL. Validation runs in a small thread pool so the
event loop keeps serving everyone else; one token is validated once even when many requests
bring it at the same time. As in keystonemiddleware, a token made from an application
credential with access rules may only make the requests its rules allow, and a service token
(``X-Service-Token``) with a service role lets an expired user token through and lifts the
access rules (a service acting for the user).

The agent channel accepts a per-deployment secret (``X-Trunkline-Agent-Secret``) and, with
Keystone, a token holding the ``service`` or ``admin`` role."""
import asyncio
import collections
import concurrent.futures
import datetime
import functools
import hashlib
import hmac
import logging
import re
import time

from trunkline import exceptions as exc
from trunkline.api import context as context_mod

LOG = logging.getLogger(__name__)
AGENT_SECRET_HEADER = "x-trunkline-agent-secret"
AGENT_ROLES = ("service", "admin")
# declares that trunkline enforces access rules: without it Keystone refuses to validate a
# token made from an application credential that has any (keystonemiddleware sends "1")
ACCESS_RULES_SUPPORT = {"OpenStack-Identity-Access-Rules": "1"}
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
    """``auth_type`` and ``auth_options`` are keystoneauth1's plugin name and options for the
    service user (``password``: username, password, project_name, ...;
    ``v3applicationcredential``: application_credential_id, application_credential_secret);
    ``tls`` holds ``cafile``, ``certfile``, ``keyfile``, ``insecure`` for the connection to
    Keystone (keystonemiddleware's options of the same names)."""

    def __init__(self, policy, url, auth_type="password", auth_options=None, tls=None,
                 service_type="network", service_token_roles=("service",),
                 service_token_roles_required=True, cache_ttl=300.0, cache_size=10000,
                 agent_secret=None, timeout=10.0):
        from keystoneauth1 import loading  # only a Keystone server loads keystoneauth1
        self.policy = policy
        self.agent_secret = agent_secret
        self.url = _v3(url)
        self.service_type = service_type
        self.service_roles = {r.lower() for r in service_token_roles}
        self.service_roles_required = service_token_roles_required
        tls = tls or {}
        auth = loading.get_plugin_loader(auth_type).load_from_options(
            auth_url=self.url, **{k: v for k, v in (auth_options or {}).items() if v})
        self.session = loading.session.Session().load_from_options(
            auth=auth, timeout=timeout, insecure=bool(tls.get("insecure")),
            cacert=tls.get("cafile") or None, cert=tls.get("certfile") or None,
            key=tls.get("keyfile") or None)
        self.cache = TokenCache(cache_size, cache_ttl)
        self.pool = concurrent.futures.ThreadPoolExecutor(4, thread_name_prefix="keystone")
        self.pending = {}

    def www_authenticate(self):
        return 'Keystone uri="%s"' % self.url.rsplit("/v3", 1)[0]

    async def context(self, req):
        token = await self.authenticate(req)
        ctx = context_mod.from_token(token, req.request_id, is_admin=False)
        if self.policy.is_admin(ctx):
            ctx = context_mod.from_token(token, req.request_id, is_admin=True)
        return ctx

    async def check_agent(self, req):
        if self.agent_secret is not None and _secret_ok(req, self.agent_secret):
            return
        token = await self.authenticate(req)
        if not _roles(token).intersection(AGENT_ROLES):
            raise exc.HTTPUnauthorized("The agent channel needs the agent secret or a token "
                                       "with the service or admin role.")

    async def authenticate(self, req):
        """The user token's body, as keystonemiddleware's auth_token accepts it: a service
        token (``X-Service-Token``), when sent, must be valid and (unless
        ``service_token_roles_required`` is off) hold a service role, else 401; only a service
        token holding one lets an expired user token through (``allow_expired``) and frees the
        request from the user token's application credential access rules."""
        service_token = req.headers.get("x-service-token")
        allow_expired = False
        if service_token:
            service = await self.validate(service_token)
            allow_expired = bool(_roles(service).intersection(self.service_roles))
            if self.service_roles_required and not allow_expired:
                LOG.info("refused a service token without any of the roles %s",
                         ", ".join(sorted(self.service_roles)))
                raise exc.HTTPUnauthorized()
        token = await self.validate(req.headers.get("x-auth-token"), allow_expired)
        self.check_access_rules(req, token, bool(service_token))
        return token

    def check_access_rules(self, req, token, service_token):
        """keystonemiddleware's ``validate_allowed_request``: a token from an application
        credential with access rules may only make the requests one rule names (method,
        service type, path template); anything else answers 401."""
        app_cred = token.get("application_credential") or {}
        rules = app_cred.get("access_rules")
        if rules is None:
            return
        if not any(s.get("type") == self.service_type for s in token.get("catalog") or ()):
            LOG.warning("application credential %s has access rules, but Keystone's catalog "
                        "has no %r service to check them for", app_cred.get("id"),
                        self.service_type)
            raise exc.HTTPUnauthorized()
        if service_token:
            return  # a service acting for the user, not the user's own request
        for rule in rules:
            if rule.get("method") == req.method and rule.get("service") == self.service_type \
                    and path_matches(req.path, rule.get("path") or ""):
                return
        LOG.info("application credential %s: no access rule allows %s %s",
                 app_cred.get("id"), req.method, req.path)
        raise exc.HTTPUnauthorized()

    async def validate(self, token, allow_expired=False):
        """The token's body from Keystone (cached); HTTPUnauthorized when missing or invalid.
        ``allow_expired`` accepts a token that has expired (Keystone's ``allow_expired``)."""
        if not token:
            raise exc.HTTPUnauthorized()
        token = token.strip()
        key = hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()
        body = self.cache.get(key)  # only tokens that have not expired are cached
        if body is not None:
            return body
        future = self.pending.get((key, allow_expired))
        if future is None:
            future = asyncio.get_running_loop().run_in_executor(
                self.pool, self._fetch, token, allow_expired)
            self.pending[(key, allow_expired)] = future
            future.add_done_callback(lambda _: self.pending.pop((key, allow_expired), None))
        body = await asyncio.shield(future)
        self.cache.put(key, body, _expires(body))
        return body

    def _fetch(self, token, allow_expired=False):
        from keystoneauth1 import exceptions as ks_exc
        try:
            # one retry: a kept-alive connection the server already closed is not an outage
            resp = self.session.get(self.url + "/auth/tokens", raise_exc=False,
                                    headers={"X-Subject-Token": token, **ACCESS_RULES_SUPPORT},
                                    connect_retries=1,
                                    params={"allow_expired": 1} if allow_expired else None)
        except ks_exc.SSLError as e:
            LOG.error("TLS with Keystone at %s failed, no token can be validated: %s (give "
                      "Keystone's CA bundle with --keystone-cafile, and a client certificate "
                      "with --keystone-certfile/--keystone-keyfile if it wants one)", self.url, e)
            raise exc.HTTPServiceUnavailable(KEYSTONE_DOWN)
        except (ks_exc.ConnectFailure, ks_exc.ConnectTimeout, ks_exc.DiscoveryFailure,
                ks_exc.RequestTimeout, ks_exc.Unauthorized) as e:
            LOG.warning("cannot validate a token with Keystone at %s: %s", self.url, e)
            raise exc.HTTPServiceUnavailable(KEYSTONE_DOWN)
        if resp.status_code == 200:
            return resp.json()["token"]
        if resp.status_code in (401, 404):
            raise exc.HTTPUnauthorized()
        LOG.warning("Keystone at %s answered %s to a token validation: %s", self.url,
                    resp.status_code, resp.text[:200])
        raise exc.HTTPServiceUnavailable(KEYSTONE_DOWN)


@functools.lru_cache(maxsize=1024)
def _path_regex(template):
    """An access rule's path template as a regex, as keystonemiddleware reads it: ``*`` and
    ``{name}`` are one path segment, ``**`` any number of them (slashes included). Unlike
    keystonemiddleware, other characters match only themselves (it leaves ``.`` a wildcard)."""
    out = []
    for m in re.finditer(r"(?P<tag>{[^}]*})|(?P<wild>\*(?=$|[^*]))|(?P<any>\*\*)|(?P<lit>[^{}*])",
                         template):
        if m.group("tag") or m.group("wild"):
            out.append(r"[^/]+")
        elif m.group("any"):
            out.append(".*")
        else:
            out.append(re.escape(m.group("lit")))
    return re.compile("^%s$" % "".join(out))


def path_matches(path, template):
    return _path_regex(template).match(path) is not None


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


def _roles(token):
    return {r["name"].lower() for r in token.get("roles") or ()}


def _secret_ok(req, secret):
    given = req.headers.get(AGENT_SECRET_HEADER, "")
    return hmac.compare_digest(given.encode("utf-8", "surrogateescape"), secret.encode())


def _v3(url):
    url = url.rstrip("/")
    return url if url.endswith("/v3") else url + "/v3"
