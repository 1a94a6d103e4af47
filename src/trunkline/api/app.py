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
import asyncio
import logging
import re
import uuid
from urllib.parse import parse_qsl

import orjson

from trunkline import exceptions as exc
from trunkline.api import body as body_mod
from trunkline.api import auth as auth_mod
from trunkline.api import extensions, listing, openapi
from trunkline.api.policy import Policy
from trunkline.definitions import MAX_TAG_LENGTH, MAX_TAGS, validators
from trunkline.plugins import common, scope

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
    """Routes Neutron's URLs to the core plugins and the trunk service."""

    def __init__(self, db, core, trunks, channel=None, auth=None, max_body=MAX_BODY,
                 max_limit=-1):
        self.auth = auth if auth is not None else auth_mod.NoAuth(Policy())
        self.db = db
        self.networks = core.networks
        self.max_body = max_body      # bytes; larger bodies answer 413
        self.max_limit = max_limit    # Neutron's pagination_max_limit (-1: none)
        self.plugins = {"networks": core.networks, "subnets": core.subnets,
                        "ports": core.ports, "trunks": trunks}
        if channel is not None:
            self.plugins["agents"] = channel.agents
        self.trunks = trunks
        self.channel = channel

    async def __call__(self, scope, receive, send):
        if scope["type"] == "lifespan":
            return await _lifespan(receive, send,
                                   [self.channel.periodic] if self.channel is not None else [])
        if scope["type"] != "http":
            return
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
            resp = Response(e.code, {"NeutronError": {"type": e.type, "message": e.msg,
                                                      "detail": ""}})
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
            await send({"type": "http.response.start", "status": resp.status,
                        "headers": headers + [(b"content-length", b"0")]})
            await send({"type": "http.response.body", "body": b""})
            return
        data = orjson.dumps(resp.payload)
        await send({"type": "http.response.start", "status": resp.status,
                    "headers": headers + JSON + [(b"content-length", str(len(data)).encode())]})
        await send({"type": "http.response.body", "body": data})

    # -- routing

    def dispatch(self, req):
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
                              else Response(200, {"extensions": extensions.all_extensions()}))
        plugin = self.plugins.get(collection)
        if plugin is None:
            raise exc.HTTPNotFound()
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
        if collection == "trunks" and rest is None:
            return self.trunk_action(req, item, sub)
        raise exc.HTTPNotFound()

    def missing(self, plugin):
        """PUT or DELETE on a collection: Neutron routes it to a member whose id is None."""
        with self.db.read() as conn:
            plugin.get_row(conn, None)

    @staticmethod
    def _only(req, method, fn):
        if req.method != method:
            raise exc.HTTPMethodNotAllowed()
        return fn()

    def versions(self, req):
        return {"versions": [{"id": "v2.0", "status": "CURRENT", "links": [
            {"href": req.base_url + "/v2.0/", "rel": "self"}]}]}

    def resources(self, req):
        return {"resources": [
            {"name": p.resource.member, "collection": name,
             "links": [{"href": "%s/v2.0/%s" % (req.base_url, name), "rel": "self"}]}
            for name, p in self.plugins.items()]}

    @staticmethod
    def extension(alias):
        ext = extensions.find(alias)
        if ext is None:
            raise exc.HTTPNotFound("Extension with alias %s does not exist" % alias)
        return Response(200, {"extension": ext})

    # -- policy

    def targets(self, conn, member, items):
        """Policy targets for resource dicts: the item with ``tenant_id`` and what the policy
        knows about its network (``network:tenant_id``, ``network:shared``, ...)."""
        if member in ("port", "subnet"):
            nets = self.networks.owners(conn, {i.get("network_id") for i in items})
        out = []
        for item in items:
            target = dict(item)
            target["tenant_id"] = item.get("project_id")
            if member == "network":
                net = (item["project_id"], item["shared"], item["router:external"])
            else:
                net = nets.get(item.get("network_id")) if member in ("port", "subnet") else None
            if net is not None:
                (target["network:tenant_id"], target["network:shared"],
                 target["network:router:external"]) = net
            out.append(target)
        return out

    def readable(self, req, conn, member, items, visible_only=True):
        """The items the caller may see, without the attributes it may not read."""
        if req.context.is_admin:
            return items
        out = []
        for item, target in zip(items, self.targets(conn, member, items)):
            values = req.policy.values(target)
            if visible_only and not req.policy.allowed("get_" + member, target, values):
                continue
            hidden = req.policy.hidden(member, target, values)
            out.append({k: v for k, v in item.items() if k not in hidden} if hidden else item)
        return out

    def visible(self, req, conn, plugin, item_id):
        """The item and its policy target; 404 (the resource's own NotFound) when the caller
        may not see it, exactly as when it does not exist."""
        member = plugin.resource.member
        item = plugin.get(conn, req.context, item_id)
        if req.context.is_admin:
            return item, item
        target = self.targets(conn, member, [item])[0]
        if not req.policy.allowed("get_" + member, target):
            raise _NOT_FOUND[member](item_id)
        return item, target

    def network_for(self, req, conn, network_id):
        """The policy's view of the network a new subnet or port goes on; a network the caller
        may not see does not exist for it. None when there is no such network (the plugin
        answers that)."""
        net = self.networks.owners(conn, [network_id]).get(network_id)
        if net is None:
            return None
        target = {"project_id": net[0], "tenant_id": net[0], "network:tenant_id": net[0],
                  "network:shared": net[1], "network:router:external": net[2]}
        if not req.policy.allowed("get_network", target):
            raise exc.NetworkNotFound(net_id=network_id)
        return net

    def usable_ports(self, req, conn, port_ids, project_id):
        """Ports a trunk may use (parent and subports): an admin any, everyone else the ports
        of the trunk's project it can see; any other port does not exist for the caller."""
        if req.context.is_admin:
            return
        ports = self.plugins["ports"]
        for port_id in port_ids:
            try:
                port = ports.get(conn, req.context, port_id)
            except exc.PortNotFound:
                continue  # no such port: the trunk plugin says so in its own words
            target = self.targets(conn, "port", [port])[0]
            if port["project_id"] != project_id or not req.policy.allowed("get_port", target):
                raise exc.PortNotFound(port_id=port_id)

    def authorize_create(self, req, conn, resource, res):
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
        if member in ("port", "subnet") and isinstance(res.get("network_id"), str):
            net = self.network_for(req, conn, res["network_id"])
            if net is not None:
                (target["network:tenant_id"], target["network:shared"],
                 target["network:router:external"]) = net
                if member == "subnet" and net[0] != target["project_id"]:
                    # a shared network takes other projects' ports, not their subnets
                    raise exc.HTTPForbidden("Tenant not allowed to create subnet on this "
                                            "network")
        req.policy.enforce_change("create_" + member, resource, res, target, is_create=True)
        if member == "trunk":
            self.usable_ports(req, conn, [res["port_id"]] + [
                s["port_id"] for s in res.get("sub_ports") or () if isinstance(s, dict)
                and isinstance(s.get("port_id"), str)], target["project_id"])

    # -- collections

    def list(self, req, plugin):
        resource = plugin.resource
        q = listing.parse(resource, req.params, self.max_limit)
        ctx = req.context
        if not ctx.is_admin and "service" not in ctx.roles:
            q.scope = scope.clauses(resource.collection, ctx.project_id) or []
        with self.db.read() as conn:
            if q.marker:
                plugin.get_row(conn, q.marker)
            items = self.readable(req, conn, resource.member, plugin.list(conn, ctx, q))
        body = {resource.collection: _fields(items, q.fields)}
        links = listing.links(req.base_url + "/v2.0", resource.collection, req.params, items, q)
        if links is not None:
            body[resource.collection + "_links"] = links
        return Response(200, body)

    def show(self, req, plugin, item_id):
        fields = listing.parse_fields(req.params)
        with self.db.read() as conn:
            item, _ = self.visible(req, conn, plugin, item_id)
            item = self.readable(req, conn, plugin.resource.member, [item], visible_only=False)[0]
        return Response(200, {plugin.resource.member: _fields([item], fields)[0]})

    def create(self, req, plugin):
        resource = plugin.resource
        body = req.json()
        items = body_mod.parse_body(resource, body, is_create=True)
        bulk = isinstance(body, dict) and resource.collection in body
        with self.db.read() as conn:
            for res in items:
                self.authorize_create(req, conn, resource, res)

        def create_all(txn):
            ids = [plugin.create(txn, req.context, res) for res in items]
            # Read back in the same transaction: the answer is exactly what was committed.
            rows = plugin.dicts(txn.conn, [plugin.get_row(txn.conn, i) for i in ids])
            return self.readable(req, txn.conn, resource.member, rows, visible_only=False)

        rows = self.db.write(create_all)
        if bulk:
            return Response(201, {resource.collection: rows})
        return Response(201, {resource.member: rows[0]})

    def update(self, req, plugin, item_id):
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
            return self.readable(req, txn.conn, member, [item], visible_only=False)[0]

        return Response(200, {member: self.db.write(update)})

    def delete(self, req, plugin, item_id):
        if not req.context.is_admin:
            with self.db.read() as conn:
                _, target = self.visible(req, conn, plugin, item_id)
            req.policy.enforce("delete_" + plugin.resource.member, target)
        self.db.write(plugin.delete, req.context, item_id, req.if_match())
        return Response(204)

    # -- trunk actions

    def trunk_action(self, req, trunk_id, action):
        if action == "get_subports":
            if req.method != "GET":
                raise exc.HTTPMethodNotAllowed()
            with self.db.read() as conn:
                if not req.context.is_admin:
                    _, target = self.visible(req, conn, self.trunks, trunk_id)
                    req.policy.enforce("get_subports", target)
                return Response(200, self.trunks.get_subports(conn, req.context, trunk_id))
        if action not in ("add_subports", "remove_subports"):
            raise exc.HTTPNotFound()
        if req.method != "PUT":
            raise exc.HTTPMethodNotAllowed()
        body = req.json()
        if not req.context.is_admin:
            with self.db.read() as conn:
                _, target = self.visible(req, conn, self.trunks, trunk_id)
                req.policy.enforce(action, target)
                if action == "add_subports":
                    self.usable_ports(req, conn, _subport_ids(body), target["project_id"])
        self.db.write(getattr(self.trunks, action), req.context, trunk_id, body)
        with self.db.read() as conn:
            return Response(200, self.trunks.get(conn, req.context, trunk_id))

    # -- tags

    def tags(self, req, plugin, item_id, tag):
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
                    return Response(200, {"tags": plugin.get(conn, req.context, item_id)["tags"]})
            if req.method in ("PUT", "POST"):
                new = _valid_tags(_tags_body(req.json()), resource.collection)
                self.db.write(self._replace_tags, plugin, item_id, new)
                return Response(200, {"tags": sorted(new)})
            self.db.write(self._replace_tags, plugin, item_id, [])
            return Response(204)
        if req.method == "GET":
            with self.db.read() as conn:
                if tag not in plugin.get(conn, req.context, item_id)["tags"]:
                    raise exc.TagNotFound(tag=tag)
            return Response(204)
        if req.method == "PUT":
            _valid_tags([tag], resource.collection)
            self.db.write(self._add_tag, plugin, item_id, tag)
            return Response(201)
        self.db.write(self._remove_tag, plugin, item_id, tag)
        return Response(204)

    @staticmethod
    def _replace_tags(txn, plugin, item_id, new):
        plugin.get_row(txn.conn, item_id)
        common.set_tags(txn, item_id, sorted(set(new)))
        common.bump(txn, plugin.table, item_id)
        txn.record(plugin.resource.member, item_id, "update")

    @staticmethod
    def _add_tag(txn, plugin, item_id, tag):
        plugin.get_row(txn.conn, item_id)
        current = common.load_tags(txn.conn, [item_id]).get(item_id, [])
        if tag in current:
            return
        if len(current) >= MAX_TAGS:
            raise _too_many_tags(plugin.resource.collection)
        common.set_tags(txn, item_id, current + [tag])
        common.bump(txn, plugin.table, item_id)
        txn.record(plugin.resource.member, item_id, "update")

    @staticmethod
    def _remove_tag(txn, plugin, item_id, tag):
        plugin.get_row(txn.conn, item_id)
        current = common.load_tags(txn.conn, [item_id]).get(item_id, [])
        if tag not in current:
            raise exc.TagNotFound(tag=tag)
        common.set_tags(txn, item_id, [t for t in current if t != tag])
        common.bump(txn, plugin.table, item_id)
        txn.record(plugin.resource.member, item_id, "update")


_NOT_FOUND = {
    "network": lambda i: exc.NetworkNotFound(net_id=i),
    "subnet": lambda i: exc.SubnetNotFound(subnet_id=i),
    "port": lambda i: exc.PortNotFound(port_id=i),
    "trunk": lambda i: exc.TrunkNotFound(trunk_id=i),
    "agent": lambda i: exc.AgentNotFound(id=i),
}


def _subport_ids(body):
    """The port ids an add_subports body names (its shape is the trunk plugin's to judge)."""
    subports = body.get("sub_ports") if isinstance(body, dict) else None
    if not isinstance(subports, list):
        return []
    return [s["port_id"] for s in subports if isinstance(s, dict)
            and isinstance(s.get("port_id"), str)]


def _tags_body(body):
    if not isinstance(body, dict) or "tags" not in body:
        raise exc.InvalidInput(error_message="Invalid tags body")
    if not isinstance(body["tags"], list):
        raise exc.InvalidInput(error_message="'%s' is not a list" % (body["tags"],))
    return body["tags"]


def _valid_tags(tags, collection):
    if len(tags) > MAX_TAGS:
        raise _too_many_tags(collection)
    reason = validators.list_of_unique_strings(MAX_TAG_LENGTH)(tags)
    if reason:
        raise exc.InvalidInput(error_message=reason)
    return tags


def _too_many_tags(collection):
    return exc.BadRequest(resource=collection,
                          msg="The number of tags exceed the per-resource limit of %d" % MAX_TAGS)


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

