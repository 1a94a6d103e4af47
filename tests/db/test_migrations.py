"""The Alembic migrations produce exactly the schema trunkline's code describes
(db/schema.py), on SQLite and PostgreSQL; ``trunkline db upgrade`` is idempotent and upgrades
a database from every earlier migration without losing its data."""
import os
import re
import subprocess
from ipaddress import ip_address

import pytest
import requests
from alembic.autogenerate import compare_metadata
from alembic.script import ScriptDirectory
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, select

from helpers.server import TRUNKLINE, Server
from trunkline.db import engine as db_engine
from trunkline.db import migrate, schema


@pytest.fixture(scope="module")
def db_url(backend, db_url_factory):
    return db_url_factory(backend)


def db(*args):
    return subprocess.run([TRUNKLINE, "db", *args], capture_output=True, text=True, timeout=60,
                          env=dict(os.environ))


def test_upgrade_is_idempotent(db_url):
    for _ in range(2):
        r = db("upgrade", "--db", db_url)
        assert r.returncode == 0, r.stderr
    r = db("current", "--db", db_url)
    assert r.returncode == 0 and migrate.head() in r.stdout
    eng = create_engine(db_engine.normalise_url(db_url))
    try:
        with eng.connect() as conn:
            assert conn.execute(select(schema.revision)).all() == [(1, 0)]
    finally:
        eng.dispose()


def _defaults(_ctx, _inspected_col, _col, inspected, _default, rendered):
    """Server defaults differ unless equal once casts, parentheses and quotes are dropped
    (SQLite's ``DEFAULT ''`` reflects as ``('')``, PostgreSQL's as ``''::character varying``,
    which Alembic's own comparison reports as changes)."""
    def norm(value):
        return None if value is None else re.sub(r"::[a-z ]+$", "", str(value)).strip("()'\"")
    return norm(inspected) != norm(rendered)


def test_schema_matches_metadata(db_url):
    assert db("upgrade", "--db", db_url).returncode == 0
    eng = create_engine(db_engine.normalise_url(db_url))
    try:
        with eng.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True,
                                                         "compare_server_default": _defaults})
            diffs = [d for d in compare_metadata(ctx, schema.metadata)
                     if not (isinstance(d, tuple) and d[0] == "remove_table"
                             and d[1].name == "alembic_version")]
    finally:
        eng.dispose()
    assert diffs == []


def test_upgrade_from_every_earlier_revision_keeps_data(backend, db_url_factory):
    """A database stopped at each earlier migration, with a network, subnet, port and trunk in
    it, upgrades to head through `trunkline db upgrade`, and the server then serves that data."""
    revisions = [r.revision for r in ScriptDirectory.from_config(migrate._config()).walk_revisions()]
    for earlier in revisions[1:]:          # walk_revisions starts at head
        url = db_url_factory(backend)
        eng = create_engine(db_engine.normalise_url(url))
        try:
            migrate.upgrade(eng, earlier)
            with eng.begin() as conn:
                _seed_rows(conn)
        finally:
            eng.dispose()
        r = db("upgrade", "--db", url)
        assert r.returncode == 0, r.stderr
        srv = Server(url)
        try:
            api = srv.url + "/v2.0"
            trunk = requests.get(api + "/trunks/" + IDS["trunk"]).json()["trunk"]
            assert trunk["sub_ports"] == [{"port_id": IDS["sub"], "segmentation_type": "vlan",
                                           "segmentation_id": 7}]
            port = requests.get(api + "/ports/" + IDS["parent"]).json()["port"]
            assert port["fixed_ips"] == [{"subnet_id": IDS["subnet"], "ip_address": "10.9.0.5"}]
            assert port["trunk_details"]["trunk_id"] == IDS["trunk"]
            assert port["extra_dhcp_opts"] == []
            # 0004's options table: a port of the old data takes options, which go with it
            opts = [{"opt_name": "mtu", "opt_value": "1400", "ip_version": 4}]
            r = requests.put(api + "/ports/" + IDS["sub"],
                             json={"port": {"extra_dhcp_opts": opts}})
            assert r.status_code == 200 and r.json()["port"]["extra_dhcp_opts"] == opts
            # and it keeps working: a new port gets an address that is not taken
            new = requests.post(api + "/ports", json={"port": {"network_id": IDS["net"]}})
            assert new.status_code == 201, new.text
            assert new.json()["port"]["fixed_ips"][0]["ip_address"] not in ("10.9.0.5",
                                                                             "10.9.0.6")
        finally:
            srv.stop()


IDS = {"net": "11111111-1111-4111-8111-111111111111",
       "subnet": "22222222-2222-4222-8222-222222222222",
       "parent": "33333333-3333-4333-8333-333333333333",
       "sub": "44444444-4444-4444-8444-444444444444",
       "trunk": "55555555-5555-4555-8555-555555555555"}


def _seed_rows(conn):
    """The rows of a network, subnet, two ports and a trunk; from 0005 on, the subnet's free
    address ranges too (0005 computes them only for the data it finds)."""
    std = {"project_id": "p1", "name": "", "description": "", "revision_number": 1,
           "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z"}
    conn.execute(schema.networks.insert().values(
        id=IDS["net"], admin_state_up=True, status="ACTIVE", shared=False,
        router_external=False, port_security_enabled=True, mtu=1450, network_type="vxlan",
        physical_network="", segmentation_id=77, **std))
    conn.execute(schema.subnets.insert().values(
        id=IDS["subnet"], network_id=IDS["net"], ip_version=4, cidr="10.9.0.0/24",
        gateway_ip="10.9.0.1", enable_dhcp=True, allocation_pools=[
            {"start": "10.9.0.2", "end": "10.9.0.254"}], dns_nameservers=[], host_routes=[],
        **std))
    for pid, ip, mac in ((IDS["parent"], "10.9.0.5", "fa:16:3e:00:00:05"),
                         (IDS["sub"], "10.9.0.6", "fa:16:3e:00:00:06")):
        conn.execute(schema.ports.insert().values(
            id=pid, network_id=IDS["net"], mac_address=mac, admin_state_up=True,
            status="DOWN", device_id="", device_owner="", host="", vif_type="unbound",
            vif_details={}, vnic_type="normal", profile={}, allowed_address_pairs=[],
            port_security_enabled=True, **std))
        conn.execute(schema.ipallocations.insert().values(
            subnet_id=IDS["subnet"], ip_address=ip, port_id=pid, network_id=IDS["net"]))
    conn.execute(schema.trunks.insert().values(
        id=IDS["trunk"], admin_state_up=True, status="DOWN", port_id=IDS["parent"],
        **dict(std, revision_number=0)))
    conn.execute(schema.subports.insert().values(
        port_id=IDS["sub"], trunk_id=IDS["trunk"], segmentation_type="vlan",
        segmentation_id=7, position=1))
    if inspect(conn).has_table("ipfreeranges"):     # 0005 on: the pool minus both addresses
        conn.execute(schema.ipfreeranges.insert(), [
            {"subnet_id": IDS["subnet"], "first": "%08x" % int(ip_address(a)),
             "last": "%08x" % int(ip_address(b))}
            for a, b in (("10.9.0.2", "10.9.0.4"), ("10.9.0.7", "10.9.0.254"))])


def test_servers_starting_together_migrate_once(backend, db_url_factory):
    """Several `trunkline db upgrade` (as several servers starting at once on a new database)
    take turns: every one succeeds and the schema is migrated exactly once."""
    url = db_url_factory(backend)
    procs = [subprocess.Popen([TRUNKLINE, "db", "upgrade", "--db", url], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True) for _ in range(4)]
    outs = [(p.wait(120), p.stdout.read()) for p in procs]
    assert all(rc == 0 for rc, _ in outs), outs
    eng = create_engine(db_engine.normalise_url(url))
    try:
        with eng.connect() as conn:
            assert MigrationContext.configure(conn).get_current_revision() == migrate.head()
            assert conn.execute(select(schema.revision)).all() == [(1, 0)]
    finally:
        eng.dispose()


def test_the_head_a_starting_server_reads_is_alembics():
    """A server that finds its database at ``migrate.head()`` does not load Alembic: that head,
    read from the file names, must be the one Alembic's own revision graph ends in."""
    assert migrate.head() == ScriptDirectory.from_config(migrate._config()).get_current_head()
