"""The HTTP side of the Neutron v2.0 API as a small ASGI application: routing, bodies, list
parameters, tags, If-Match, request ids, and the NeutronError body for every failure.

Database work is short and synchronous, so it runs on the event loop directly; the loop stays
free for long polls because those never hold a connection while they wait. ``/agent/v1/...``
goes to the agent channel (channel/routes.py), whose dispatch is async for the watch.

Every request but the version list is authenticated first (api/auth.py) and every resource
operation is checked against the policy (api/policy.py) the way Neutron does: what the caller
may not see answers 404, what it may see but not change answers 403, and attributes it may not
read are left out of every answer.
"""
from __future__ import annotations

import asyncio
import importlib
import logging
import re
import time
import uuid
from typing import TYPE_CHECKING, Any, Optional
from urllib.parse import parse_qsl

import orjson

from trunkline import definitions
from trunkline import exceptions as exc
from trunkline.api import body as body_mod
from trunkline.api import auth as auth_mod
from trunkline.api import access, listing, openapi
from trunkline.api.policy import Policy
from trunkline.definitions import MAX_TAG_LENGTH, MAX_TAGS, Action, Resource, validators
from trunkline.definitions import binding_extended
from trunkline.plugins import port_bindings, quotas, scope, tags as tags_mod

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

LOG = logging.getLogger(__name__)
MAX_BODY = 114688  # oslo.middleware's max_request_body_size default, as Neutron
# An agent's status report names every port on its host (4094 subports: ~200 kB); the channel
# is not the tenant API, so it keeps its own, larger bound.
CHANNEL_MAX_BODY = 10 * 1024 * 1024
JSON = [(b"content-type", b"application/json")]

_ID_PATH = re.compile(r"^/v2\.0/([a-z_-]+)(?:/([^/]+)(?:/([a-z_]+)(?:/(.+))?)?)?$")


class Request:
    def __init__(self, scope, body, receive=None):
        self.receive = receive  # a long poll (the channel's watch) ends when the client goes
        self.method = scope["method"]
        self.path = scope["path"]
        self.params = parse_qsl(scope.get("query_string", b"").decode("latin-1"),
                                keep_blank_values=True)
        self.headers = {k.decode("latin-1").lower(): v.decode("latin-1")
                        for k, v in scope.get("headers", [])}
        self.body = body
        host = self.headers.get("host") or "%s:%s" % tuple(scope.get("server") or ("localhost", 80))
        self.base_url = "%s://%s" % (scope.get("scheme", "http"), host)
        self.request_id = "req-" + str(uuid.uuid4())
        self.global_request_id = access.global_request_id(self.headers)
        self.context = None  # set once the caller is authenticated
        self.policy = None   # the caller's policy checker

    def json(self):
        if not self.body:
            return None
        try:
            data = orjson.loads(self.body)
        except orjson.JSONDecodeError:
            try:
                self.body.decode("utf-8")
            except UnicodeDecodeError:  # webob's words: Neutron cannot even decode it
                raise exc.HTTPBadRequest("The server could not comply with the request since "
                                         "it is either malformed or otherwise incorrect.")
            raise exc.HTTPBadRequest("Body contains invalid data")
        # JSON can only carry NUL escaped; no database text column can store it (PostgreSQL
        # refuses it outright), so a body with a NUL in any string is invalid data.
        if b"\\u0000" in self.body and _has_nul(data):
            raise exc.HTTPBadRequest("Body contains invalid data")
        return data

    def if_match(self):
        value = self.headers.get("if-match")
        if not value:
            return None
        for part in value.split(","):
            key, _, rev = part.strip().partition("=")
            if key == "revision_number":
                try:
                    return int(rev)
                except ValueError:
                    raise exc.BadRequest(resource="if-match", msg="Revision number etag must be "
                                         "in the format of revision_number=<int>")
        return None


def _has_nul(data):
    """Whether any string (key or value) in the decoded JSON holds a NUL. Iterative: orjson
    accepts nesting deeper than Python's recursion limit."""
    stack = [data]
    while stack:
        value = stack.pop()
        if isinstance(value, str):
            if "\x00" in value:
                return True
        elif isinstance(value, dict):
            stack.extend(value)
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return False


class Response:
    __slots__ = ("status", "payload", "headers")

    def __init__(self, status, payload=None):
        self.status = status
        self.payload = payload
        self.headers = []


class Api:
    """Routes Neutron's URLs to the plugin of each resource the definitions declare."""

    def __init__(self, db, plugins, channel=None, auth=None, max_body=MAX_BODY,
                 max_limit=-1, health=None, metrics=None):
        self.auth = auth if auth is not None else auth_mod.NoAuth(Policy())
        self.db = db
        self.max_body = max_body      # bytes; larger bodies answer 413
        self.max_limit = max_limit    # Neutron's pagination_max_limit (-1: none)
        self.plugins = plugins
        self.channel = channel
        # the plugin serving each URL segment (a resource's ``url``: security-groups)
        self.routes = {p.resource.url: p for _, p in plugins.items()}
        self.health = health      # api/health.py's Healthcheck: /healthcheck
        self.metrics = metrics    # api/metrics.py's Metrics: /metrics, and every request timed
        # collections that are not resources of rows (an extension's ``controllers``)
        self.controllers = {url: _load(path)(db, plugins) for ext in definitions.EXTENSIONS
                            for url, path in ext.controllers}

    async def __call__(self, scope, receive, send):
        if scope["type"] == "lifespan":
            return await _lifespan(receive, send,
                                   [self.channel.periodic] if self.channel is not None else [])
        if scope["type"] != "http":
            return
        started = time.perf_counter()
        if scope["path"] in ("/healthcheck", "/metrics"):
            return await self._operations(scope, receive, send)
        limit = CHANNEL_MAX_BODY if scope["path"].startswith("/agent/v1/") else self.max_body
        chunks, size = [], 0
        while True:
            message = await receive()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size <= limit:
                chunks.append(chunk)
            if not message.get("more_body"):
                break
        req = Request(scope, b"".join(chunks), receive)
        try:
            if size > limit:
                raise exc.RequestTooLarge("Request is too large.")
            # No id, tag or host holds a NUL, and PostgreSQL refuses to even compare with one.
            if "\x00" in req.path:
                raise exc.HTTPNotFound()
            if any("\x00" in k or "\x00" in v for k, v in req.params):
                raise exc.HTTPBadRequest("Query string contains invalid data")
            if self.channel is not None and req.path.startswith("/agent/v1/"):
                await self.auth.check_agent(req)
                resp = Response(*await self.channel.dispatch(req))
            else:
                if req.path.rstrip("/") not in ("", "/.json"):  # the version list is public
                    req.context = await self.auth.context(req)
                    req.policy = self.auth.policy.checker(req.context)
                resp = self.dispatch(req)
        except exc.NeutronError as e:
            resp = Response(e.code, e.body())
            if e.code == 401 and self.auth.www_authenticate():
                resp.headers = [(b"www-authenticate", self.auth.www_authenticate().encode())]
        except Exception:  # a bug: log it, answer like Neutron, never leak a traceback
            LOG.exception("unexpected error handling %s %s", req.method, req.path)
            resp = Response(500, {"NeutronError": {
                "type": "HTTPInternalServerError",
                "message": "Request Failed: internal server error while processing your request.",
                "detail": ""}})
        headers = [(b"x-openstack-request-id", req.request_id.encode())] + resp.headers
        if resp.payload is None:
            data = b""
        else:
            data = orjson.dumps(resp.payload)
            headers += JSON
        if self.metrics is not None:    # counted before the answer: a client that has it sees it
            self.metrics.observe(req.method, req.path, resp.status,
                                 time.perf_counter() - started)
        await send({"type": "http.response.start", "status": resp.status,
                    "headers": headers + [(b"content-length", str(len(data)).encode())]})
        await send({"type": "http.response.body", "body": data})
        access.log(req, scope, resp.status, len(data), started)

    async def _operations(self, scope, receive, send):
        """``/healthcheck`` and ``/metrics``: public, outside the API (no token, no policy)."""
        while (await receive()).get("more_body"):
            pass
        method = scope["method"]
        headers = {k.lower(): v for k, v in scope.get("headers", [])}
        if scope["path"] == "/healthcheck" and self.health is not None:
            status, hdrs, data = await self.health.answer(
                method, headers.get(b"accept", b"").decode("latin-1"))
        elif scope["path"] == "/metrics" and self.metrics is not None:
            if method not in ("GET", "HEAD"):
                status, hdrs, data = 405, [(b"allow", b"GET, HEAD")], b""
            elif not self.metrics.may_scrape(scope.get("client")):
                status, hdrs, data = 403, [(b"content-type", b"text/plain; charset=UTF-8")], \
                    b"Forbidden: this address may not read the metrics (--metrics-allow)"
            else:
                kind, data = self.metrics.render()
                status, hdrs = 200, [(b"content-type", kind.encode())]
        else:
            body = exc.HTTPNotFound().body()
            status, hdrs, data = 404, JSON, orjson.dumps(body)
        await send({"type": "http.response.start", "status": status,
                    "headers": hdrs + [(b"content-length", str(len(data)).encode())]})
        await send({"type": "http.response.body", "body": b"" if method == "HEAD" else data})

    # -- routing

    def dispatch(self, req: Request) -> Response:
        path = req.path.rstrip("/") or "/"
        if path.endswith(".json"):
            path = path[:-5]
        if path == "/":
            return self._only(req, "GET", lambda: Response(200, self.versions(req)))
        if path == "/v2.0":
            return self._only(req, "GET", lambda: Response(200, self.resources(req)))
        if path == "/v2.0/openapi":  # no Neutron collection has this name
            return self._only(req, "GET", lambda: Response(200, openapi.document(
                req.base_url, self.max_body, self.max_limit)))
        m = _ID_PATH.match(path)
        if not m:
            raise exc.HTTPNotFound()
        collection, item, sub, rest = m.groups()
        if collection == "extensions":
            return self._only(req, "GET", lambda: self.extension(item) if item and not sub
                              else Response(200, {"extensions": [
                                  e.wire() for e in definitions.EXTENSIONS]}))
        plugin = self.routes.get(collection)
        if plugin is None:
            controller = self.controllers.get(collection)
            if controller is None:
                raise exc.HTTPNotFound()
            return Response(*controller.handle(req, item, sub, rest))
        if item is None:
            if req.method == "GET":
                return self.list(req, plugin)
            if req.method == "POST":
                return self.create(req, plugin)
            if req.method in ("PUT", "DELETE"):
                self.missing(plugin)
            raise exc.HTTPMethodNotAllowed()
        if sub is None:
            if req.method == "GET":
                return self.show(req, plugin, item)
            if req.method == "PUT":
                return self.update(req, plugin, item)
            if req.method == "DELETE":
                return self.delete(req, plugin, item)
            raise exc.HTTPMethodNotAllowed()
        if sub == "tags" and plugin.resource.tags:
            return self.tags(req, plugin, item, rest)
        if sub == "bindings" and collection == "ports":
            return self.bindings(req, plugin, item, rest)
        action = plugin.resource.action(sub)
        if action is not None and rest is None:
            return self.action(req, plugin, item, action)
        raise exc.HTTPNotFound()

    def missing(self, plugin: Any) -> None:
        """PUT or DELETE on a collection: Neutron routes it to a member whose id is None."""
        with self.db.read() as conn:
            plugin.get_row(conn, None)

    @staticmethod
    def _only(req, method, fn):
        if req.method != method:
            raise exc.HTTPMethodNotAllowed()
        return fn()

    def versions(self, req: Request) -> dict:
        return {"versions": [{"id": "v2.0", "status": "CURRENT", "links": [
            {"href": req.base_url + "/v2.0/", "rel": "self"}]}]}

    def resources(self, req: Request) -> dict:
        return {"resources": [
            {"name": p.resource.member, "collection": name,
             "links": [{"href": "%s/v2.0/%s" % (req.base_url, p.resource.url), "rel": "self"}]}
            for name, p in self.plugins.items()]}

    @staticmethod
    def extension(alias: str) -> Response:
        ext = definitions.extension(alias)
        if ext is None:
            raise exc.HTTPNotFound("Extension with alias %s does not exist" % alias)
        return Response(200, {"extension": ext.wire()})

    # -- policy

    def targets(self, conn: Connection, resource: Resource, items: list) -> list:
        """Policy targets for resource dicts: the item with ``tenant_id``, what the policy
        knows about the network it lives on (``network:project_id``, ``network:shared``, ...;
        the resource's ``network`` attribute names it) and its parent's owner
        (``security_group:project_id``: the resource's ``parent``)."""
        key = resource.network
        nets = {}
        if key is not None and key != "id":
            nets = self.plugins["networks"].owners(conn, {i.get(key) for i in items})
        parent = resource.parent
        owners = {}
        if parent is not None:
            owners = self.plugins[parent.collection].projects(
                conn, {i.get(parent.attr) for i in items})
        out = []
        for item in items:
            target = dict(item)
            target["tenant_id"] = item.get("project_id")
            if parent is not None:
                target[parent.member + ":project_id"] = owners.get(item.get(parent.attr))
            if key == "id":
                net = (item.get("project_id"), item.get("shared"), item.get("router:external"))
            else:
                net = nets.get(item.get(key)) if key is not None else None
            if net is not None:
                target.update(_network_target(net))
            out.append(target)
        return out

    def readable(self, req: Request, conn: Connection, resource: Resource, items: list,
                 visible_only: bool = True) -> list:
        """The items the caller may see, without the attributes it may not read."""
        if req.context.is_admin:
            return items
        member = resource.member
        out = []
        for item, target in zip(items, self.targets(conn, resource, items)):
            values = req.policy.values(target)
            if visible_only and not req.policy.allowed("get_" + member, target, values):
                continue
            hidden = req.policy.hidden(member, target, values)
            out.append({k: v for k, v in item.items() if k not in hidden} if hidden else item)
        return out

    def visible(self, req: Request, conn: Connection, plugin: Any, item_id: str) -> tuple:
        """The item and its policy target; 404 (the resource's own NotFound) when the caller
        may not see it, exactly as when it does not exist."""
        resource = plugin.resource
        item = plugin.get(conn, req.context, item_id)
        if req.context.is_admin:
            return item, item
        target = self.targets(conn, resource, [item])[0]
        if not req.policy.allowed("get_" + resource.member, target):
            raise resource.not_found(item_id)
        return item, target

    def network_for(self, req: Request, conn: Connection,
                    network_id: str) -> Optional[tuple]:
        """The policy's view of the network a new resource goes on; a network the caller may
        not see does not exist for it. None when there is no such network (the plugin answers
        that)."""
        net = self.plugins["networks"].owners(conn, [network_id]).get(network_id)
        if net is None:
            return None
        target = {"project_id": net[0], "tenant_id": net[0], **_network_target(net)}
        if not req.policy.allowed("get_network", target):
            raise definitions.network.not_found(network_id)
        return net

    def check_refs(self, req: Request, conn: Connection, attrs: dict, res: dict,
                   project_id: str) -> None:
        """The resources a write names through attributes that refer to others (a trunk's
        parent and subports): an admin may name any, everyone else those of the project it
        writes in that it can see; any other does not exist for the caller."""
        if req.context.is_admin:
            return
        for name, attr in attrs.items():
            if attr.refers is None or name not in res:
                continue
            plugin = self.plugins[attr.refers]
            for ref in attr.referenced(res[name]):
                try:
                    item = plugin.get(conn, req.context, ref)
                except exc.NotFound:
                    continue  # no such resource: the plugin says so in its own words
                target = self.targets(conn, plugin.resource, [item])[0]
                if item.get("project_id") != project_id or not req.policy.allowed(
                        "get_" + plugin.resource.member, target):
                    raise plugin.resource.not_found(ref)

    def authorize_create(self, req: Request, conn: Connection, resource: Resource,
                         res: dict) -> None:
        if req.context.is_admin:
            return
        if res.get("project_id") not in (None, req.context.project_id) and \
                "service" not in req.context.roles:
            # neutron-lib's check, before any policy: 400, not 403
            raise exc.HTTPBadRequest("Specifying 'project_id' other than the authenticated "
                                     "project in request is not allowed for the current user.")
        member = resource.member
        target = dict(res)
        target["project_id"] = target["tenant_id"] = res.get("project_id") or \
            req.context.project_id
        key = resource.network
        if key not in (None, "id") and isinstance(res.get(key), str):
            net = self.network_for(req, conn, res[key])
            if net is not None:
                target.update(_network_target(net))
                if member == "subnet" and net[0] != target["project_id"]:
                    # a shared network takes other projects' ports, not their subnets
                    raise exc.HTTPForbidden("Tenant not allowed to create subnet on this "
                                            "network")
        parent = resource.parent
        if parent is not None and isinstance(res.get(parent.attr), str):
            target[parent.member + ":project_id"] = self.parent_for(req, conn, parent,
                                                                    res[parent.attr])
        req.policy.enforce_change("create_" + member, resource, res, target, is_create=True)
        self.check_refs(req, conn, resource.attrs, res, target["project_id"])

    def parent_for(self, req: Request, conn: Connection, parent: Any, parent_id: str) -> str:
        """The owner of the parent a new resource names; a parent the caller may not see, or
        that does not exist, answers the parent's 404."""
        plugin = self.plugins[parent.collection]
        item = plugin.get(conn, req.context, parent_id)
        target = self.targets(conn, plugin.resource, [item])[0]
        if not req.policy.allowed("get_" + parent.member, target):
            raise plugin.resource.not_found(parent_id)
        return item.get("project_id")

    # -- collections

    def list(self, req: Request, plugin: Any) -> Response:
        resource = plugin.resource
        q = listing.parse(resource, req.params, self.max_limit)
        ctx = req.context
        if not ctx.is_admin and "service" not in ctx.roles:
            parent = resource.parent
            q.scope = scope.clauses(resource, plugin.table, ctx.project_id,
                                    self.plugins[parent.collection].table if parent else None)
        if q.marker:    # a refused list does nothing: before prepare_list (a default group)
            with self.db.read() as conn:
                plugin.get_row(conn, q.marker)
        plugin.prepare_list(self.db, ctx, q)
        wanted = self._wanted(req, resource, q.fields)
        with self.db.read() as conn:
            items = self.readable(req, conn, resource, plugin.list(conn, ctx, q, wanted))
        body = {resource.collection: _fields(items, q.fields)}
        links = listing.links(req.base_url + "/v2.0", resource.url, req.params, items, q)
        if links is not None:
            body[resource.collection + "_links"] = links
        return Response(200, body)

    @staticmethod
    def _wanted(req: Request, resource: Resource, fields: list) -> Optional[set]:
        """The attributes a list limited to ``fields`` must compute: those, and what the
        caller's policy checks read (None: everything)."""
        if not fields:
            return None
        wanted = set(fields) | {"id"}
        if not req.context.is_admin:
            wanted |= {"project_id"} | set(req.policy.policy.target_keys)
            if resource.network == "id":
                wanted |= {"shared", "router:external"}
            elif resource.network is not None:
                wanted.add(resource.network)
            if resource.parent is not None:
                wanted.add(resource.parent.attr)
        return wanted

    def show(self, req: Request, plugin: Any, item_id: str) -> Response:
        fields = listing.parse_fields(req.params)
        with self.db.read() as conn:
            item, _ = self.visible(req, conn, plugin, item_id)
            item = self.readable(req, conn, plugin.resource, [item], visible_only=False)[0]
        return Response(200, {plugin.resource.member: _fields([item], fields)[0]})

    def create(self, req: Request, plugin: Any) -> Response:
        resource = plugin.resource
        body = req.json()
        items = body_mod.parse_body(resource, body, is_create=True)
        bulk = isinstance(body, dict) and resource.collection in body
        with self.db.read() as conn:
            for res in items:
                self.authorize_create(req, conn, resource, res)

        def create_all(txn):
            # in the transaction that inserts: writers are serialised, so the usage read
            # stays true until commit
            quotas.check_create(txn.conn, resource, items, req.context)
            ids = plugin.create_many(txn, req.context, items)
            # Read back in the same transaction: the answer is exactly what was committed.
            rows = plugin.dicts(txn.conn, [plugin.get_row(txn.conn, i) for i in ids])
            return self.readable(req, txn.conn, resource, rows, visible_only=False)

        rows = self.db.write(create_all)
        if bulk:
            return Response(201, {resource.collection: rows})
        return Response(201, {resource.member: rows[0]})

    def update(self, req: Request, plugin: Any, item_id: str) -> Response:
        resource = plugin.resource
        member = resource.member
        res = body_mod.parse_body(resource, req.json(), is_create=False, allow_bulk=False)[0]
        if not req.context.is_admin:  # an admin's update finds what exists like any write
            with self.db.read() as conn:
                _, target = self.visible(req, conn, plugin, item_id)
            req.policy.enforce_change("update_" + member, resource, res, dict(target, **res),
                                      is_create=False)

        def update(txn):
            plugin.update(txn, req.context, item_id, res, req.if_match())
            item = plugin.get(txn.conn, req.context, item_id)
            return self.readable(req, txn.conn, resource, [item], visible_only=False)[0]

        return Response(200, {member: self.db.write(update)})

    def delete(self, req: Request, plugin: Any, item_id: str) -> Response:
        if not req.context.is_admin:
            with self.db.read() as conn:
                _, target = self.visible(req, conn, plugin, item_id)
            req.policy.enforce("delete_" + plugin.resource.member, target)
        self.db.write(plugin.delete, req.context, item_id, req.if_match())
        return Response(204)

    # -- member actions (a trunk's add_subports, ...)

    def action(self, req: Request, plugin: Any, item_id: str, action: Action) -> Response:
        if req.method != action.method:
            raise exc.HTTPMethodNotAllowed()
        resource = plugin.resource
        run = getattr(plugin, action.name)
        if action.method == "GET":
            with self.db.read() as conn:
                if not req.context.is_admin:
                    _, target = self.visible(req, conn, plugin, item_id)
                    req.policy.enforce(action.name, target)
                return Response(200, run(conn, req.context, item_id))
        body = req.json()
        if not req.context.is_admin:
            with self.db.read() as conn:
                _, target = self.visible(req, conn, plugin, item_id)
                req.policy.enforce(action.name, target)
                if action.body is not None and isinstance(body, dict):
                    self.check_refs(req, conn, {action.body: resource.attrs[action.body]},
                                    body, target["project_id"])
        answer = self.db.write(run, req.context, item_id, body)
        if not action.answers_member:
            return Response(200, answer)
        with self.db.read() as conn:
            item = plugin.get(conn, req.context, item_id)
            return Response(200, self.readable(req, conn, resource, [item],
                                               visible_only=False)[0])

    # -- a port's bindings (binding-extended): .../bindings[/{host}[/activate]]

    def bindings(self, req: Request, plugin: Any, port_id: str,
                 rest: Optional[str]) -> Response:
        host, activate = rest, False
        if rest is not None and rest.endswith("/activate"):
            host, activate = rest[:-len("/activate")], True
        if host is not None and (not host or "/" in host):
            raise exc.HTTPNotFound()
        allowed = ("PUT",) if activate else ("GET", "POST") if host is None else (
            "GET", "PUT", "DELETE")
        if req.method not in allowed:
            raise exc.HTTPMethodNotAllowed()
        if not req.context.is_admin:
            with self.db.read() as conn:
                _, target = self.visible(req, conn, plugin, port_id)
            req.policy.enforce(binding_extended.RULES["activate" if activate else req.method],
                               target)
        resource = binding_extended.BINDING
        if activate:
            return Response(200, {"binding": self.db.write(
                port_bindings.activate, plugin, req.context, port_id, host)})
        if req.method == "GET":
            fields = listing.parse_fields(req.params)
            with self.db.read() as conn:
                if host is not None:
                    found = port_bindings.show(conn, plugin, port_id, host)
                    return Response(200, {"binding": _fields([found], fields)[0]})
                found = port_bindings.list_bindings(conn, plugin, port_id)
            return Response(200, {"bindings": _fields(
                port_bindings.filtered(found, req.params), fields)})
        if req.method == "POST":
            res = body_mod.parse_body(resource, req.json(), is_create=True, allow_bulk=False)[0]
            return Response(201, {"binding": self.db.write(port_bindings.create, plugin,
                                                           port_id, res)})
        if req.method == "PUT":
            res = body_mod.parse_body(resource, req.json(), is_create=False,
                                      allow_bulk=False)[0]
            return Response(200, {"binding": self.db.write(
                port_bindings.update_binding, plugin, req.context, port_id, host, res)})
        self.db.write(port_bindings.delete_binding, plugin, req.context, port_id, host)
        return Response(204)

    # -- tags

    def tags(self, req: Request, plugin: Any, item_id: str, tag: Optional[str]) -> Response:
        resource = plugin.resource
        verb = {"GET": "get", "PUT": "update", "POST": "create", "DELETE": "delete"}.get(
            req.method)
        if verb is None or (tag is not None and verb == "create"):
            raise exc.HTTPMethodNotAllowed()
        if not req.context.is_admin:
            with self.db.read() as conn:
                _, target = self.visible(req, conn, plugin, item_id)
            req.policy.enforce("%s_%s_tags" % (verb, resource.collection), target)
        if tag is None:
            if req.method == "GET":
                with self.db.read() as conn:
                    return Response(200, {"tags": tags_mod.get(conn, plugin, item_id)})
            if req.method in ("PUT", "POST"):
                new = _valid_tags(_tags_body(req.json()), resource.collection)
                return Response(200, {"tags": self.db.write(tags_mod.replace, plugin, item_id,
                                                            new)})
            self.db.write(tags_mod.replace, plugin, item_id, [])
            return Response(204)
        if req.method == "GET":
            with self.db.read() as conn:
                if tag not in tags_mod.get(conn, plugin, item_id):
                    raise exc.TagNotFound(tag=tag)
            return Response(204)
        if req.method == "PUT":
            _valid_tags([tag], resource.collection)
            self.db.write(tags_mod.add, plugin, item_id, tag)
            return Response(201)
        self.db.write(tags_mod.remove, plugin, item_id, tag)
        return Response(204)


def _load(path: str):
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


def _network_target(net: tuple) -> dict:
    """What a policy rule reads about a resource's network (``owners``' tuple), under the
    names Neutron's rules use: ``network:project_id`` in today's, ``network:tenant_id`` in
    older policy files."""
    project_id, shared, external = net
    return {"network:project_id": project_id, "network:tenant_id": project_id,
            "network:shared": shared, "network:router:external": external}


def _tags_body(body):
    if not isinstance(body, dict) or "tags" not in body:
        raise exc.InvalidInput(error_message="Invalid tags body")
    if not isinstance(body["tags"], list):
        raise exc.InvalidInput(error_message="'%s' is not a list" % (body["tags"],))
    return body["tags"]


def _valid_tags(tags, collection):
    if len(tags) > MAX_TAGS:
        raise tags_mod.too_many(collection)
    reason = validators.list_of_unique_strings(MAX_TAG_LENGTH)(tags)
    if reason:
        raise exc.InvalidInput(error_message=reason)
    return tags


def _fields(items, fields):
    if not fields:
        return items
    return [{k: v for k, v in item.items() if k in fields} for item in items]


async def _lifespan(receive, send, background):
    """Start the ``background`` coroutine functions with the server, cancel them at shutdown."""
    tasks = []
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            tasks = [asyncio.ensure_future(fn()) for fn in background]
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            for task in tasks:
                task.cancel()
            await send({"type": "lifespan.shutdown.complete"})
            return

