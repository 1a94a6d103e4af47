"""The API's access log: one line per request on logger ``trunkline.api.access`` (INFO; agent
channel requests at DEBUG), shaped as Neutron's, oslo.log's context then eventlet.wsgi's line::

    [req-<global> req-<id> <user> <project> - - -] 127.0.0.1 "GET /v2.0/networks?limit=1 HTTP/1.1" status: 200  len: 517 time: 0.0021458

``-`` stands for what is unknown (no incoming global request id, an unauthenticated caller).
An incoming ``X-OpenStack-Request-ID`` is the global request id only when it is a well-formed
``req-<uuid>``, as oslo.middleware's request_id middleware keeps it. Headers are never logged:
no token or password reaches the log."""
import logging
import re
import time

from trunkline import logs

LOG = logging.getLogger("trunkline.api.access")
_GLOBAL_ID = re.compile(r"^req-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def global_request_id(headers):
    """The caller's ``X-OpenStack-Request-ID`` when it is a valid ``req-<uuid>``, else None."""
    value = headers.get("x-openstack-request-id")
    return value if value and _GLOBAL_ID.match(value) else None


def log(req, scope, status, length, started):
    """Log request ``req`` (answered ``status`` with ``length`` body bytes, received at
    ``started``, a perf_counter value)."""
    level = logging.DEBUG if req.path.startswith("/agent/v1/") else logging.INFO
    if not LOG.isEnabledFor(level):
        return
    elapsed = time.perf_counter() - started
    ctx = req.context
    user = (ctx.user_id if ctx is not None else "") or "-"
    project = (ctx.project_id if ctx is not None else "") or "-"
    query = scope.get("query_string") or b""
    target = req.path + ("?" + query.decode("latin-1") if query else "")
    client = (scope.get("client") or ("-",))[0]
    http = scope.get("http_version", "1.1")
    fields = None
    if logs.structured:
        fields = {"context": {"request_id": req.request_id,
                              "global_request_id": req.global_request_id,
                              "user": user, "project": project},
                  "extra": {"remote_addr": client, "method": req.method, "path": req.path,
                            "query": query.decode("latin-1"), "http_version": http,
                            "status": status, "length": length, "time": round(elapsed, 7)}}
    LOG.log(level, '[%s %s %s %s - - -] %s "%s %s HTTP/%s" status: %d  len: %d time: %.7f',
            req.global_request_id or "-", req.request_id, user, project, client, req.method,
            target, http, status, length, elapsed, extra=fields)
