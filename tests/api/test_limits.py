"""The API's limits, each refused with a Neutron-style error and nothing stored: request body
size (413; Neutron's 114688 bytes by default, --max-request-body-size), URL length (414) and
requests the HTTP parser refuses (400), page size
(--pagination-max-limit, Neutron's pagination_max_limit), subports per request (4094), tags per
resource (50) and their length, name and description lengths (255), integer filter values
(the column's range)."""
import json
import socket
import uuid
from urllib.parse import urlsplit

import pytest

from helpers.api import Client, error_type
from helpers.server import Server

NEUTRON_MAX_BODY = 114688


@pytest.fixture(scope="module")
def limited(backend, db_url_factory):
    """A server with a small body limit and a page cap of 3."""
    srv = Server(db_url_factory(backend), extra=["--max-request-body-size", "2048",
                                                 "--pagination-max-limit", "3"])
    yield Client(srv.url)
    srv.stop()


def _revision(client):
    """The global revision: every committed write takes the next one."""
    r = client.http.get(client.url[:-len("/v2.0")] + "/agent/v1/hosts/limits-nobody/state")
    assert r.status_code == 200, r.text
    return r.json()["revision"]


def _padded(size):
    """A network create body of exactly ``size`` bytes (JSON whitespace pads it)."""
    body = b'{"network": {"name": "big"}}'
    return body[:-1] + b" " * (size - len(body)) + b"}"


def test_body_limit_default_is_neutrons(client):
    before = _revision(client)
    status, body = client.post("/networks", raw=_padded(NEUTRON_MAX_BODY + 1),
                               headers={"Content-Type": "application/json"})
    assert status == 413, body
    assert body["NeutronError"]["message"] == "Request is too large."
    assert _revision(client) == before
    status, body = client.post("/networks", raw=_padded(NEUTRON_MAX_BODY),
                               headers={"Content-Type": "application/json"})
    assert status == 201, body
    client.delete("/networks/" + body["network"]["id"])


def test_body_limit_configurable(limited):
    status, body = limited.post("/networks", raw=_padded(2049),
                                headers={"Content-Type": "application/json"})
    assert status == 413, body
    assert error_type(body) == "RequestTooLarge"
    status, body = limited.post("/networks", raw=_padded(2048),
                                headers={"Content-Type": "application/json"})
    assert status == 201, body


def test_url_length(client):
    """A URL the HTTP parser can still read gets the API's answer; a longer one a 414."""
    status, body = client.get("/networks", params={"name": "x" * 65000})
    assert status == 200 and body == {"networks": []}, body
    status, body = client.get("/networks", params={"name": "x" * 70000})
    assert status == 414, body
    assert error_type(body) == "HTTPRequestURITooLong"
    assert client.get("/networks")[0] == 200


def _raw(client, data):
    """Send bytes on a fresh connection and read the answer until the server closes it."""
    url = urlsplit(client.url)
    with socket.create_connection((url.hostname, url.port), timeout=10) as sock:
        sock.sendall(data)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    return head.split(b"\r\n"), body


@pytest.mark.parametrize("data", [
    b"GET /v2.0/networks HTTP/1.1\r\nHost x\r\n\r\n",
    b"GET /v2.0/net works HTTP/1.1\r\nHost: x\r\n\r\n",
    b"\x00\x01\x02 / HTTP/1.1\r\n\r\n",
], ids=["header-without-colon", "space-in-path", "binary-request-line"])
def test_requests_the_parser_refuses(client, data):
    head, body = _raw(client, data)
    assert head[0] == b"HTTP/1.1 400 Bad Request", head
    assert b"content-type: application/json" in head, head
    assert error_type(json.loads(body)) == "HTTPBadRequest", body


def test_page_cap(limited):
    tag = "pg-" + uuid.uuid4().hex[:6]
    ids = sorted(limited.create("network", name=tag)["id"] for _ in range(5))
    # no limit, and a larger one, both get the cap and a link to the next page
    for params in ({"name": tag}, {"name": tag, "limit": "50"}, {"name": tag, "limit": "0"}):
        status, body = limited.get("/networks", params=dict(params, sort_key="id",
                                                            sort_dir="asc"))
        assert status == 200, body
        assert [n["id"] for n in body["networks"]] == ids[:3]
        assert [link["rel"] for link in body["networks_links"]] == ["next", "previous"]
    status, body = limited.get("/networks", params={"name": tag, "limit": "2", "sort_key": "id",
                                                    "sort_dir": "asc"})
    assert [n["id"] for n in body["networks"]] == ids[:2]
    status, body = limited.get("/networks", params={"name": tag, "limit": "3", "sort_key": "id",
                                                    "sort_dir": "asc", "marker": ids[2]})
    assert [n["id"] for n in body["networks"]] == ids[3:]
    status, body = limited.get("/networks", params={"limit": "-1"})
    assert status == 400
    assert body["NeutronError"]["message"] == \
        "Bad limit request: Limit must be an integer 0 or greater and not '-1'."


def test_subports_per_request(client):
    net = client.create("network", name="lim-sub")
    parent = client.create("port", network_id=net["id"])
    trunk = client.create("trunk", port_id=parent["id"])
    subs = [{"port_id": str(uuid.uuid4()), "segmentation_type": "vlan",
             "segmentation_id": i % 4094 + 1} for i in range(4095)]
    before = _revision(client)
    # 4095 subports are ~400 kB: refused by the body limit first, as Neutron would
    status, body = client.put("/trunks/%s/add_subports" % trunk["id"], {"sub_ports": subs})
    assert status == 413, body
    status, body = client.post("/trunks", {"trunk": {"port_id": parent["id"],
                                                     "sub_ports": subs[:1] * 1300}})
    assert status == 413, body
    assert _revision(client) == before


def test_subports_per_request_with_a_large_body_limit(backend, db_url_factory):
    srv = Server(db_url_factory(backend), extra=["--max-request-body-size", "4194304"])
    try:
        c = Client(srv.url)
        net = c.create("network", name="lim-sub")
        parent = c.create("port", network_id=net["id"])
        trunk = c.create("trunk", port_id=parent["id"])
        subs = [{"port_id": str(uuid.uuid4()), "segmentation_type": "vlan",
                 "segmentation_id": i + 1} for i in range(4095)]
        status, body = c.put("/trunks/%s/add_subports" % trunk["id"], {"sub_ports": subs})
        assert status == 400, body
        assert body["NeutronError"]["message"] == (
            "Invalid input for operation: Too many subports in one request: 4095 (at most "
            "4094).")
        status, body = c.post("/trunks", {"trunk": {"port_id": parent["id"],
                                                    "sub_ports": subs}})
        assert status == 400, body
        assert body["NeutronError"]["message"] == (
            "Invalid input for sub_ports. Reason: Too many subports in one request: 4095 (at "
            "most 4094).")
        # 4094 pass the count check and reach the per-port checks (none of these exist)
        status, body = c.put("/trunks/%s/add_subports" % trunk["id"], {"sub_ports": subs[:4094]})
        assert status == 404 and error_type(body) == "PortNotFound", body
        assert c.get("/trunks/" + trunk["id"])[1]["trunk"]["sub_ports"] == []
    finally:
        srv.stop()


def test_tags_per_resource(client):
    net = client.create("network", name="lim-tags")
    path = "/networks/%s/tags" % net["id"]
    status, body = client.put(path, {"tags": ["t%d" % i for i in range(50)]})
    assert status == 200 and len(body["tags"]) == 50
    before = _revision(client)
    status, body = client.put(path + "/one-more")
    assert status == 400, body
    assert body["NeutronError"]["message"] == \
        "Bad networks request: The number of tags exceed the per-resource limit of 50."
    status, body = client.put(path, {"tags": ["t%d" % i for i in range(51)]})
    assert status == 400 and error_type(body) == "BadRequest", body
    status, body = client.put(path, {"tags": ["x" * 256]})
    assert status == 400 and error_type(body) == "InvalidInput", body
    assert body["NeutronError"]["message"].endswith("exceeds maximum length of 255.")
    assert _revision(client) == before
    assert len(client.get(path)[1]["tags"]) == 50


@pytest.mark.parametrize("attr", ["name", "description"])
@pytest.mark.parametrize("member", ["network", "port", "trunk"])
def test_text_lengths(client, member, attr):
    net = client.create("network", name="lim-len")
    body = {"network": {}, "port": {"network_id": net["id"]},
            "trunk": {"port_id": client.create("port", network_id=net["id"])["id"]}}[member]
    status, created = client.post("/%ss" % member, {member: dict(body, **{attr: "x" * 255})})
    assert status == 201, created
    before = _revision(client)
    status, err = client.post("/%ss" % member, {member: dict(body, **{attr: "x" * 256})})
    assert status == 400, err
    assert err["NeutronError"]["message"] == (
        "Invalid input for %s. Reason: '%s' exceeds maximum length of 255." % (attr, "x" * 256))
    status, err = client.put("/%ss/%s" % (member, created[member]["id"]),
                             {member: {attr: "y" * 256}})
    assert status == 400, err
    assert _revision(client) == before


@pytest.mark.parametrize("collection,attr,value", [
    ("networks", "mtu", 2 ** 31), ("networks", "provider:segmentation_id", -2 ** 31 - 1),
    ("subnets", "ip_version", 2 ** 31), ("ports", "revision_number", 2 ** 63)])
def test_integer_filters_beyond_their_column(client, collection, attr, value):
    """PostgreSQL refuses to compare an INTEGER column with a 33-bit value (was a 500)."""
    status, body = client.get("/" + collection, params={attr: str(value)})
    assert status == 400, body
    assert body["NeutronError"]["message"] == \
        "Invalid input for operation: '%s' is out of range." % value
    edge = value - 1 if value > 0 else value + 1    # the column's extreme: a plain filter
    status, body = client.get("/" + collection, params={attr: str(edge)})
    assert status == 200, body
