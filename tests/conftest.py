"""Shared fixtures: every API test runs against a real server process on SQLite and on
PostgreSQL (a private cluster started once per session)."""
import os

import pytest
import requests

from fixtures import Postgres, Server

BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(scope="session")
def postgres():
    pg = Postgres()
    yield pg
    pg.stop()


@pytest.fixture(scope="session")
def db_url_factory(request, tmp_path_factory):
    def make(backend):
        if backend == "sqlite":
            path = tmp_path_factory.mktemp("sqlite") / "trunkline.db"
            return "sqlite:///" + str(path)
        return request.getfixturevalue("postgres").new_database()
    return make


@pytest.fixture(scope="module", params=BACKENDS)
def backend(request):
    return request.param


@pytest.fixture(scope="module")
def server(backend, db_url_factory):
    """A running trunkline server (one per test module and backend)."""
    srv = Server(db_url_factory(backend))
    yield srv
    srv.stop()


class Client:
    """Plain HTTP against the API, returning (status, json-or-None)."""

    def __init__(self, url):
        self.url = url + "/v2.0"
        self.http = requests.Session()

    def request(self, method, path, body=None, raw=None, headers=None, params=None):
        kw = {"headers": headers or {}, "params": params}
        if raw is not None:
            kw["data"] = raw
        elif body is not None:
            kw["json"] = body
        r = self.http.request(method, self.url + path, **kw)
        try:
            data = r.json() if r.content else None
        except ValueError:
            data = r.text
        return r.status_code, data

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body, **kw)

    def put(self, path, body=None, **kw):
        return self.request("PUT", path, body, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    def create(self, member, **attrs):
        status, body = self.post("/%ss" % member, {member: attrs})
        assert status == 201, body
        return body[member]


@pytest.fixture(scope="module")
def client(server):
    return Client(server.url)


@pytest.fixture
def os_env(server):
    env = dict(os.environ, OS_AUTH_TYPE="none", OS_ENDPOINT=server.url)
    for key in list(env):
        if key.startswith("OS_") and key not in ("OS_AUTH_TYPE", "OS_ENDPOINT"):
            del env[key]
    return env


def error_type(body):
    return body["NeutronError"]["type"]
