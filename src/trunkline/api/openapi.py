"""The OpenAPI 3.0 description of the Neutron v2.0 API trunkline serves, generated from the
resource definitions (definitions/): every collection, member, tag route and member action, the
request bodies (each attribute's JSON Schema comes from its converter or validator), the list
query parameters (filters, fields, sorting, pagination, tag filters) and the NeutronError
answers. Served at ``GET /v2.0/openapi.json``; the fuzz tests drive schemathesis with it.

The schemas describe what Neutron accepts on the wire, not every rule: cross-attribute checks
(a gateway inside its CIDR, a free VLAN id on the trunk) are the server's and answer 4xx.
"""
from trunkline import definitions
from trunkline.definitions import MAX_TAG_LENGTH, MAX_TAGS, NOTSET

TAG_FILTERS = ("tags", "tags-any", "not-tags", "not-tags-any")
UUID = {"type": "string", "format": "uuid"}

ERRORS = {
    "400": "The request is invalid (body, attribute value, query parameter)",
    "401": "No valid X-Auth-Token (with --auth keystone)",
    "403": "The policy does not allow the caller this operation or attribute",
    "404": "No such resource, route or tag",
    "405": "The method is not allowed on this route",
    "409": "The request conflicts with the current state (in use, duplicate)",
    "412": "If-Match names another revision_number",
    "413": "The request body is larger than the server's max request body size",
    "503": "The database or Keystone cannot be reached right now; retry later",
}
# every route but the version document ("/", open to all) can answer these
COMMON_ERRORS = ("400", "401", "403", "404", "405", "413", "503")


def document(base_url="", max_body=None, max_limit=None):
    """The OpenAPI document as a dict (ready for JSON). ``max_body``/``max_limit`` are the
    server's request body and page size limits, stated in the description."""
    paths = {
        "/": _op("get", "listVersions", "API versions", ok={"versions": {"type": "array"}},
                 common=("405",)),
        "/v2.0": _op("get", "listResources", "The collections this API serves",
                     ok={"resources": {"type": "array"}}),
        "/v2.0/extensions": _op("get", "listExtensions", "The API extensions implemented",
                                ok={"extensions": {"type": "array"}}),
        "/v2.0/extensions/{alias}": _op(
            "get", "showExtension", "One extension by alias",
            params=[_path_param("alias", {"enum": [e.alias for e in definitions.EXTENSIONS]})],
            ok={"extension": {"type": "object"}}),
    }
    for res in definitions.RESOURCES.values():
        paths.update(_resource_paths(res))
        paths.update(_action_paths(res))
    info = "Neutron-compatible networking API (OpenStack Networking v2.0)."
    if max_body:
        info += " Request bodies larger than %d bytes answer 413." % max_body
    if max_limit and max_limit > 0:
        info += " List pages hold at most %d items (pagination_max_limit)." % max_limit
    doc = {
        "openapi": "3.0.3",
        "info": {"title": "trunkline", "version": "2.0", "description": info},
        "paths": paths,
        "components": {"schemas": _schemas(), "responses": {
            code: {"description": text, "content": _json({"$ref": "#/components/schemas/"
                                                           "NeutronError"})}
            for code, text in ERRORS.items()}},
    }
    if base_url:
        doc["servers"] = [{"url": base_url}]
    return doc


# -- schemas


def _schemas():
    schemas = {"NeutronError": {
        "type": "object", "required": ["NeutronError"],
        "properties": {"NeutronError": {
            "type": "object", "required": ["type", "message", "detail"],
            "properties": {"type": {"type": "string"}, "message": {"type": "string"},
                           "detail": {"type": "string"}}}}}}
    for res in definitions.RESOURCES.values():
        name = _title(res)
        schemas[name] = {"type": "object", "properties": {
            n: a.json_schema() for n, a in res.attrs.items()}}
        create = {n: a for n, a in res.attrs.items() if a.post}
        if create:
            schemas[name + "Create"] = {
                "type": "object", "additionalProperties": False,
                "properties": {n: a.json_schema() for n, a in create.items()},
                "required": sorted(n for n, a in create.items() if a.default is NOTSET)}
        update = {n: a for n, a in res.attrs.items() if a.put}
        if update:
            schemas[name + "Update"] = {
                "type": "object", "additionalProperties": False,
                "properties": {n: a.json_schema() for n, a in update.items()}}
    schemas["Tags"] = {"type": "object", "required": ["tags"], "additionalProperties": False,
                       "properties": {"tags": _tag_list()}}
    for res in definitions.RESOURCES.values():
        for action in res.actions:
            if action.body is not None:
                schemas[_body_schema(res, action)] = {
                    "type": "object", "required": [action.body], "additionalProperties": False,
                    "properties": {action.body: res.attrs[action.body].json_schema()}}
    return schemas


def _body_schema(res, action):
    return action.body.replace("_", "").capitalize() + "Body"


def _tag_list():
    return {"type": "array", "maxItems": MAX_TAGS, "uniqueItems": True,
            "items": {"type": "string", "maxLength": MAX_TAG_LENGTH}}


def _title(res):
    return res.member.capitalize()


def _ref(name):
    return {"$ref": "#/components/schemas/" + name}


def _json(schema):
    return {"application/json": {"schema": schema}}


# -- operations


def _op(method, op_id, summary, params=(), body=None, ok=None, status=200, errors=(),
        tags=None, common=COMMON_ERRORS):
    op = {"operationId": op_id, "summary": summary, "responses": {}}
    if tags:
        op["tags"] = tags
    if params:
        op["parameters"] = list(params)
    if body is not None:
        op["requestBody"] = {"required": True, "content": _json(body)}
    if ok is None:
        op["responses"][str(status)] = {"description": "Success"}
    else:
        op["responses"][str(status)] = {"description": "Success", "content": _json(
            {"type": "object", "properties": ok})}
    for code in tuple(common) + tuple(errors):
        op["responses"].setdefault(code, {"$ref": "#/components/responses/" + code})
    return {method: op}


def _path_param(name, schema=None):
    return {"name": name, "in": "path", "required": True, "schema": schema or {"type": "string"}}


def _query(name, schema, description=None, explode=True):
    param = {"name": name, "in": "query", "required": False, "schema": schema,
             "style": "form", "explode": explode}
    if description:
        param["description"] = description
    return param


IF_MATCH = {"name": "If-Match", "in": "header", "required": False,
            "schema": {"type": "string", "example": "revision_number=3"},
            "description": "revision_number=N: apply only if the resource is at revision N "
                           "(else 412); other values are ignored"}


def _fields_param(res):
    return _query("fields", {"type": "array", "items": {"type": "string"}},
                  "Return only these attributes (unknown names are ignored): " +
                  ", ".join(sorted(res.attrs)))


def _list_params(res):
    params = []
    for name, attr in sorted(res.attrs.items()):
        if attr.filter:
            # filter values are only converted (booleans, integers), never validated: a
            # value no item has simply matches nothing, as in Neutron
            kind = attr.json_schema().get("type") if attr.convert_filter else None
            item = {"type": kind if kind in ("boolean", "integer") else "string"}
            params.append(_query(name, {"type": "array", "items": item},
                                 "Only items whose %s is one of these values" % name))
    sort_keys = sorted(n for n, a in res.attrs.items() if a.sort)
    params += [
        _fields_param(res),
        _query("sort_key", {"type": "array", "items": {"enum": sort_keys}},
               "Sort by these attributes (one sort_dir each)"),
        _query("sort_dir", {"type": "array", "items": {"enum": ["asc", "desc"]}}),
        _query("limit", {"type": "integer", "minimum": 0},
               "Page size (0: no limit below the server's pagination_max_limit)"),
        _query("marker", UUID, "The id of the last item of the previous page"),
        _query("page_reverse", {"type": "boolean"}, "Page backwards from the marker"),
    ]
    if res.tags:
        params += [_query(name, {"type": "array", "items": {"type": "string"}},
                          "Comma-separated tags", explode=False) for name in TAG_FILTERS]
    return params


def _resource_paths(res):
    title, member, coll = _title(res), res.member, res.collection
    base = "/v2.0/" + res.url
    item = "%s/{%s_id}" % (base, member)
    id_param = _path_param(member + "_id", UUID)
    tags = [coll]
    paths = {base: _op("get", "list" + title + "s", "List %s" % coll, _list_params(res),
                       ok={coll: {"type": "array", "items": _ref(title)},
                           coll + "_links": {"type": "array"}}, tags=tags),
             item: _op("get", "show" + title, "Show one %s" % member,
                       [id_param, _fields_param(res)], ok={member: _ref(title)}, tags=tags)}
    if any(a.post for a in res.attrs.values()):
        body = {"oneOf": [
            {"type": "object", "required": [member], "additionalProperties": False,
             "properties": {member: _ref(title + "Create")}},
            {"type": "object", "required": [coll], "additionalProperties": False,
             "properties": {coll: {"type": "array", "minItems": 1, "maxItems": 5,
                                   "items": _ref(title + "Create")}}}]}
        paths[base].update(_op("post", "create" + title, "Create one %s (or several: bulk)"
                               % member, body=body, status=201, errors=("409",), tags=tags,
                               ok={member: _ref(title),
                                   coll: {"type": "array", "items": _ref(title)}}))
    if any(a.put for a in res.attrs.values()):
        body = {"type": "object", "required": [member], "additionalProperties": False,
                "properties": {member: _ref(title + "Update")}}
        paths[item].update(_op("put", "update" + title, "Update one %s" % member,
                               [id_param, IF_MATCH], body=body, ok={member: _ref(title)},
                               errors=("409", "412"), tags=tags))
    paths[item].update(_op("delete", "delete" + title, "Delete one %s" % member,
                           [id_param, IF_MATCH], status=204, errors=("409", "412"), tags=tags))
    if res.tags:
        tag_param = _path_param("tag", {"type": "string", "minLength": 1,
                                        "maxLength": MAX_TAG_LENGTH})
        tags_path, one = item + "/tags", item + "/tags/{tag}"
        paths[tags_path] = {}
        paths[tags_path].update(_op("get", "list%sTags" % title, "The %s's tags" % member,
                                    [id_param], ok={"tags": {"type": "array"}}, tags=tags))
        paths[tags_path].update(_op("put", "replace%sTags" % title, "Replace every tag",
                                    [id_param], body=_ref("Tags"), ok={"tags": {
                                        "type": "array"}}, tags=tags))
        paths[tags_path].update(_op("delete", "deleteAll%sTags" % title, "Remove every tag",
                                    [id_param], status=204, tags=tags))
        paths[one] = {}
        paths[one].update(_op("get", "check%sTag" % title, "204 when the tag is set",
                              [id_param, tag_param], status=204, tags=tags))
        paths[one].update(_op("put", "add%sTag" % title, "Add one tag", [id_param, tag_param],
                              status=201, tags=tags))
        paths[one].update(_op("delete", "delete%sTag" % title, "Remove one tag",
                              [id_param, tag_param], status=204, tags=tags))
    return paths


def _action_paths(res):
    base = "/v2.0/%s/{%s_id}/" % (res.url, res.member)
    id_param = _path_param(res.member + "_id", UUID)
    paths = {}
    for action in res.actions:
        op_id = action.name.split("_")[0] + "".join(
            w.capitalize() for w in action.name.split("_")[1:])
        ok = {res.member: _ref(_title(res))} if action.answers_member else action.answer_schema
        paths[base + action.name] = _op(
            action.method.lower(), op_id, action.summary, [id_param],
            body=_ref(_body_schema(res, action)) if action.body is not None else None,
            errors=("409",) if action.method != "GET" else (), ok=ok, tags=[res.collection])
    return paths
