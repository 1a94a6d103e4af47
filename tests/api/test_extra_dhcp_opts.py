"""The extra_dhcp_opt extension on SQLite and PostgreSQL: the extension is listed, a port's
extra_dhcp_opts are stored on create, merged on update by (opt_name, ip_version) as Neutron
does (null removes one, [] and null change nothing), refused with Neutron's errors (the
catalogue compares the words with Neutron's), gone with the port, and the openstack CLI's
--extra-dhcp-option / --no-extra-dhcp-option work."""
import json
import os
import subprocess
import sys
import uuid

import pytest
from sqlalchemy import create_engine, select

from helpers.api import error_type
from trunkline.db import engine as db_engine
from trunkline.db import schema

OPENSTACK = os.path.join(os.path.dirname(sys.executable), "openstack")


def opt(name, value, version=4):
    return {"opt_name": name, "opt_value": value, "ip_version": version}


@pytest.fixture
def net(client):
    net = client.create("network", name="edo-" + uuid.uuid4().hex[:6])
    client.create("subnet", network_id=net["id"], cidr="10.31.0.0/24", ip_version=4)
    return net


def test_extension_listed(client):
    status, body = client.get("/extensions/extra_dhcp_opt")
    assert status == 200
    assert body["extension"]["name"] == "Neutron Extra DHCP options"
    assert body["extension"]["updated"] == "2013-03-17T12:00:00-00:00"


def test_create_show_list(client, net):
    p = client.create("port", network_id=net["id"], extra_dhcp_opts=[
        {"opt_name": "mtu", "opt_value": "1400"},
        {"opt_name": "bootfile-name", "opt_value": "pxelinux.0", "ip_version": "6"},
        {"opt_name": "router", "opt_value": ""},            # blank-able: stored empty
        {"opt_name": "tftp-server", "opt_value": None}])    # no value: not stored
    want = [opt("bootfile-name", "pxelinux.0", 6), opt("mtu", "1400"), opt("router", "")]
    assert p["extra_dhcp_opts"] == want
    assert client.get("/ports/" + p["id"])[1]["port"]["extra_dhcp_opts"] == want
    status, body = client.get("/ports", params={"network_id": net["id"],
                                                "fields": ["id", "extra_dhcp_opts"]})
    assert status == 200 and body["ports"] == [{"id": p["id"], "extra_dhcp_opts": want}]
    assert client.create("port", network_id=net["id"])["extra_dhcp_opts"] == []


def test_update_merges(client, net):
    p = client.create("port", network_id=net["id"], extra_dhcp_opts=[
        opt("mtu", "1400"), opt("bootfile-name", "a"), opt("domain-search", "x.test")])
    rev = p["revision_number"]

    def put(opts):
        status, body = client.put("/ports/" + p["id"], {"port": {"extra_dhcp_opts": opts}})
        assert status == 200, body
        return body["port"]

    got = put([{"opt_name": "mtu", "opt_value": "1300"},           # replaced
               {"opt_name": "bootfile-name", "opt_value": None},    # removed
               {"opt_name": "mtu", "opt_value": "9", "ip_version": 6},   # added (other version)
               {"opt_name": "tftp-server", "opt_value": None}])     # not there: nothing
    assert got["extra_dhcp_opts"] == [opt("domain-search", "x.test"), opt("mtu", "1300"),
                                      opt("mtu", "9", 6)]
    assert got["revision_number"] > rev
    for nothing in ([], None):
        assert put(nothing)["extra_dhcp_opts"] == got["extra_dhcp_opts"]
    # the same (name, version) twice: the options are matched against the stored ones, the
    # last value wins; two new ones with one key are a duplicate row
    assert put([opt("mtu", "1"), {"opt_name": "mtu", "opt_value": "2", "ip_version": "4"}])[
        "extra_dhcp_opts"][1] == opt("mtu", "2")
    status, body = client.put("/ports/" + p["id"], {"port": {"extra_dhcp_opts": [
        opt("new", "1"), opt("new", "2")]}})
    assert status == 409 and error_type(body) == "NeutronDbObjectDuplicateEntry"
    assert [o["opt_name"] for o in client.get("/ports/" + p["id"])[1]["port"][
        "extra_dhcp_opts"]] == ["domain-search", "mtu", "mtu"]   # nothing half-applied


@pytest.mark.parametrize("opts, message", [
    ("mtu", "'mtu' is not a list"),
    ([opt("mtu", "1"), opt("mtu", "1")],
     "Duplicate items in the list: '{'opt_name': 'mtu', 'opt_value': '1', 'ip_version': 4}'"),
    ([{"opt_name": "mtu", "opt_value": ""}],
     "No valid key specs matched for: {'opt_name': 'mtu', 'opt_value': ''}"),
    ([{"opt_name": "mtu", "opt_value": "a\nb"}],
     "No valid key specs matched for: {'opt_name': 'mtu', 'opt_value': 'a\\nb'}"),
    ([{"opt_name": "x" * 65, "opt_value": "1"}],
     "No valid key specs matched for: {'opt_name': '%s', 'opt_value': '1'}" % ("x" * 65)),
    ([{"opt_name": "mtu", "opt_value": "1", "ip_version": "5"}],
     "No valid key specs matched for: {'opt_name': 'mtu', 'opt_value': '1', 'ip_version': 5}"),
    ([{"opt_name": "mtu", "opt_value": "1", "ip_version": "four"}], "'four' is not an integer"),
    ([{"opt_name": "mtu"}], "No valid key specs matched for: {'opt_name': 'mtu'}"),
    ([{"opt_name": "mtu", "opt_value": "1", "bogus": 1}],
     "No valid key specs matched for: {'opt_name': 'mtu', 'opt_value': '1', 'bogus': 1}"),
])
def test_invalid_refused_on_create_and_update(client, net, opts, message):
    status, body = client.post("/ports", {"port": {"network_id": net["id"],
                                                   "extra_dhcp_opts": opts}})
    assert status == 400 and body["NeutronError"] == {
        "type": "InvalidInput", "message": "Invalid input for operation: %s." % message,
        "detail": ""}
    p = client.create("port", network_id=net["id"], extra_dhcp_opts=[opt("mtu", "1400")])
    status, body = client.put("/ports/" + p["id"], {"port": {"extra_dhcp_opts": opts}})
    assert status == 400 and error_type(body) == "InvalidInput"
    assert client.get("/ports/" + p["id"])[1]["port"]["extra_dhcp_opts"] == [opt("mtu", "1400")]


def test_duplicate_on_create_is_409_and_nothing_created(client, net):
    before = len(client.get("/ports", params={"network_id": net["id"]})[1]["ports"])
    status, body = client.post("/ports", {"port": {"network_id": net["id"], "extra_dhcp_opts": [
        opt("mtu", "1"), {"opt_name": "mtu", "opt_value": "2"}]}})
    assert status == 409 and body["NeutronError"]["message"] == (
        "Failed to create a duplicate ExtraDhcpOpt: for attribute(s) "
        "['port_id', 'opt_name', 'ip_version'] with value(s) None")
    assert len(client.get("/ports", params={"network_id": net["id"]})[1]["ports"]) == before


def test_rows_go_with_the_port_and_the_network(server, client, net):
    a = client.create("port", network_id=net["id"], extra_dhcp_opts=[opt("mtu", "1400")])
    b = client.create("port", network_id=net["id"], device_owner="network:test",
                      extra_dhcp_opts=[opt("mtu", "1300")])
    assert client.delete("/ports/" + a["id"])[0] == 204
    assert _rows(server, [a["id"], b["id"]]) == [(b["id"],)]
    assert client.delete("/networks/" + net["id"])[0] == 204   # takes network:* ports along
    assert _rows(server, [b["id"]]) == []


def _rows(server, port_ids):
    eng = create_engine(db_engine.normalise_url(server.db_url))
    try:
        with eng.connect() as conn:
            o = schema.extradhcpopts
            return conn.execute(select(o.c.port_id).where(o.c.port_id.in_(port_ids))).all()
    finally:
        eng.dispose()


def test_openstack_cli(os_env, client, net):
    """OSC has --extra-dhcp-option on port create and set (no unset: removal is the API's
    null value); a value may hold commas."""
    def osc(*args, ok=True):
        r = subprocess.run([OPENSTACK, *args], env=os_env, capture_output=True, text=True,
                           timeout=120)
        assert (r.returncode == 0) == ok, r.stderr
        return r.stdout if ok else r.stderr

    name = "edo-cli-" + uuid.uuid4().hex[:6]
    osc("port", "create", "--network", net["id"], name,
        "--extra-dhcp-option", "name=mtu,value=1400",
        "--extra-dhcp-option", "name=domain-search,value=a.test,b.test,ip-version=4")
    port = json.loads(osc("port", "show", name, "-f", "json"))
    assert port["extra_dhcp_opts"] == [opt("domain-search", "a.test,b.test"),
                                       opt("mtu", "1400")]
    osc("port", "set", name, "--extra-dhcp-option", "name=mtu,value=1300",
        "--extra-dhcp-option", "name=bootfile-name,value=pxelinux.0,ip-version=6")
    assert client.get("/ports/" + port["id"])[1]["port"]["extra_dhcp_opts"] == [
        opt("bootfile-name", "pxelinux.0", 6), opt("domain-search", "a.test,b.test"),
        opt("mtu", "1300")]
    err = osc("port", "set", name, "--extra-dhcp-option", "name=mtu", ok=False)
    assert "No valid key specs matched for: {'opt_name': 'mtu'}" in err
