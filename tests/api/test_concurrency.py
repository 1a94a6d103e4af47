"""Invariants under concurrent requests against a multi-worker server: add_subports is applied
whole or refused whole and never duplicates a (type, id); competing port creates take exactly
the free addresses; concurrently created networks get distinct VNIs. Never a 500."""
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from helpers.api import Client, error_type
from helpers.server import Server

THREADS = 16


@pytest.fixture(scope="module")
def server(backend, db_url_factory):
    srv = Server(db_url_factory(backend), workers=4)
    yield srv
    srv.stop()


def parallel(fn, args):
    with ThreadPoolExecutor(THREADS) as pool:
        return list(pool.map(fn, args))


def call(server, method, path, body):
    r = requests.request(method, server.url + "/v2.0" + path, json=body, timeout=60)
    return r.status_code, r.json() if r.content else None


def test_concurrent_add_subports_all_or_nothing(client, server):
    net = client.create("network")
    client.create("subnet", network_id=net["id"], cidr="10.60.0.0/22", ip_version=4)
    trunk = client.create("trunk", port_id=client.create("port", network_id=net["id"])["id"])
    status, body = client.post("/ports", {"ports": [{"network_id": net["id"]}] * 100})
    assert status == 201
    ports = [p["id"] for p in body["ports"]]
    # request i adds two fresh ports; segmentation ids overlap between requests
    requests_ = [[{"port_id": ports[2 * i], "segmentation_type": "vlan",
                   "segmentation_id": 1 + i % 20},
                  {"port_id": ports[2 * i + 1], "segmentation_type": "vlan",
                   "segmentation_id": 1 + (i * 7 + 3) % 20}] for i in range(50)]
    requests_ = [r for r in requests_ if r[0]["segmentation_id"] != r[1]["segmentation_id"]]
    results = parallel(lambda subs: call(server, "PUT", "/trunks/%s/add_subports" % trunk["id"],
                                         {"sub_ports": subs}), requests_)
    assert {s for s, _ in results} <= {200, 409}, results
    assert all(error_type(b) == "DuplicateSubPort" for s, b in results if s == 409)
    final = client.get("/trunks/%s/get_subports" % trunk["id"])[1]["sub_ports"]
    segs = [(s["segmentation_type"], s["segmentation_id"]) for s in final]
    assert len(segs) == len(set(segs))
    present = {s["port_id"]: s["segmentation_id"] for s in final}
    applied = 0
    for subs, (status, _) in zip(requests_, results):
        if status == 200:
            applied += 1
            assert all(present.get(s["port_id"]) == s["segmentation_id"] for s in subs)
        else:
            assert not any(s["port_id"] in present for s in subs)
    assert applied >= 1 and len(final) == 2 * applied
    assert client.get("/trunks/" + trunk["id"])[1]["trunk"]["revision_number"] == 0


def test_concurrent_ports_compete_for_last_addresses(client, server):
    net = client.create("network")
    sub = client.create("subnet", network_id=net["id"], cidr="10.61.0.0/29", ip_version=4)
    assert sub["allocation_pools"] == [{"start": "10.61.0.2", "end": "10.61.0.6"}]
    client.create("port", network_id=net["id"], fixed_ips=[{"ip_address": "10.61.0.2"}])
    results = parallel(lambda _: call(server, "POST", "/ports",
                                      {"port": {"network_id": net["id"]}}), range(20))
    created = [b["port"] for s, b in results if s == 201]
    refused = [b for s, b in results if s != 201]
    assert len(created) == 4, results
    assert all(error_type(b) == "IpAddressGenerationFailure" for b in refused), refused
    ips = {p["fixed_ips"][0]["ip_address"] for p in created}
    assert ips == {"10.61.0.3", "10.61.0.4", "10.61.0.5", "10.61.0.6"}


def test_concurrent_explicit_address_requests(client, server):
    net = client.create("network")
    client.create("subnet", network_id=net["id"], cidr="10.62.0.0/24", ip_version=4)
    results = parallel(lambda _: call(server, "POST", "/ports", {"port": {
        "network_id": net["id"], "fixed_ips": [{"ip_address": "10.62.0.9"}]}}), range(12))
    assert sorted(s for s, _ in results) == [201] + [409] * 11, results


def test_concurrent_networks_get_unique_vnis(client, server):
    results = parallel(lambda i: call(server, "POST", "/networks",
                                      {"network": {"name": "vni-%d" % i}}), range(30))
    assert all(s == 201 for s, _ in results), results
    vnis = [b["network"]["provider:segmentation_id"] for _, b in results]
    assert len(set(vnis)) == 30
    listed = Client(server.url).get("/networks", params={"fields": "provider:segmentation_id"})
    all_vnis = [n["provider:segmentation_id"] for n in listed[1]["networks"]]
    assert len(all_vnis) == len(set(all_vnis))
