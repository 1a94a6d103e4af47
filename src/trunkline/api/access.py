"""The API's access log: one line per request on logger ``trunkline.api.access`` (INFO; agent
channel requests at DEBUG), shaped as Neutron's, oslo.log's context then eventlet.wsgi's line::

    [req-<global> req-<id> <user> <project> - - -] 127.0.0.1 "GET /v2.0/networks?limit=1 HTTP/1.1" status: 200  len: 517 time: 0.0021458

``-`` stands for what is unknown (no incoming global request id, an unauthenticated caller).
An incoming ``X-OpenStack-Request-ID`` is the global request id only when it is a well-formed
``req-<uuid>``, as oslo.middleware's request_id middleware keeps it. Headers are never logged:
no token or password reaches the log.

A request only queues its line's values; the records are made and handled in one batch a
moment later (FLUSH_DELAY), off the request's path and with logging's code warm, which costs a
fraction of a record made per request. Each record keeps the time its request ended."""
import asyncio
import atexit
import logging
import re
import time

from trunkline import logs

LOG = logging.getLogger("trunkline.api.access")
FLUSH_DELAY = 0.2   # seconds a line may wait for the batch it is written in
_GLOBAL_ID = re.compile(r"^req-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_LINE = '[%s %s %s %s - - -] %s "%s %s HTTP/%s" status: %d  len: %d time: %.7f'
_pending = []


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
    _pending.append((level, time.time(), req.global_request_id, req.request_id,
                     ctx.user_id if ctx is not None else "",
                     ctx.project_id if ctx is not None else "",
                     (scope.get("client") or ("-",))[0], req.method, req.path,
                     (scope.get("query_string") or b"").decode("latin-1"),
                     scope.get("http_version", "1.1"), status, length, elapsed))
    if len(_pending) == 1:
        try:
            asyncio.get_running_loop().call_later(FLUSH_DELAY, flush)
        except RuntimeError:  # no event loop (a direct call): write it now
            flush()


@atexit.register
def flush():
    """Make and handle the queued records, in order."""
    batch = _pending[:]
    del _pending[:]
    for (level, created, gid, rid, user, project, client, method, path, query, http, status,
         length, elapsed) in batch:
        user, project = user or "-", project or "-"
        fields = None
        if logs.structured:
            fields = {"context": {"request_id": rid, "global_request_id": gid, "user": user,
                                  "project": project},
                      "extra": {"remote_addr": client, "method": method, "path": path,
                                "query": query, "http_version": http, "status": status,
                                "length": length, "time": round(elapsed, 7)}}
        record = LOG.makeRecord(LOG.name, level, __file__, 0, _LINE, (
            gid or "-", rid, user, project, client, method,
            path + "?" + query if query else path, http, status, length, elapsed),
            None, extra=fields)
        record.created, record.msecs = created, (created % 1) * 1000
        LOG.handle(record)
