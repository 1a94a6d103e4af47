"""Policy files as oslo.policy and Neutron read them: a missing or unloadable policy file or
policy directory stops the server (exit 2, a message naming the path) instead of silently
applying the defaults; a relative path is taken from the current directory (from the config
file's directory in ``[oslo_policy]``); ``policy.d`` beside the policy file and ``--policy-dir``
override in name order; ``--enforce-scope``/``--enforce-new-defaults`` reach oslo.policy; and
oslo.policy's own tools find trunkline through its entry points."""
import json
import os
import subprocess

import pytest

from helpers.server import TRUNKLINE, VENV_BIN, wait_http
from trunkline.api.policy import Policy
from trunkline.stack import free_port, stop_group

MEMBER = {"user_id": "u1", "project_id": "p1", "tenant_id": "p1", "roles": ["member", "reader"],
          "system_scope": None, "is_admin": False, "project_name": "a"}
# a resource of p1 on a network of p1 (create_port asks whose network it is)
TARGET = {"project_id": "p1", "tenant_id": "p1", "network:project_id": "p1",
          "network:tenant_id": "p1"}


def _server(tmp_path, *extra, cwd=None):
    port = free_port()
    argv = [TRUNKLINE, "server", "--bind", "127.0.0.1:%d" % port,
            "--db", "sqlite:///%s/tl.db" % tmp_path, *extra]
    return port, argv, cwd or tmp_path


def _refused(tmp_path, *extra):
    _, argv, cwd = _server(tmp_path, *extra)
    r = subprocess.run(argv, capture_output=True, text=True, timeout=60, cwd=cwd)
    assert r.returncode == 2, (r.stdout, r.stderr)
    return r.stderr


def test_a_missing_policy_file_or_directory_stops_the_server(tmp_path):
    err = _refused(tmp_path, "--policy-file", "policy.yaml")
    assert "policy file %s/policy.yaml does not exist" % tmp_path in err
    (tmp_path / "policy.yaml").write_text('"create_network": "role:admin"\n')
    err = _refused(tmp_path, "--policy-file", "policy.yaml", "--policy-dir", "nowhere.d")
    assert "policy directory %s/nowhere.d does not exist" % tmp_path in err
    (tmp_path / "bad.yaml").write_text('"create_network": [unclosed\n')
    err = _refused(tmp_path, "--policy-file", "bad.yaml")
    assert "cannot load the policy file %s/bad.yaml" % tmp_path in err
    conf = tmp_path / "etc" / "neutron.conf"
    conf.parent.mkdir()
    conf.write_text("[oslo_policy]\npolicy_file = policy.yaml\n")   # beside it: missing
    err = _refused(tmp_path, "--config-file", str(conf))
    assert "policy file %s/etc/policy.yaml does not exist" % tmp_path in err


def test_a_relative_policy_file_from_the_current_directory_is_used(tmp_path):
    (tmp_path / "policy.yaml").write_text('"create_network": "role:admin"\n')
    port, argv, cwd = _server(tmp_path, "--policy-file", "policy.yaml", "--log-file",
                              str(tmp_path / "server.log"))
    proc = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        wait_http("http://127.0.0.1:%d/" % port, proc)
        log = (tmp_path / "server.log").read_text()
        assert "policy: %s/policy.yaml" % tmp_path in log
    finally:
        stop_group(proc)


def test_policy_d_beside_the_file_and_policy_dirs_override_in_name_order(tmp_path):
    (tmp_path / "policy.yaml").write_text('"create_network": "role:admin"\n')
    assert not Policy(str(tmp_path / "policy.yaml")).check("create_network", TARGET, MEMBER)
    d = tmp_path / "policy.d"
    d.mkdir()
    (d / "10-open.yaml").write_text('"create_network": "role:member"\n'
                                    '"create_subnet": "role:nobody"\n')
    (d / "20-close.yaml").write_text('"create_subnet": "role:member"\n')
    pol = Policy(str(tmp_path / "policy.yaml"))
    assert pol.check("create_network", TARGET, MEMBER)
    assert pol.check("create_subnet", TARGET, MEMBER)      # 20- is read after 10-
    other = tmp_path / "other.d"
    other.mkdir()
    (other / "x.yaml").write_text('"create_port": "role:nobody"\n')
    pol = Policy(str(tmp_path / "policy.yaml"), policy_dirs=[str(other)])
    assert not pol.check("create_network", TARGET, MEMBER)  # named dirs replace policy.d
    assert not pol.check("create_port", TARGET, MEMBER)
    assert Policy().check("create_port", TARGET, MEMBER)


def test_enforce_scope_and_enforce_new_defaults_reach_oslo_policy():
    domain_member = dict(MEMBER, domain_id="d1")   # a domain-scoped token's credentials
    assert Policy().check("create_network", TARGET, MEMBER)
    assert not Policy().check("create_network", TARGET, domain_member)  # project-scoped rule
    relaxed = Policy(enforce_scope=False, enforce_new_defaults=False)
    assert relaxed.check("create_network", TARGET, domain_member)
    assert relaxed.enforcer.conf.oslo_policy.enforce_new_defaults is False


def _tool(name, *args, cwd):
    r = subprocess.run([os.path.join(VENV_BIN, name), *args], capture_output=True, text=True,
                       timeout=120, cwd=cwd)
    assert r.returncode == 0, (name, r.stdout, r.stderr)
    return r.stdout


@pytest.fixture
def token_file(tmp_path):
    path = tmp_path / "token.json"
    path.write_text(json.dumps({"token": {"roles": [{"name": "member"}], "user": {"id": "u1"},
                                          "project": {"id": "p1"}}}))
    return str(path)


def test_oslo_policy_tools_find_trunkline(tmp_path, token_file):
    sample = _tool("oslopolicy-sample-generator", "--namespace", "trunkline", cwd=tmp_path)
    assert '#"create_trunk": ' in sample and '#"create_network": ' in sample
    etc = tmp_path / "etc"
    etc.mkdir()
    (etc / "policy.yaml").write_text('"create_network": "role:nobody"\n')
    (etc / "neutron.conf").write_text("[oslo_policy]\npolicy_file = policy.yaml\n")
    _tool("oslopolicy-policy-generator", "--namespace", "trunkline", "--output-file",
          str(tmp_path / "defaults.yaml"), cwd=tmp_path)
    _tool("oslopolicy-policy-generator", "--namespace", "trunkline", "--config-file",
          str(etc / "neutron.conf"), "--output-file", str(tmp_path / "effective.yaml"),
          cwd=tmp_path)
    assert '"create_network": "role:nobody"' in (tmp_path / "effective.yaml").read_text()
    check = ["--access", token_file, "--rule", "create_network"]
    assert _tool("oslopolicy-checker", "--policy", str(tmp_path / "defaults.yaml"), *check,
                 cwd=tmp_path).strip() == "passed: create_network"
    assert _tool("oslopolicy-checker", "--policy", str(tmp_path / "effective.yaml"), *check,
                 cwd=tmp_path).strip() == "failed: create_network"
