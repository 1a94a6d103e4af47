"""Shared fixtures: every API test runs against a real server process on SQLite and on
PostgreSQL (a private cluster started once per session; those runs are marked ``postgres``).
Helpers the tests import live in the ``helpers`` package beside this file."""
import os

import pytest

from helpers.api import BACKENDS, Client
from helpers.server import Postgres, Server


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


# what each module needs beyond a server on SQLite (``make test-fast`` deselects all of these;
# ``root``: namespaces, veths, iptables; ``ovs``: Open vSwitch daemons; ``slow``: minutes;
# ``qemu``: boots a real guest kernel under QEMU)
NEEDS = {
    "agent/test_loop.py": ("root", "ovs"),
    "agent/test_vlan_devices.py": ("root",),
    "agent/dhcp/test_dhcp_agent.py": ("root", "ovs"),
    "agent/ovs/test_wiring_ovs.py": ("root", "ovs"),
    "agent/ovs/test_vif_ready_ovs.py": ("root", "ovs"),
    "agent/ovs/test_ovsdb_manager_ovs.py": ("root", "ovs"),
    "agent/ovs/test_osvif_ovs.py": ("root", "ovs"),
    "agent/linuxbridge/test_wiring_linuxbridge.py": ("root",),
    "lab/test_lab_vm.py": ("root", "ovs"),
    "lab/test_qemu_vm.py": ("root", "ovs", "qemu"),     # one QEMU/TCG boot, ~1-4 minutes
    "lab/test_qemu_demo.py": ("root", "ovs", "qemu"),
    "e2e/": ("root", "ovs", "slow"),
    "multihost/": ("root", "ovs", "slow"),
    "fuzz/": ("slow",),
    "channel/test_scaleout.py": ("postgres", "slow"),
    "api/test_faults_api.py": ("slow",),
    "api/test_auth.py": ("slow",),          # a real Keystone per module
    "api/test_policy_neutron29.py": ("slow",),
    "api/test_logging_keystone.py": ("slow",),
    "api/test_quotas_keystone.py": ("slow",),
    "api/test_auth_tokens.py": ("slow",),   # a real Keystone, restarted once
    "api/test_nova_events.py": ("slow",),   # a real Keystone, a fake Nova, 2 s batches
}


def pytest_collection_modifyitems(config, items):
    here = os.path.dirname(os.path.abspath(__file__))
    for item in items:
        path = os.path.relpath(str(item.path), here)
        for where, marks in NEEDS.items():
            if path == where or (where.endswith("/") and path.startswith(where)):
                for mark in marks:
                    item.add_marker(mark)
