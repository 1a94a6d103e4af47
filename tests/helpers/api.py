"""Plain HTTP against a trunkline server's API, for tests that check status codes and bodies
as a client sees them; the back ends every API test runs on."""
import pytest
import requests

# every API test runs on both; PostgreSQL's runs carry the ``postgres`` marker
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


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


def error_type(body):
    return body["NeutronError"]["type"]


def unlimited(client, *resources, project_id=None):
    """Lift the quotas of ``resources`` for a project (the no-auth caller's by default): for
    tests that make more of something than Neutron's default quotas allow one project."""
    from trunkline.plugins.common import DEFAULT_PROJECT
    status, body = client.put("/quotas/%s" % (project_id or DEFAULT_PROJECT),
                              {"quota": dict.fromkeys(resources, -1)})
    assert status == 200, body
