"""Schemathesis against the live server, driven by the OpenAPI document trunkline serves
(api/openapi.py): every operation gets schema-valid and schema-violating requests (bodies, path
and query parameters, If-Match headers). Each must answer below 500, a 4xx must be a
NeutronError body, the status must be one the document lists and a success must match its
documented schema; a refused request must change nothing: neither the global revision (every
committed write takes one) nor any stored row.

Complements test_fuzz.py (hand-written hypothesis strategies aimed at known weak spots). The
budget per operation is TRUNKLINE_FUZZ_EXAMPLES (default 8: the file runs in about a
minute per backend); TRUNKLINE_FUZZ_COVERAGE=1 adds schemathesis' coverage phase (every
boundary value and wrong type of every parameter). A long run:
TRUNKLINE_FUZZ_EXAMPLES=300 TRUNKLINE_FUZZ_COVERAGE=1 pytest tests/fuzz/test_fuzz_openapi.py
"""
import itertools
import os
import zlib

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import (response_schema_conformance,
                                               status_code_conformance)

from trunkline.api import openapi
from trunkline.definitions import validators

BUDGET = int(os.environ.get("TRUNKLINE_FUZZ_EXAMPLES", "8"))
COVERAGE = os.environ.get("TRUNKLINE_FUZZ_COVERAGE", "") not in ("", "0")
SCHEMA = schemathesis.openapi.from_dict(openapi.document())
SCHEMA.config.generation.update(
    modes=[schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE],
    max_examples=BUDGET)
# The coverage phase enumerates every boundary and wrong type of every parameter: thorough
# (thousands of requests) but minutes long, so only on request.
SCHEMA.config.phases.update(phases=["examples", "fuzzing"] + (["coverage"] if COVERAGE else []))
COLLECTIONS = ("networks", "subnets", "ports", "trunks")
CHECKS = [status_code_conformance, response_schema_conformance]
_cidrs = itertools.count(1)


@pytest.fixture(scope="module")
def world(client):
    """Resources the generated requests are aimed at (ids in paths and bodies)."""
    net = client.create("network", name="oa-net")
    sub = client.create("subnet", network_id=net["id"], ip_version=4, cidr="10.66.0.0/16")
    parent = client.create("port", network_id=net["id"], name="oa-parent")
    child = client.create("port", network_id=net["id"], name="oa-child")
    spare = client.create("port", network_id=net["id"], name="oa-spare")
    tr = client.create("trunk", port_id=parent["id"], sub_ports=[
        {"port_id": child["id"], "segmentation_type": "vlan", "segmentation_id": 7}])
    victims = client.create("network", name="oa-victims")
    client.create("subnet", network_id=victims["id"], ip_version=4, cidr="10.67.0.0/16")
    return {"network": net["id"], "subnet": sub["id"], "port": spare["id"], "trunk": tr["id"],
            "parent": parent["id"], "victims": victims["id"]}


def _victim(client, world, member):
    """A fresh resource for a generated DELETE to remove (never one of the world's)."""
    if member == "network":
        return client.create("network", name="oa-victim")["id"]
    if member == "subnet":
        n = next(_cidrs)
        return client.create("subnet", network_id=world["victims"], ip_version=4,
                             cidr="10.%d.%d.0/24" % (68 + n // 250, n % 250))["id"]
    port = client.create("port", network_id=world["victims"], name="oa-victim")["id"]
    if member == "port":
        return port
    return client.create("trunk", port_id=port)["id"]


BODY_IDS = {"network_id": "network", "subnet_id": "subnet", "port_id": "port"}


def _aim(value, world, salt):
    """Point most well-formed ids in a generated body at the world's resources, so requests
    get past "not found" into the plugins' rules."""
    if isinstance(value, dict):
        return {k: (world[BODY_IDS[k]] if k in BODY_IDS and validators.is_uuid(v) and salt % 4
                    else _aim(v, world, salt)) for k, v in value.items()}
    if isinstance(value, list):
        return [_aim(v, world, salt + i) for i, v in enumerate(value)]
    return value


def _target(case, client, world):
    """Path ids: the world's resource in 3 of 4 cases (a fresh victim for a DELETE)."""
    salt = zlib.crc32(repr((case.body, case.query)).encode("utf-8", "replace"))
    for name in list(case.path_parameters or {}):
        member = name[:-3] if name.endswith("_id") else None
        if member in world and salt % 4:
            if case.method.upper() == "DELETE" and case.path.endswith("_id}"):
                case.path_parameters[name] = _victim(client, world, member)
            else:
                case.path_parameters[name] = world[member]
    if case.body is not None and not isinstance(case.body, (bytes, str)):
        case.body = _aim(case.body, world, salt)


def _state(client, server, rows):
    """The global revision (every committed write takes the next one) and, for requests that
    may write, every stored row (through the API, sorted by id)."""
    r = requests.get(server.url + "/agent/v1/hosts/oa-nobody/state", timeout=30)
    assert r.status_code == 200, r.text
    stored = []
    for coll in COLLECTIONS if rows else ():
        status, body = client.get("/" + coll, params={"sort_key": "id", "sort_dir": "asc"})
        assert status == 200, body
        stored.append(body[coll])
    return r.json()["revision"], stored


def _cleanup(client, response):
    """Delete what a successful create made, to keep the state small and the world's ports
    free (trunks first: they hold ports). Best effort: a trunk whose parent a generated update
    bound stays (409, as Neutron)."""
    body = response.json()
    for coll in ("trunks", "ports", "subnets", "networks"):
        member = coll[:-1]
        items = body.get(coll) or ([body[member]] if member in body else [])
        for item in items:
            status, _ = client.delete("/%s/%s" % (coll, item["id"]))
            assert status < 500, status


@SCHEMA.parametrize()
@settings(deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
def test_operation(case, client, server, world):
    _target(case, client, world)
    writes = case.method.upper() != "GET"
    before = _state(client, server, writes)
    response = case.call(base_url=server.url, timeout=30)
    status = response.status_code
    assert status < 500, (status, response.text)
    if status >= 400:
        err = response.json()["NeutronError"]
        assert isinstance(err["type"], str) and isinstance(err["message"], str), err
        assert _state(client, server, writes) == before, (status, response.text)
    case.validate_response(response, checks=CHECKS)
    if status == 201 and case.method.upper() == "POST":
        _cleanup(client, response)
