"""The server's logs: one access line per API request in Neutron's shape at the default level
(info), the caller's X-OpenStack-Request-ID kept as the global request id only when it is a
valid ``req-<uuid>``, ``--log-file``, ``--use-json`` (every line one JSON object) and
``--debug`` (agent channel requests appear)."""
import json
import re
import uuid

import pytest
import requests

from helpers.server import Server, wait_for

ACCESS = re.compile(r'INFO trunkline\.api\.access \[(\S+) (req-[0-9a-f-]{36}) (\S+) (\S+) - - -\] '
                    r'127\.0\.0\.1 "(\S+) (\S+) HTTP/1\.1" status: (\d+)  len: (\d+) '
                    r'time: \d+\.\d{7}$')


@pytest.fixture(scope="module")
def logged(tmp_path_factory):
    d = tmp_path_factory.mktemp("logs")
    srv = Server("sqlite:///%s/tl.db" % d)
    yield srv
    srv.stop()


def _lines(srv):
    return [m for m in map(ACCESS.search, srv.output().splitlines()) if m]


def test_every_request_has_an_access_line_at_the_default_level(logged):
    gid = "req-" + str(uuid.uuid4())
    r = requests.post(logged.url + "/v2.0/networks", json={"network": {"name": "x"}},
                      headers={"X-OpenStack-Request-ID": gid, "X-Project-Id": "p1"}, timeout=10)
    assert r.status_code == 201
    rid = r.headers["X-OpenStack-Request-ID"]
    assert rid != gid                         # the answer carries trunkline's own id
    r2 = requests.get(logged.url + "/v2.0/networks?name=x&fields=id", timeout=10,
                      headers={"X-OpenStack-Request-ID": "req-not-a-uuid"})
    r3 = requests.get(logged.url + "/v2.0/nonexistent", timeout=10)
    last = r3.headers["X-OpenStack-Request-ID"]   # a line is written once the answer is sent
    by_id = wait_for(lambda: (lambda ids: last in ids and ids)(
        {m.group(2): m for m in _lines(logged)}), what="the access lines")
    m = by_id[rid]
    assert (m.group(1), m.group(4), m.group(5), m.group(6), m.group(7), m.group(8)) == (
        gid, "p1", "POST", "/v2.0/networks", "201", str(len(r.content)))
    m = by_id[r2.headers["X-OpenStack-Request-ID"]]
    assert m.group(1) == "-"                  # an invalid global id is not kept
    assert m.group(6) == "/v2.0/networks?name=x&fields=id"
    assert by_id[r3.headers["X-OpenStack-Request-ID"]].group(7) == "404"


def test_log_file_json_and_debug(tmp_path):
    log = tmp_path / "log" / "server.json"
    srv = Server("sqlite:///%s/tl.db" % tmp_path,
                 extra=["--log-file", str(log), "--use-json", "--debug"])
    try:
        gid = "req-" + str(uuid.uuid4())
        r = requests.get(srv.url + "/v2.0/ports", headers={"X-OpenStack-Request-ID": gid},
                         timeout=10)
        requests.get(srv.url + "/agent/v1/no-such-call", timeout=10)

        def access():
            records = [json.loads(line) for line in log.read_text().splitlines()]
            found = [x for x in records if x["name"] == "trunkline.api.access"]
            return any("/agent/v1/" in x["message"] for x in found) and found
        access = wait_for(access, what="the agent channel request's record")
        assert "trunkline.api.access" not in srv.output()       # all of it went to the file
        mine = [x for x in access
                if x["context"]["request_id"] == r.headers["X-OpenStack-Request-ID"]]
        assert len(mine) == 1 and mine[0]["levelname"] == "INFO"
        assert mine[0]["context"]["global_request_id"] == gid
        assert mine[0]["extra"]["status"] == 200 and mine[0]["extra"]["path"] == "/v2.0/ports"
        assert mine[0]["extra"]["length"] == len(r.content)
        assert any(x["levelname"] == "DEBUG" and "/agent/v1/no-such-call" in x["message"]
                   for x in access)
    finally:
        srv.stop()


def test_an_agent_pass_names_itself_in_the_server_log(tmp_path):
    """The agent sends its pass's request id on the channel; the server's (debug) access lines
    carry it as the global request id."""
    from trunkline.agent.client import ChannelClient
    srv = Server("sqlite:///%s/tl.db" % tmp_path, extra=["--debug"])
    try:
        client = ChannelClient(srv.url, "h-log")
        client.register("Open vSwitch agent", "trunkline-agent", {})
        rid = "req-" + str(uuid.uuid4())
        client.begin(rid)
        client.state()
        line = wait_for(lambda: [x for x in srv.output().splitlines()
                                 if "trunkline.api.access [%s " % rid in x], what="the line")[0]
        assert '"GET /agent/v1/hosts/h-log/state' in line
    finally:
        srv.stop()
