"""The OpenAPI document trunkline serves: generated from the resource definitions, loadable by
schemathesis, and covering every route the server answers (collections, members, tags, trunk
actions) with the list parameters and the documented errors."""
import schemathesis

from trunkline import definitions
from trunkline.api import openapi


def test_served_document_is_the_generated_one(client, server):
    for path in ("/openapi.json", "/openapi"):
        status, doc = client.get(path)
        assert status == 200, doc
        assert doc == openapi.document(server.url, 114688, -1)
    assert doc["openapi"].startswith("3.")
    assert doc["servers"] == [{"url": server.url}]
    status, body = client.post("/openapi.json", {})
    assert status == 405 and body["NeutronError"]["type"] == "HTTPMethodNotAllowed"


def test_every_route_is_described():
    doc = openapi.document()
    schema = schemathesis.openapi.from_dict(doc)   # a valid OpenAPI document
    ops = {(r.ok().method.upper(), r.ok().path) for r in schema.get_all_operations()}
    for res in definitions.RESOURCES.values():
        base, item = "/v2.0/" + res.url, "/v2.0/%s/{%s_id}" % (res.url, res.member)
        assert {("GET", base), ("GET", item), ("DELETE", item)} <= ops
        assert (("POST", base) in ops) == any(a.post for a in res.attrs.values())
        assert (("PUT", item) in ops) == any(a.put for a in res.attrs.values())
        tags = {(m, item + "/tags") for m in ("GET", "PUT", "DELETE")} | \
            {(m, item + "/tags/{tag}") for m in ("GET", "PUT", "DELETE")}
        assert tags <= ops if res.tags else not tags & ops
    for action, method in (("add_subports", "PUT"), ("remove_subports", "PUT"),
                           ("get_subports", "GET")):
        assert (method, "/v2.0/trunks/{trunk_id}/" + action) in ops
    assert {("GET", "/"), ("GET", "/v2.0"), ("GET", "/v2.0/extensions"),
            ("GET", "/v2.0/extensions/{alias}")} <= ops


def test_bodies_and_parameters_follow_the_definitions():
    doc = openapi.document()
    schemas = doc["components"]["schemas"]
    create = schemas["PortCreate"]
    assert set(create["properties"]) == {n for n, a in definitions.port.attrs.items() if a.post}
    assert create["required"] == ["network_id"]
    assert set(schemas["TrunkUpdate"]["properties"]) == {"name", "description",
                                                          "admin_state_up"}
    assert schemas["NetworkCreate"]["properties"]["name"]["maxLength"] == 255
    assert schemas["SubnetCreate"]["properties"]["ip_version"] == {"enum": [4, 6]}
    sub_ports = schemas["SubportsBody"]["properties"]["sub_ports"]
    assert sub_ports["maxItems"] == 4094
    assert sub_ports["items"]["properties"]["segmentation_id"]["maximum"] == 4094
    assert schemas["Tags"]["properties"]["tags"]["maxItems"] == 50
    params = {p["name"]: p for p in doc["paths"]["/v2.0/ports"]["get"]["parameters"]}
    filters = {n for n, a in definitions.port.attrs.items() if a.filter}
    assert filters | {"fields", "sort_key", "sort_dir", "limit", "marker", "page_reverse",
                      "tags", "tags-any", "not-tags", "not-tags-any"} == set(params)
    assert params["sort_key"]["schema"]["items"]["enum"] == sorted(
        n for n, a in definitions.port.attrs.items() if a.sort)
    assert params["limit"]["schema"] == {"type": "integer", "minimum": 0}
    responses = doc["paths"]["/v2.0/trunks/{trunk_id}/add_subports"]["put"]["responses"]
    assert {"200", "400", "404", "409", "413"} <= set(responses)
    assert responses["409"] == {"$ref": "#/components/responses/409"}


def test_auth_and_outage_answers_are_described():
    """Every /v2.0 operation may answer 401 (keystone mode without a valid token), 403 (policy)
    and 503 (database or Keystone unreachable), each a NeutronError; the version document is
    open to all."""
    doc = openapi.document()
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            codes = set(op["responses"])
            if path == "/":
                assert not codes & {"401", "403", "503"}, (method, path)
            else:
                assert {"401", "403", "503"} <= codes, (method, path)
    for code in ("401", "403", "503"):
        assert doc["components"]["responses"][code]["content"]["application/json"]["schema"] \
            == {"$ref": "#/components/schemas/NeutronError"}
