"""``/v2.0/quotas`` as Neutron's QuotaSetsController and DetailQuotaSetsController serve it:

- ``GET /quotas``: the projects with limits of their own (``get_quota``);
- ``GET /quotas/{project}``, ``.../default``, ``.../details``: a project's limits, the
  defaults, limit/used/reserved per resource; anyone for their own project, otherwise
  ``get_quota`` (details: admins only, ``AdminRequired``);
- ``PUT /quotas/{project}``: new limits (``update_quota``), refused below the current usage
  unless ``force`` is true (``check_limit`` is accepted and changes nothing, as in Neutron
  since the check became the default);
- ``DELETE /quotas/{project}``: back to the defaults (``delete_quota``);
- ``GET /quotas/project`` (and the deprecated ``/quotas/tenant``): the caller's project.

The engine (limits, usage, the create check) is plugins/quotas.py. Limit writes are not changes
an agent sees: they take no revision and record no change (``Database.write_unlogged``)."""
from __future__ import annotations

from trunkline import exceptions as exc
from trunkline.plugins import quotas

MEMBER = "quota"
MAX_PROJECT = 255           # the quotas table's project_id


class QuotaController:
    def __init__(self, db, plugins):
        self.db = db
        self.plugins = plugins

    def handle(self, req, item, sub, rest):
        """(status, payload) of a request below ``/v2.0/quotas``."""
        if rest is not None:
            raise exc.HTTPNotFound()
        method = req.method
        if item is None:
            if method == "GET":
                self._enforce(req, "get_quota")
                with self.db.read() as conn:
                    return 200, {"quotas": quotas.every_project(conn)}
            if method == "POST":
                raise exc.HTTPNotImplemented("POST requests are not supported on this "
                                             "resource.")
            raise exc.HTTPMethodNotAllowed()
        if sub is None and item in ("project", "tenant") and method == "GET":
            if not req.context.project_id:
                raise exc.BadRequest("Tenant-id was missing from quota request.")
            return 200, {item: {item + "_id": req.context.project_id}}
        if sub == "default":
            self._only(method, "GET")
            self._own_or(req, item, "get_quota")
            return 200, {MEMBER: quotas.default_limits()}
        if sub == "details":
            self._only(method, "GET")
            if item != req.context.project_id and not req.context.is_admin:
                raise exc.AdminRequired(reason="Only admin is authorized to access quotas for "
                                               "another project")
            with self.db.read() as conn:
                return 200, {MEMBER: quotas.details(conn, item)}
        if sub is not None:
            raise exc.HTTPNotFound()
        if method == "GET":
            self._own_or(req, item, "get_quota")
            with self.db.read() as conn:
                return 200, {MEMBER: quotas.limits(conn, item)}
        if method == "PUT":
            self._enforce(req, "update_quota")
            new, force = parse(req.json())
            if len(item) > MAX_PROJECT:     # no project has such an id: nothing to store
                raise exc.HTTPBadRequest("Invalid input for project_id. Reason: '%s' exceeds "
                                         "maximum length of %d." % (item, MAX_PROJECT))

            def update(conn):
                quotas.set_limits(conn, item, new, force=force)
                return quotas.limits(conn, item)
            return 200, {MEMBER: self.db.write_unlogged(update)}
        if method == "DELETE":
            self._enforce(req, "delete_quota")
            self.db.write_unlogged(quotas.delete_limits, item)
            return 204, None
        raise exc.HTTPMethodNotAllowed()

    @staticmethod
    def _only(method, allowed):
        if method != allowed:
            raise exc.HTTPMethodNotAllowed()

    @staticmethod
    def _enforce(req, action):
        # Neutron's validate_policy: the target is the caller's own project
        project_id = req.context.project_id
        req.policy.enforce(action, {"project_id": project_id, "tenant_id": project_id})

    def _own_or(self, req, project_id, action):
        if project_id != req.context.project_id:
            self._enforce(req, action)


def parse(body) -> tuple:
    """A PUT body as Neutron's prepare_request_body judges it: ({resource: limit}, force).
    Limits are integers (``int()`` of what was given, as neutron-lib's convert_to_int) from -1
    to 2**31-1; every key but ``force`` and ``check_limit`` names a quota resource."""
    if not isinstance(body, dict) or body.get(MEMBER) is None:
        raise exc.HTTPBadRequest("Unable to find '%s' in request body" % MEMBER)
    res = body[MEMBER]
    if not isinstance(res, dict):
        raise exc.HTTPBadRequest("Object '%s' contains invalid data" % MEMBER)
    res = dict(res)
    force = res.pop("force", None) is True
    res.pop("check_limit", None)
    known = quotas.resources()
    unknown = set(res) - set(known)
    if unknown & {"project_id", "tenant_id"}:
        unknown |= {"project_id", "tenant_id"}   # Neutron fills in both before it looks
    if unknown:
        raise exc.HTTPBadRequest("Unrecognized attribute(s) '%s'" % ", ".join(sorted(unknown)))
    new = {}
    for name in known:
        if name not in res:
            continue
        value = res[name]
        try:
            limit = int(value)
        except (ValueError, TypeError, OverflowError):
            raise exc.InvalidInput(error_message="'%s' is not an integer" % (value,))
        if limit < quotas.UNLIMITED:
            reason = "'%s' is too small - must be at least '%s'" % (limit, quotas.UNLIMITED)
        elif limit > quotas.MAX_LIMIT:
            reason = "'%s' is too large - must be no larger than '%s'" % (limit,
                                                                          quotas.MAX_LIMIT)
        else:
            new[name] = limit
            continue
        raise exc.HTTPBadRequest("Invalid input for %s. Reason: %s." % (name, reason))
    return new, force
