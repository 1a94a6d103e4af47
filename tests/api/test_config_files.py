"""Neutron's configuration files (``--config-file``): every option of the mapping table sets its
flag; real servers started from neutron.conf + ml2_conf.ini listen, store and allocate as the
files say (type drivers, tenant network types in order, VNI and VLAN ranges, mechanism drivers);
flags win over files; unknown options are reported once; a malformed or unreadable file or a bad
value stops the start with exit 2 and a message naming the file; a real agent takes its host
from its file."""
import os
import re
import subprocess
import time

import pytest
import requests

from helpers.server import TRUNKLINE, wait_for, wait_http
from trunkline.cli import config, main
from trunkline.stack import free_port, stop_group

# (section, option, value in the file, command, attribute of the parsed arguments, expected)
CASES = [
    ("DEFAULT", "bind_host", "127.0.0.2", "server", "bind", "127.0.0.2:9696"),
    ("DEFAULT", "bind_port", "9797", "server", "bind", "127.0.0.1:9797"),
    ("DEFAULT", "agent_down_time", "30", "server", "agent_down_time", 30.0),
    ("DEFAULT", "auth_strategy", "keystone", "server", "auth", "keystone"),
    ("DEFAULT", "api_workers", "3", "server", "workers", 3),
    ("DEFAULT", "pagination_max_limit", "50", "server", "pagination_max_limit", 50),
    ("DEFAULT", "client_socket_timeout", "60", "server", "client_socket_timeout", 60.0),
    ("DEFAULT", "max_request_body_size", "2000", "server", "max_request_body_size", 2000),
    ("DEFAULT", "host", "compute-7", "agent", "host", "compute-7"),
    ("DEFAULT", "debug", "True", "server", "debug", True),
    ("DEFAULT", "log_file", "/var/log/tl.log", "agent", "log_file", "/var/log/tl.log"),
    ("DEFAULT", "use_json", "yes", "server", "use_json", True),
    ("database", "connection", "postgresql+psycopg2://tl:pw@db:5432/neutron", "server", "db",
     "postgresql://tl:pw@db:5432/neutron"),
    ("ml2", "type_drivers", "flat, vlan", "server", "type_drivers", ["flat", "vlan"]),
    ("ml2", "tenant_network_types", "vlan,vxlan", "server", "tenant_network_types",
     ["vlan", "vxlan"]),
    ("ml2", "mechanism_drivers", "linuxbridge,l2population", "server", "mechanism_drivers",
     ["linuxbridge", "l2population"]),
    ("ml2_type_flat", "flat_networks", "physnet1, physnet2", "server", "flat_networks",
     ["physnet1", "physnet2"]),
    ("ml2_type_vxlan", "vni_ranges", "10:20,30:40", "server", "vni_ranges", [[10, 20], [30, 40]]),
    ("ml2_type_vlan", "network_vlan_ranges", "physnet2:5:6,physnet3", "server",
     "network_vlan_ranges", {"physnet2": [[5, 6]], "physnet3": []}),
    ("ml2_type_gre", "tunnel_id_ranges", "7:9", "server", "tunnel_id_ranges", [[7, 9]]),
    ("keystone_authtoken", "auth_url", "http://ks:5000/v3", "server", "keystone_url",
     "http://ks:5000/v3"),
    ("keystone_authtoken", "username", "neutron", "server", "keystone_user", "neutron"),
    ("keystone_authtoken", "password", "s3cr$$et", "server", "keystone_password", "s3cr$et"),
    ("keystone_authtoken", "project_name", "service", "server", "keystone_project", "service"),
    ("keystone_authtoken", "user_domain_name", "Users", "server", "keystone_user_domain",
     "Users"),
    ("keystone_authtoken", "project_domain_name", "Svc", "server", "keystone_project_domain",
     "Svc"),
    ("keystone_authtoken", "token_cache_time", "60", "server", "token_cache_ttl", 60.0),
    ("keystone_authtoken", "auth_type", "v3applicationcredential", "server",
     "keystone_auth_type", "v3applicationcredential"),
    ("keystone_authtoken", "application_credential_id", "abc", "server",
     "keystone_application_credential_id", "abc"),
    ("keystone_authtoken", "application_credential_secret", "s3", "server",
     "keystone_application_credential_secret", "s3"),
    ("keystone_authtoken", "cafile", "/etc/ssl/ca.pem", "server", "keystone_cafile",
     "/etc/ssl/ca.pem"),
    ("keystone_authtoken", "certfile", "/etc/ssl/c.pem", "server", "keystone_certfile",
     "/etc/ssl/c.pem"),
    ("keystone_authtoken", "keyfile", "/etc/ssl/k.pem", "server", "keystone_keyfile",
     "/etc/ssl/k.pem"),
    ("keystone_authtoken", "insecure", "true", "server", "keystone_insecure", True),
    ("keystone_authtoken", "service_type", "net", "server", "keystone_service_type", "net"),
    ("keystone_authtoken", "service_token_roles", "service,admin", "server",
     "keystone_service_token_roles", "service,admin"),
    ("keystone_authtoken", "service_token_roles_required", "false", "server",
     "keystone_service_token_roles_required", False),
    ("oslo_policy", "policy_file", "policy.yaml", "server", "policy_file", "{dir}/policy.yaml"),
    ("oslo_policy", "enforce_scope", "false", "server", "enforce_scope", False),
    ("oslo_policy", "enforce_new_defaults", "False", "server", "enforce_new_defaults", False),
    ("oslo_policy", "policy_dirs", "policy.d,/etc/extra", "server", "policy_dirs",
     ["{dir}/policy.d", "/etc/extra"]),
    ("ovs", "bridge_mappings", "physnet1:br-eth2,physnet2:br-bond0", "agent", "physnet_mapping",
     [("physnet1", "eth2"), ("physnet2", "bond0")]),
    ("ovs", "local_ip", "10.0.0.7", "agent", "tunnel_ip", "10.0.0.7"),
    ("ovs", "datapath_type", "netdev", "agent", "datapath_type", "netdev"),
    ("ovs", "integration_bridge", "br-int2", "agent", "integration_bridge", "br-int2"),
    ("linux_bridge", "physical_interface_mappings", "physnet1:eth3", "agent", "physnet_mapping",
     [("physnet1", "eth3")]),
    ("vxlan", "local_ip", "10.0.0.8", "agent", "tunnel_ip", "10.0.0.8"),
    ("vxlan", "l2_population", "False", "agent", "l2_population", False),
    ("vxlan", "vxlan_group", "239.1.0.0/16", "agent", "vxlan_group", "239.1.0.0/16"),
    ("vxlan", "udp_dstport", "8472", "agent", "vxlan_port", 8472),
    ("agent", "tunnel_types", "gre, vxlan", "agent", "tunnel_types", ["vxlan", "gre"]),
    ("agent", "arp_responder", "true", "agent", "arp_responder", True),
    ("agent", "report_interval", "5", "agent", "report_interval", 5.0),
]
NOTES = [("agent", "l2_population", "false", "always use L2 population"),
         ("securitygroup", "firewall_driver", "openvswitch", "do not filter traffic")]


def _parse(argv, files):
    """(args, lines to log) as ``trunkline`` parses ``argv`` with ``files``."""
    argv = [argv[0]] + [a for f in files for a in ("--config-file", str(f))] + argv[1:]
    p = main.parser(argv[0])
    args = p.parse_args(argv)
    return args, config.apply(args, main._commands(p)[argv[0]], argv[1:], argv[0])


def test_every_option_of_the_table_is_tested():
    tested = {(c[0], c[1]) for c in CASES} | {(n[0], n[1]) for n in NOTES}
    assert tested == {(o.section, o.name) for o in config.OPTIONS}


@pytest.mark.parametrize("section,name,value,command,attr,expected", CASES,
                         ids=["%s.%s" % (c[0], c[1]) for c in CASES])
def test_each_option_sets_its_flag(tmp_path, section, name, value, command, attr, expected):
    f = tmp_path / "neutron.conf"
    f.write_text("[%s]\n%s = %s\n" % (section, name, value))
    args, lines = _parse([command], [f])
    if isinstance(expected, str):
        expected = expected.replace("{dir}", str(tmp_path))
    elif isinstance(expected, list):
        expected = [e.replace("{dir}", str(tmp_path)) if isinstance(e, str) else e
                    for e in expected]
    assert getattr(args, attr) == expected
    assert lines == []   # a known option is not reported


@pytest.mark.parametrize("section,name,value,words", NOTES, ids=[n[1] for n in NOTES])
def test_options_without_a_flag_are_reported_when_they_ask_for_something_else(
        tmp_path, section, name, value, words):
    f = tmp_path / "openvswitch_agent.ini"
    f.write_text("[%s]\n%s = %s\n" % (section, name, value))
    assert any(words in line for line in _parse(["agent"], [f])[1])
    f.write_text("[%s]\n%s = %s\n" % (section, name, "true" if "l2" in name else "noop"))
    assert _parse(["agent"], [f])[1] == []


def test_ini_semantics_are_oslo_configs(tmp_path):
    """Later files override earlier ones, the last repeated key wins, section names are
    case-insensitive, $references substitute, continuation lines join."""
    a, b = tmp_path / "neutron.conf", tmp_path / "ml2_conf.ini"
    a.write_text("[DEFAULT]\nbind_port = 1000\nbind_port = 1001\n[ML2]\ntype_drivers = flat\n"
                 "[keystone_authtoken]\nusername = svc\nproject_name = $username-project\n")
    b.write_text("[ml2]\ntype_drivers = flat,\n  vlan\n")
    args, _ = _parse(["server"], [a, b])
    assert args.bind == "127.0.0.1:1001"
    assert args.type_drivers == ["flat", "vlan"]
    assert args.keystone_project == "svc-project"


def test_flags_win_and_the_environment_wins_over_files_for_the_database(tmp_path, monkeypatch):
    f = tmp_path / "neutron.conf"
    f.write_text("[DEFAULT]\nbind_port = 1000\n[ovs]\nbridge_mappings = physnet1:br-eth2\n"
                 "[database]\nconnection = sqlite:////from/file.db\n")
    args, _ = _parse(["server", "--bind", "127.0.0.1:2000"], [f])
    assert args.bind == "127.0.0.1:2000"
    assert args.db == "sqlite:////from/file.db"
    monkeypatch.setenv(config.ENV_DB_URL, "sqlite:////from/env.db")
    args, _ = _parse(["server"], [f])
    assert main._db_url(args) == "sqlite:////from/env.db"
    args, _ = _parse(["agent", "--physnet-mapping", "physnet9:eth9"], [f])
    assert args.physnet_mapping == [("physnet9", "eth9")]


def test_up_passes_the_files_ml2_options_to_its_server(tmp_path):
    f = tmp_path / "ml2_conf.ini"
    f.write_text("[ml2]\ntype_drivers = vlan,vxlan\ntenant_network_types = vlan\n"
                 "[ml2_type_vxlan]\nvni_ranges = 5:6\n[ml2_type_flat]\nflat_networks =\n")
    argv = main._server_argv(_parse(["up"], [f])[0])
    assert argv[argv.index("--type-drivers") + 1] == "vlan,vxlan"
    assert argv[argv.index("--tenant-network-types") + 1] == "vlan"
    assert argv[argv.index("--vni-ranges") + 1] == "5:6"
    assert "--flat-networks=" in argv     # [ml2_type_flat] flat_networks = (empty: none)
    assert "--db" not in argv


# -- real processes ------------------------------------------------------------------------------

class Proc:
    """A ``trunkline`` process with its output in a file; stopped by PID."""

    def __init__(self, argv, log, cwd=None):
        self.log = log
        with open(log, "wb") as out:
            self.proc = subprocess.Popen([TRUNKLINE] + argv, stdout=out,
                                         stderr=subprocess.STDOUT, start_new_session=True,
                                         cwd=cwd)

    def output(self):
        with open(self.log) as f:
            return f.read()

    def stop(self):
        stop_group(self.proc)


def _start_server(tmp_path, files, extra=(), port=None):
    srv = Proc(["server"] + [a for f in files for a in ("--config-file", str(f))] + list(extra),
               str(tmp_path / ("server-%d.log" % time.monotonic_ns())))
    try:
        wait_http("http://127.0.0.1:%d/" % port, srv.proc)
    except Exception:
        srv.stop()
        raise AssertionError("server did not start: " + srv.output())
    return srv


@pytest.fixture
def neutron_files(tmp_path):
    port = free_port()
    conf = tmp_path / "neutron.conf"
    conf.write_text("""[DEFAULT]
core_plugin = ml2
service_plugins = trunk
bind_host = 127.0.0.1
bind_port = %d
api_workers = 2

[database]
connection = sqlite:///%s/neutron.sqlite
""" % (port, tmp_path))
    ml2 = tmp_path / "ml2_conf.ini"
    ml2.write_text("""[ml2]
type_drivers = flat,vlan,vxlan
tenant_network_types = vlan,vxlan
mechanism_drivers = linuxbridge

[ml2_type_flat]
flat_networks = physnet1

[ml2_type_vlan]
network_vlan_ranges = physnet1:100:100

[ml2_type_vxlan]
vni_ranges = 500:501
""")
    return port, [conf, ml2]


def _network(url, **attrs):
    return requests.post(url + "/v2.0/networks", json={"network": dict(name="n", **attrs)},
                         timeout=10)


def test_a_server_from_neutrons_files(tmp_path, neutron_files):
    port, files = neutron_files
    srv = _start_server(tmp_path, files, port=port)
    url = "http://127.0.0.1:%d" % port
    try:
        assert os.path.exists(tmp_path / "neutron.sqlite")            # [database] connection
        # api_workers = 2: two worker processes under the server
        wait_for(lambda: len(subprocess.run(["pgrep", "-P", str(srv.proc.pid)],
                                            capture_output=True, text=True).stdout.split()) >= 2,
                 what="two API workers")
        r = _network(url, **{"provider:network_type": "gre"})
        assert r.status_code == 400, r.text
        assert r.json()["NeutronError"]["type"] == "InvalidInput"
        assert ("network_type value 'gre' not supported"
                in r.json()["NeutronError"]["message"])
        segments = []
        for _ in range(3):   # tenant_network_types in order: the one VLAN, then the two VNIs
            r = _network(url)
            assert r.status_code == 201, r.text
            n = r.json()["network"]
            segments.append((n["provider:network_type"], n["provider:segmentation_id"]))
        assert segments == [("vlan", 100), ("vxlan", 500), ("vxlan", 501)]
        assert _network(url).status_code == 503                          # nothing left
        flat = {"provider:network_type": "flat", "provider:physical_network": "physnet2"}
        r = _network(url, **flat)                                          # flat_networks
        assert r.status_code == 400 and "physical_network 'physnet2' unknown" in r.text
        flat["provider:physical_network"] = "physnet1"
        assert _network(url, **flat).status_code == 201
        # mechanism_drivers = linuxbridge: a host with only an Open vSwitch agent binds nothing
        agent = Proc(["agent", "--driver", "noop", "--host", "ovs-host", "--server", url,
                      "--state-dir", str(tmp_path / "agent")], str(tmp_path / "agent.log"))
        try:
            wait_for(lambda: requests.get(url + "/v2.0/agents?host=ovs-host",
                                          timeout=5).json()["agents"], what="the agent")
            net = segments and requests.get(url + "/v2.0/networks", timeout=5).json()[
                "networks"][0]["id"]
            r = requests.post(url + "/v2.0/ports", timeout=10, json={"port": {
                "network_id": net, "binding:host_id": "ovs-host"}})
            assert r.status_code == 201, r.text
            assert r.json()["port"]["binding:vif_type"] == "binding_failed"
        finally:
            agent.stop()
        out = srv.output()
        ignored = [line for line in out.splitlines() if "ignored (not implemented" in line]
        assert len(ignored) == 1, out
        assert "[DEFAULT] core_plugin" in ignored[0]
        assert "[DEFAULT] service_plugins" in ignored[0]
        assert "[DEFAULT] bind_port" not in ignored[0]
    finally:
        srv.stop()


def test_flags_win_over_the_files(tmp_path, neutron_files):
    _, files = neutron_files
    port = free_port()
    srv = _start_server(tmp_path, files, port=port, extra=[
        "--bind", "127.0.0.1:%d" % port, "--type-drivers", "vxlan,gre",
        "--tenant-network-types", "gre", "--tunnel-id-ranges", "77:78",
        "--mechanism-drivers", "openvswitch"])
    try:
        url = "http://127.0.0.1:%d" % port
        r = _network(url)
        assert r.status_code == 201, r.text
        n = r.json()["network"]
        assert (n["provider:network_type"], n["provider:segmentation_id"]) == ("gre", 77)
        r = _network(url, **{"provider:network_type": "vlan", "provider:physical_network":
                             "physnet1"})
        assert r.status_code == 400 and "'vlan' not supported" in r.text
    finally:
        srv.stop()


def _fails(argv, tmp_path):
    r = subprocess.run([TRUNKLINE] + argv, capture_output=True, text=True, timeout=60,
                       cwd=tmp_path)
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    return r.stderr


def test_a_malformed_or_unreadable_file_stops_the_start(tmp_path):
    bad = tmp_path / "neutron.conf"
    bad.write_text("[DEFAULT]\nbind_port = 9797\nthis line has no equals sign\n")
    err = _fails(["server", "--config-file", str(bad)], tmp_path)
    assert str(bad) in err and "line 3" in err and "this line has no equals sign" in err
    bad.write_text("bind_port = 9797\n")
    assert "Section must be started" in _fails(["server", "--config-file", str(bad)], tmp_path)
    err = _fails(["agent", "--config-file", str(tmp_path / "missing.ini")], tmp_path)
    assert "cannot read config file" in err and "missing.ini" in err
    bad.write_text("[DEFAULT]\nbind_port = nine\n")
    err = _fails(["server", "--config-file", str(bad)], tmp_path)
    assert "[DEFAULT] bind_port = nine" in err
    bad.write_text("[database]\nconnection = mysql+pymysql://neutron:hunter2@db/neutron\n")
    err = _fails(["server", "--config-file", str(bad)], tmp_path)
    assert "SQLite or PostgreSQL" in err and "hunter2" not in err
    bad.write_text("[ml2]\ntype_drivers = vlan,geneve\n")
    assert "'geneve' not supported" in _fails(["server", "--config-file", str(bad)], tmp_path)


def test_a_tenant_network_type_without_its_type_driver_stops_the_start(tmp_path):
    f = tmp_path / "ml2_conf.ini"
    f.write_text("[ml2]\ntype_drivers = flat,vlan\ntenant_network_types = vxlan\n")
    err = _fails(["server", "--bind", "127.0.0.1:%d" % free_port(), "--db",
                  "sqlite:///%s/x.db" % tmp_path, "--config-file", str(f)], tmp_path)
    assert "tenant network type vxlan has no type driver" in err


def test_an_agent_takes_its_host_from_its_file(tmp_path):
    port = free_port()
    url = "http://127.0.0.1:%d" % port
    srv = _start_server(tmp_path, [], port=port, extra=[
        "--bind", "127.0.0.1:%d" % port, "--db", "sqlite:///%s/tl.db" % tmp_path])
    ini = tmp_path / "openvswitch_agent.ini"
    ini.write_text("[DEFAULT]\nhost = from-the-file\n[agent]\ntunnel_types = vxlan\n"
                   "l2_population = True\nextensions = qos\n[securitygroup]\n"
                   "firewall_driver = noop\n")
    agent = Proc(["agent", "--driver", "noop", "--server", url, "--config-file", str(ini),
                  "--state-dir", str(tmp_path / "agent")], str(tmp_path / "agent.log"))
    try:
        agents = wait_for(lambda: requests.get(url + "/v2.0/agents?host=from-the-file",
                                               timeout=5).json()["agents"], what="the agent")
        assert agents[0]["agent_type"] == "Open vSwitch agent"
        assert re.search(r"ignored \(not implemented by trunkline\): \[agent\] extensions$",
                         agent.output(), re.M), agent.output()
    finally:
        agent.stop()
        srv.stop()


def test_the_docs_table_is_the_generated_one():
    commands = main._commands(main.parser())
    table = config.table({n: commands[n] for n in ("server", "up", "agent")})
    docs = open(os.path.join(os.path.dirname(__file__), "..", "..", "docs", "config.md")).read()
    block = docs.split("<!-- generated: trunkline config table -->\n")[1].split(
        "\n<!-- end generated -->")[0]
    assert block == table, "regenerate docs/config.md's table with `trunkline config table`"
