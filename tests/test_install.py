"""Reproducible installs: every dependency and extra of pyproject.toml is pinned by
constraints.txt and installed at that pin (the keystone virtualenv likewise by
constraints-keystone.txt), scripts/install.sh installs with both; the extras split what
SQLite-only users and the demo need; ``trunkline --version``; and a clear exit 2 when
PostgreSQL is asked for without psycopg or the demo without the openstack CLI."""
import os
import re
import subprocess
import sys
import tomllib
from importlib import metadata

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PYPROJECT = tomllib.load(open(os.path.join(ROOT, "pyproject.toml"), "rb"))["project"]
TRUNKLINE = os.path.join(os.path.dirname(sys.executable), "trunkline")


def _pins(name):
    pins = {}
    with open(os.path.join(ROOT, name)) as f:
        for line in f:
            if line.strip() and not line.startswith("#"):
                pkg, _, version = line.strip().partition("==")
                pins[_norm(pkg)] = version
    return pins


def _norm(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirement_name(req):
    return _norm(re.match(r"[A-Za-z0-9_.-]+", req).group(0))


def test_every_dependency_is_pinned_and_installed_at_its_pin():
    pins = _pins("constraints.txt")
    reqs = PYPROJECT["dependencies"] + [r for extra in PYPROJECT["optional-dependencies"].values()
                                        for r in extra]
    for name in {_requirement_name(r) for r in reqs}:
        assert name in pins, "%s is not in constraints.txt" % name
        assert metadata.version(name) == pins[name], name
    # and the rest of what is installed (transitive dependencies) too
    for dist in metadata.distributions():
        name = _norm(dist.metadata["Name"])
        if name not in ("trunkline", "pip", "setuptools", "wheel"):
            assert pins.get(name) == dist.version, "%s %s not pinned" % (name, dist.version)


def test_install_sh_uses_both_constraints_files():
    script = open(os.path.join(ROOT, "scripts", "install.sh")).read()
    assert "-c constraints.txt -e '.[test]'" in script
    assert "-c constraints-keystone.txt keystone uwsgi" in script
    keystone_pins = _pins("constraints-keystone.txt")
    assert "keystone" in keystone_pins and "uwsgi" in keystone_pins


def test_extras_split_postgresql_and_the_demo_from_the_base():
    base = {_requirement_name(r) for r in PYPROJECT["dependencies"]}
    extras = {k: {_requirement_name(r) for r in v}
              for k, v in PYPROJECT["optional-dependencies"].items()}
    assert "psycopg" not in base and "psycopg" in extras["postgresql"]
    assert "python-openstackclient" in extras["demo"]
    assert extras["postgresql"] | extras["demo"] <= extras["test"]


def test_version():
    r = subprocess.run([TRUNKLINE, "--version"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.strip() == "trunkline " + PYPROJECT["version"]


def _without(module, argv):
    code = ("import sys; sys.modules[%r] = None; from trunkline.cli.main import main; "
            "sys.exit(main(%r))" % (module, argv))
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)


@pytest.mark.parametrize("argv", [
    ["db", "current", "--db", "postgresql://tl@127.0.0.1:1/tl"],
    ["server", "--bind", "127.0.0.1:1", "--db", "postgresql://tl@127.0.0.1:1/tl"]],
    ids=["db", "server"])
def test_postgresql_without_psycopg_is_a_clear_error(argv):
    r = _without("psycopg", argv)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "PostgreSQL needs the psycopg driver" in r.stderr
    assert "trunkline[postgresql]" in r.stderr


def test_demo_without_the_openstack_cli_is_a_clear_error():
    r = _without("openstackclient", ["demo"])
    assert r.returncode == 2 and "trunkline[demo]" in r.stderr, (r.stdout, r.stderr)
