"""Request bodies: Neutron's prepare_request_body, driven by the resource definitions.

Order of checks (each a 400 with Neutron's words): body a dict with the member key,
unknown attributes, read-only attributes on PUT / not-POSTable on POST, required attributes,
then convert and validate each attribute.
"""
from trunkline import exceptions as exc
from trunkline.definitions import NOTSET


def parse_body(resource, body, is_create, allow_bulk=True):
    """Return a list of prepared attribute dicts (one unless a bulk create). A missing body
    counts as one without the member key."""
    body = {} if body is None else body
    if not isinstance(body, dict):
        raise exc.HTTPBadRequest("Body contains invalid data")
    if resource.collection in body:
        return _bulk(resource, body[resource.collection], is_create and allow_bulk)
    if body.get(resource.member) is None:
        raise exc.HTTPBadRequest("Unable to find '%s' in request body" % resource.member)
    return [prepare(resource, body[resource.member], is_create)]


def _bulk(resource, items, allowed):
    if not allowed:
        raise exc.HTTPBadRequest("Bulk operation not supported")
    if isinstance(items, dict):
        items = list(items)  # Neutron iterates a dict, so each key becomes an item
    if not isinstance(items, list):
        raise exc.HTTPBadRequest("Body contains invalid data")
    if not items:
        raise exc.HTTPBadRequest("Resources required")
    return [prepare(resource, item.get(resource.member, item) if isinstance(item, dict)
                    else item, True) for item in items]


def prepare(resource, res, is_create):
    if not isinstance(res, dict):
        raise exc.HTTPBadRequest("Object '%s' contains invalid data" % resource.member)
    attrs = resource.attrs
    unknown = [k for k in res if k not in attrs]
    if unknown:
        raise exc.HTTPBadRequest("Unrecognized attribute(s) '%s'" % ", ".join(unknown))
    res = dict(res)
    given = set(res)
    if is_create:
        for name, attr in attrs.items():
            if attr.post:
                if name not in res:
                    if attr.default is NOTSET:
                        raise exc.HTTPBadRequest(
                            "Failed to parse request. Required attribute '%s' not specified"
                            % name)
                    res[name] = attr.default
            elif name in res:
                raise exc.HTTPBadRequest("Attribute '%s' not allowed in POST" % name)
    else:
        for name in res:
            if not attrs[name].put:
                # Neutron folds project_id into tenant_id before this check
                raise exc.HTTPBadRequest("Cannot update read-only attribute %s" % (
                    "tenant_id" if name == "project_id" else name))
    for name, value in list(res.items()):
        if name not in given:
            continue  # defaults are stored as declared, never converted or validated
        attr = attrs[name]
        if attr.convert is not None:
            value = attr.convert(value)
            res[name] = value
        if attr.validate is not None:
            reason = attr.validate(value)
            if reason:
                raise exc.HTTPBadRequest("Invalid input for %s. Reason: %s." % (name, reason))
    _merge_project(res, is_create)
    return res


def _merge_project(res, is_create):
    if not is_create:
        return
    project, tenant = res.pop("project_id", None), res.pop("tenant_id", None)
    if project and tenant and project != tenant:
        raise exc.HTTPBadRequest("'project_id' and 'tenant_id' do not match")
    res["project_id"] = project or tenant
