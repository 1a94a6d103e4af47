"""No secret reaches a log or a command line, with a real Keystone (tests/helpers/keystone.py):
a server configured from a neutron.conf ``[keystone_authtoken]`` section, logging at debug to a
file, serves valid, invalid and missing tokens; neither the service password nor any token is
in its log or its command line, and the access lines name the caller's user and project."""
import re

import pytest
import requests

from helpers import keystone as ks
from helpers.server import Server, wait_for


@pytest.fixture(scope="module")
def keystone():
    k = ks.Keystone()
    yield k
    k.stop()


def test_no_secret_in_the_log_or_the_command_line(keystone, tmp_path):
    conf = tmp_path / "neutron.conf"
    conf.write_text("""[DEFAULT]
auth_strategy = keystone

[keystone_authtoken]
auth_type = password
auth_url = %s
username = trunkline
password = %s
project_name = service
user_domain_name = Default
project_domain_name = Default
memcached_servers = 127.0.0.1:11211
""" % (keystone.url, ks.PASSWORD))
    log = tmp_path / "server.log"
    srv = Server("sqlite:///%s/tl.db" % tmp_path,
                 extra=["--config-file", str(conf), "--debug", "--log-file", str(log)])
    try:
        token = keystone.token("member-a", "proj-a")
        r = requests.get(srv.url + "/v2.0/networks", headers={"X-Auth-Token": token},
                         timeout=30)
        assert r.status_code == 200, r.text
        bad = requests.get(srv.url + "/v2.0/networks", timeout=30,
                           headers={"X-Auth-Token": "gAAAAA-not-a-real-token-" + "x" * 40})
        assert bad.status_code == 401
        with open("/proc/%d/cmdline" % srv.proc.pid, "rb") as f:
            cmdline = f.read().decode()
        assert ks.PASSWORD not in cmdline
        rid = r.headers["X-OpenStack-Request-ID"]
        line = wait_for(lambda: [x for x in log.read_text().splitlines() if rid in x],
                        what="the access line")[0]
        assert re.search(r"%s [0-9a-f]{32} %s - - -\]" % (rid, keystone.project_id("proj-a")),
                         line), line
        text = log.read_text()
        assert "DEBUG" in text
        for secret in (ks.PASSWORD, token, "not-a-real-token"):
            assert secret not in text, "%s in the log" % secret
        assert "[keystone_authtoken] memcached_servers" in text   # reported as ignored
    finally:
        srv.stop()
