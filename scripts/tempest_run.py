"""Upstream Neutron's own API tests (tempest + neutron-tempest-plugin) against trunkline.

Starts a private Keystone (tests/helpers/keystone.py) and ``trunkline server --auth keystone`` on free
127.0.0.1 ports, registers trunkline as Keystone's ``network`` endpoint, writes a tempest
workspace whose ``api_extensions`` are exactly what trunkline's ``GET /v2.0/extensions`` lists,
runs the selection with ``tempest run`` and prints its summary. Everything it started is stopped
and removed afterwards, also on failure or Ctrl-C. Run it through scripts/tempest.sh, which
installs tempest into ``.venv-tempest`` first."""
import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile

import requests

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))

from helpers import keystone as ks  # noqa: E402  (tests/helpers/keystone.py: the test Keystone)
from helpers.server import TRUNKLINE, Server, wait_for  # noqa: E402

TEMPEST = os.path.join(ROOT, ".venv-tempest", "bin", "tempest")
# The agent API tests need registered agents (two, for some): control-plane-only agents.
AGENT_HOSTS = ("tl-tempest-host1", "tl-tempest-host2")

# The API tests that need neither compute nor routers, security groups, QoS, ...: features
# trunkline does not have are skipped by tempest itself, as their extensions are not listed.
SELECTION = (
    r"^(neutron_tempest_plugin\.api\.(test_trunk|test_networks|test_ports|test_subnets"
    r"|test_extensions|test_revisions|test_timestamp|test_extension_driver_port_security"
    r"|test_security_groups|test_security_groups_negative|test_ports_negative"
    r"|admin\.(test_agent_management|test_tag|test_networks|test_ports"
    r"|test_external_network_extension|test_shared_network_extension"
    r"|test_extension_driver_port_security_admin|test_quotas|test_quotas_negative"
    r"|test_security_groups|test_default_security_group_rules))"
    r"|tempest\.api\.network\.(test_networks|test_ports|test_extensions|test_tags"
    r"|test_allowed_address_pair|test_versions|test_agent_management_negative"
    r"|test_security_groups|test_security_groups_negative"
    r"|admin\.(test_ports|test_external_network_extension|test_quotas"
    r"|test_external_networks_negative)))")

# Tests in the selection that use a feature trunkline does not have without asking whether the
# cloud has it (tempest skips the others, as their extension is not listed): name -> why.
EXCLUDE = {
    r"tempest\.api\.network\.test_ports\.\w+\.test_port_list_filter_by_router_id":
        "creates a router (no 'router' extension check)",
    r"tempest\.api\.network\.test_tags\.TagsExtTest":
        "its setUpClass creates a router (no 'router' extension check)",
    r"neutron_tempest_plugin\.api\.test_timestamp\.TestTimeStampWithL3\.":
        "routers, floating IPs (only 'standard-attr-timestamp' is checked)",
    r"neutron_tempest_plugin\.api\.test_timestamp\.TestTimeStamp\.\w*subnetpool":
        "subnet pools (no 'subnet_allocation' extension check)",
    r"neutron_tempest_plugin\.api\.test_revisions\.TestRevisions\.\w*subnetpool":
        "subnet pools (no 'subnet_allocation' extension check)",
}

CONF = """[DEFAULT]
log_dir = {dir}
log_file = tempest.log

[auth]
use_dynamic_credentials = True
create_isolated_networks = False
admin_username = admin
admin_password = {password}
admin_project_name = admin
admin_domain_name = Default

[identity]
uri_v3 = {keystone}
auth_version = v3
region = RegionOne
v3_endpoint_type = public

[identity-feature-enabled]
api_v2 = False

[enforce_scope]
neutron = True

[service_available]
neutron = True
nova = False
glance = False
cinder = False
swift = False
horizon = False
heat = False
designate = False

[network]
endpoint_type = public
region = RegionOne
public_network_id =
floating_network_name =
project_network_cidr = 10.100.0.0/16
project_network_mask_bits = 28
project_network_v6_cidr = 2001:db8::/48
project_network_v6_mask_bits = 64
project_networks_reachable = False
shared_physical_network = False

[network-feature-enabled]
ipv6 = True
ipv6_subnet_attributes = True
api_extensions = {extensions}
port_security = {port_security}
floating_ips = False

[neutron_plugin_options]
provider_vlans = physnet1
available_type_drivers = {type_drivers}
default_image_is_advanced = False

[validation]
run_validation = False
"""


def extensions(url, token):
    r = requests.get(url + "/v2.0/extensions", headers={"X-Auth-Token": token}, timeout=30)
    r.raise_for_status()
    return sorted(e["alias"] for e in r.json()["extensions"])


def main():
    p = argparse.ArgumentParser(prog="scripts/tempest.sh", description=__doc__.split("\n\n")[0])
    p.add_argument("--regex", default=SELECTION,
                   help="which tests (tempest run --regex); default: the API selection")
    p.add_argument("--concurrency", type=int, default=2,
                   help="tempest workers (default %(default)s; a shared 2-core machine: 2)")
    p.add_argument("--db", default=None,
                   help="trunkline's database URL (default: SQLite in the work directory)")
    p.add_argument("--keep", metavar="DIR", default=None,
                   help="copy the tempest workspace (tempest.conf, tempest.log, .stestr) here")
    p.add_argument("--list", action="store_true", help="only list the selected tests")
    args = p.parse_args()
    if not os.path.exists(TEMPEST):
        sys.exit("tempest is not installed: run scripts/tempest.sh (it installs .venv-tempest)")
    if not ks.available():
        sys.exit("no .venv-keystone: run scripts/install.sh")

    # SIGTERM ends the run like Ctrl-C, so the finally below cleans up.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    work = tempfile.mkdtemp(prefix="tl-tempest-")
    keystone = server = tempest = None
    agents = []
    try:
        keystone = ks.Keystone(threads=1)
        db = args.db or "sqlite:///%s/trunkline.db" % work
        secret = os.path.join(work, "agent-secret")
        with open(secret, "w") as f:
            f.write(os.urandom(16).hex() + "\n")
        server = Server(db, extra=["--auth", "keystone", "--keystone-url", keystone.url,
                                   "--keystone-user", "trunkline", "--keystone-password",
                                   ks.PASSWORD, "--keystone-project", "service",
                                   "--agent-secret-file", secret,
                                   # tenant VLAN ids for the VLAN provider network tests
                                   "--network-vlan-ranges", "physnet1:100:199"])
        keystone.add_network_endpoint(server.url)
        admin = keystone.token("admin", "admin")
        for host in AGENT_HOSTS:
            agents.append(subprocess.Popen(
                [TRUNKLINE, "agent", "--driver", "noop", "--host", host, "--server", server.url,
                 "--agent-secret-file", secret, "--log-level", "warning"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True))
        wait_for(lambda: len(requests.get(server.url + "/v2.0/agents", timeout=30,
                                          headers={"X-Auth-Token": admin}).json()["agents"])
                 == len(AGENT_HOSTS), timeout=60, what="the agents to register")
        aliases = extensions(server.url, admin)
        print("keystone %s, trunkline %s, extensions: %s" % (keystone.url, server.url,
                                                             ",".join(aliases)), flush=True)
        ws = os.path.join(work, "ws")
        # tempest keeps a workspace registry and a global config dir under $HOME: a private
        # HOME keeps them in the work directory too.
        env = dict(os.environ, HOME=work)
        subprocess.run([TEMPEST, "init", ws], check=True, stdout=subprocess.DEVNULL, env=env)
        type_drivers = "vlan,vxlan,flat,gre" if "provider" in aliases else ""
        with open(os.path.join(ws, "etc", "tempest.conf"), "w") as f:
            f.write(CONF.format(dir=ws, password=ks.PASSWORD, keystone=keystone.url,
                                extensions=",".join(aliases), type_drivers=type_drivers,
                                port_security="port-security" in aliases))
        for pattern, why in EXCLUDE.items():
            print("excluded: %s (%s)" % (pattern, why))
        cmd = [TEMPEST, "run", "--regex", args.regex, "--exclude-regex", "|".join(EXCLUDE)]
        cmd += ["--list-tests"] if args.list else ["--concurrency", str(args.concurrency)]
        tempest = subprocess.Popen(cmd, cwd=ws, env=env, start_new_session=True)
        rc = tempest.wait()
        if args.keep:
            shutil.copytree(ws, args.keep, dirs_exist_ok=True)
            print("tempest workspace kept in %s; trunkline's log: %s/trunkline-server.log"
                  % (args.keep, args.keep))
            with open(os.path.join(args.keep, "trunkline-server.log"), "w") as f:
                f.write(server.output())
        return rc
    finally:
        if tempest is not None and tempest.poll() is None:  # interrupted: its workers too
            os.killpg(tempest.pid, signal.SIGTERM)
            tempest.wait()
        for agent in agents:
            if agent.poll() is None:
                os.killpg(agent.pid, signal.SIGTERM)
                agent.wait()
        if server is not None:
            server.stop()
        if keystone is not None:
            keystone.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
