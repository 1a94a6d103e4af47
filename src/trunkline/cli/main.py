"""The ``trunkline`` command: server, up, demo and db, each with complete --help.

``trunkline agent`` and ``trunkline lab`` (what a host runs, and restarts) parse only their own
command line and never import the server's modules (most of an agent's start-up otherwise)."""
import argparse
import logging
import os
import signal
import sys

from trunkline.cli import config
from trunkline.cli.options import add_log_level, log_argv

LIGHT_COMMANDS = ("agent", "lab", "down", "doctor")
TYPE_DRIVERS = ("flat", "vlan", "vxlan", "gre")
TENANT_TYPES = ("vxlan", "gre", "vlan")
MECHANISMS = ("openvswitch", "linuxbridge", "l2population")

DESCRIPTION = """trunkline: a small, fast, Neutron-compatible network service built around
VLAN-aware VMs (trunk ports). The real `openstack` CLI works against it:

  export OS_AUTH_TYPE=none OS_ENDPOINT=http://127.0.0.1:9696
  openstack network create net0
"""


def _add_server_options(p):
    from trunkline import server
    from trunkline.plugins import agents as agents_mod
    from trunkline.plugins.agents import DOWN_TIME as AGENT_DOWN_TIME
    p.add_argument("--bind", default="127.0.0.1:9696", metavar="HOST:PORT",
                   help="address to listen on (default: %(default)s; no-auth mode is meant for "
                        "127.0.0.1 only)")
    p.add_argument("--state-dir", default=server.DEFAULT_STATE_DIR, metavar="DIR",
                   help="where the default SQLite database lives (default: %(default)s)")
    p.add_argument("--db", metavar="URL",
                   help="database URL: sqlite:////path/file.db or "
                        "postgresql://user:pass@host:port/dbname (default: $%s, else "
                        "[database] connection of a --config-file, else sqlite under "
                        "--state-dir; a password is better in either than here, where `ps` "
                        "shows it)" % config.ENV_DB_URL)
    p.add_argument("--workers", type=int, default=1, metavar="N",
                   help="API worker processes (default: %(default)s)")
    p.add_argument("--agent-down-time", type=_seconds, default=AGENT_DOWN_TIME, metavar="S",
                   help="an agent whose last heartbeat is older than S seconds is dead "
                        "(alive: false); the ports bound to a host whose L2 agent "
                        "is dead are set DOWN, checked every S/2 seconds. Neutron's "
                        "agent_down_time; keep it at least twice the agents' "
                        "--report-interval (default: %(default)g)")
    p.add_argument("--agent-retention", type=_seconds_or_zero, default=agents_mod.RETENTION,
                   metavar="S",
                   help="delete the row of an agent dead for more than S seconds (a host "
                        "back later registers anew); 0 keeps them, as Neutron does "
                        "(default: %(default).0f, 14 days)")
    p.add_argument("--max-request-body-size", type=_positive, default=server.MAX_BODY,
                   metavar="BYTES",
                   help="larger API request bodies answer 413 (default: %(default)s, Neutron's; "
                        "raise it for add_subports calls with more than ~1200 subports)")
    p.add_argument("--pagination-max-limit", type=int, default=-1, metavar="N",
                   help="largest list page; a request without limit (or with a larger one) "
                        "gets N items and pagination links, as Neutron's pagination_max_limit "
                        "(default: %(default)s, no cap)")
    p.add_argument("--client-socket-timeout", type=_seconds, default=server.KEEP_ALIVE,
                   metavar="S",
                   help="close a client's idle keep-alive connection after S seconds, as "
                        "Neutron's client_socket_timeout (default: %(default)g)")
    p.add_argument("--network-vlan-ranges", type=_vlan_ranges, metavar="PHYSNET[:MIN:MAX],...",
                   help="the physical networks VLAN provider networks may use and the VLAN ids "
                        "a VLAN network given no segmentation_id gets there, as ML2's "
                        "network_vlan_ranges (default: physnet1, with no range)")
    m = p.add_argument_group("network types (ML2)")
    m.add_argument("--type-drivers", type=_names(TYPE_DRIVERS), metavar="TYPE,...",
                   default=list(TYPE_DRIVERS),
                   help="the network types networks may have, as ML2's type_drivers; any other "
                        "answers 400 'network_type value ... not supported' (default: %s)"
                        % ",".join(TYPE_DRIVERS))
    m.add_argument("--tenant-network-types", type=_names(TENANT_TYPES), metavar="TYPE,...",
                   default=["vxlan"],
                   help="the types a network without provider attributes gets, tried in order "
                        "until one has a free segment, as ML2's tenant_network_types "
                        "(default: vxlan)")
    m.add_argument("--mechanism-drivers", type=_names(MECHANISMS), metavar="DRIVER,...",
                   default=[],
                   help="ML2's mechanism_drivers: ports bind to the L2 agents of these "
                        "(openvswitch, linuxbridge), tried in order; l2population is always on "
                        "(default: openvswitch,linuxbridge)")
    m.add_argument("--flat-networks", type=config.split, metavar="PHYSNET,...",
                   help="the physical networks flat provider networks may use, * for any, "
                        "empty for none, as ML2's flat_networks (default: *)")
    m.add_argument("--vni-ranges", type=_id_ranges(2 ** 24 - 1), metavar="MIN:MAX,...",
                   help="VXLAN VNIs tenant networks get, as ML2's vni_ranges (default: 1:65535)")
    m.add_argument("--tunnel-id-ranges", type=_id_ranges(2 ** 32 - 1), metavar="MIN:MAX,...",
                   help="GRE keys tenant networks get, as ML2's tunnel_id_ranges "
                        "(default: 1:65535)")
    a = p.add_argument_group("authentication and policy")
    a.add_argument("--auth", choices=["noauth", "keystone"], default="noauth",
                   help="noauth: every caller is an admin, 127.0.0.1 only; keystone: validate "
                        "X-Auth-Token with Keystone (default: %(default)s)")
    a.add_argument("--keystone-url", metavar="URL",
                   help="Keystone's identity URL, e.g. http://keystone:5000/v3 "
                        "(keystonemiddleware's auth_url)")
    a.add_argument("--keystone-user", metavar="NAME",
                   help="trunkline's service user, which validates tokens (needs the service "
                        "or admin role)")
    a.add_argument("--keystone-password", metavar="PASSWORD",
                   help="its password (better: $%s, which `ps` does not show)"
                        % server.ENV_KEYSTONE_PASSWORD)
    a.add_argument("--keystone-project", metavar="NAME",
                   help="the service user's project (usually 'service')")
    a.add_argument("--keystone-user-domain", default="Default", metavar="NAME",
                   help="the service user's domain name (default: %(default)s)")
    a.add_argument("--keystone-project-domain", default="Default", metavar="NAME",
                   help="the service project's domain name (default: %(default)s)")
    a.add_argument("--keystone-auth-type", choices=["password", "v3applicationcredential"],
                   default="password",
                   help="how the service user authenticates (keystoneauth1's plugin, "
                        "keystonemiddleware's auth_type; default: %(default)s)")
    a.add_argument("--keystone-application-credential-id", metavar="ID",
                   help="the service user's application credential (with "
                        "--keystone-auth-type v3applicationcredential)")
    a.add_argument("--keystone-application-credential-secret", metavar="SECRET",
                   help="its secret (better: $%s)" % server.ENV_KEYSTONE_APP_CRED_SECRET)
    a.add_argument("--keystone-cafile", metavar="PATH",
                   help="CA bundle to verify Keystone's HTTPS certificate (keystonemiddleware's "
                        "cafile; default: the system's)")
    a.add_argument("--keystone-certfile", metavar="PATH",
                   help="client certificate for Keystone (PEM; keystonemiddleware's certfile)")
    a.add_argument("--keystone-keyfile", metavar="PATH",
                   help="its private key, when not in --keystone-certfile (keyfile)")
    a.add_argument("--keystone-insecure", action="store_true",
                   help="do not verify Keystone's certificate (insecure; tests only)")
    a.add_argument("--keystone-service-type", default="network", metavar="TYPE",
                   help="trunkline's type in Keystone's catalog, which application credential "
                        "access rules name (service_type; default: %(default)s)")
    a.add_argument("--keystone-service-token-roles", default="service", metavar="ROLE,...",
                   help="an X-Service-Token must hold one of these roles (service_token_roles; "
                        "default: %(default)s)")
    a.add_argument("--keystone-service-token-roles-required",
                   action=argparse.BooleanOptionalAction, default=True,
                   help="refuse a service token without those roles; with --no-..., it is only "
                        "denied allow_expired (service_token_roles_required; default: on)")
    a.add_argument("--token-cache-ttl", type=float, default=300.0, metavar="S",
                   help="keep a validated token at most S seconds (and never past its "
                        "expiry; default: %(default)s)")
    a.add_argument("--policy-file", metavar="PATH",
                   help="oslo.policy file (YAML or JSON) overriding Neutron's default rules")
    a.add_argument("--enforce-scope", type=config.boolean, default=True, metavar="true|false",
                   help="oslo.policy's enforce_scope: a token of the wrong scope for a rule is "
                        "refused (default: true, as Neutron)")
    a.add_argument("--enforce-new-defaults", type=config.boolean, default=True,
                   metavar="true|false",
                   help="oslo.policy's enforce_new_defaults: false also accepts what a rule's "
                        "deprecated check string allows (default: true, as Neutron)")
    a.add_argument("--policy-dir", action="append", default=None, metavar="DIR",
                   dest="policy_dirs",
                   help="a directory of policy files read after --policy-file in name order, "
                        "as oslo.policy's policy_dirs; repeatable (default: policy.d beside "
                        "the policy file, when it exists)")
    a.add_argument("--agent-secret-file", metavar="PATH",
                   help="file whose first line is the secret agents must send on /agent/v1 "
                        "(required from agents when set; with keystone, a token with the "
                        "service or admin role also works)")
    o = p.add_argument_group("health and metrics (public paths, no token)")
    o.add_argument("--metrics-allow", type=_networks, default=None, metavar="CIDR,...",
                   help="client networks that may read /metrics (Prometheus' text format; "
                        "agents' host names are in it); others get 403 "
                        "(default: 127.0.0.0/8,::1/128)")
    o.add_argument("--healthcheck-disable-file", metavar="PATH",
                   help="while this file exists /healthcheck answers 503 \"DISABLED BY FILE\" "
                        "(oslo.middleware's disable_by_file: drain a server from its load "
                        "balancer)")
    q = p.add_argument_group("quotas (defaults per project; -1 is unlimited; "
                             "PUT /v2.0/quotas/PROJECT sets a project's own)")
    for name, default in _quota_defaults().items():
        q.add_argument("--quota-" + name.replace("_", "-"), type=_quota, default=default,
                       metavar="N", dest="quota_" + name,
                       help="%ss a project may have, Neutron's [quotas] quota_%s "
                            "(default: %%(default)s)" % (name.replace("_", " "), name))
    _add_nova_options(p)
    config.add_argument(p)
    add_log_level(p, default="info")



def _quota_defaults():
    from trunkline.plugins.quotas import DEFAULTS
    return DEFAULTS


def _quota(text):
    try:
        value = int(text)
    except ValueError:
        value = -2
    if not -1 <= value <= 2 ** 31 - 1:
        raise argparse.ArgumentTypeError("%r is not a limit (-1: unlimited, or 0 to 2147483647)"
                                         % text)
    return value


def _add_nova_options(p):
    from trunkline.services.nova import notifier
    n = p.add_argument_group("events to Nova (Neutron's [nova] section; off without "
                             "--nova-auth-url)")
    n.add_argument("--nova-auth-url", metavar="URL",
                   help="Keystone's URL for the Nova service user, e.g. http://keystone:5000/v3; "
                        "given: port events (network-vif-plugged, ...) are posted to the "
                        "compute endpoint of Keystone's catalog")
    n.add_argument("--nova-username", metavar="NAME",
                   help="the user trunkline authenticates as to Nova (service or admin role)")
    n.add_argument("--nova-password", metavar="PASSWORD",
                   help="its password (better: $%s, which `ps` does not show)"
                        % notifier.ENV_PASSWORD)
    n.add_argument("--nova-project", metavar="NAME", help="its project (usually 'service')")
    n.add_argument("--nova-user-domain", default="Default", metavar="NAME",
                   help="its domain name (default: %(default)s)")
    n.add_argument("--nova-project-domain", default="Default", metavar="NAME",
                   help="its project's domain name (default: %(default)s)")
    n.add_argument("--nova-region", metavar="NAME",
                   help="the region of the compute endpoint (default: any)")
    n.add_argument("--nova-endpoint-type", choices=["public", "internal", "admin"],
                   default="public",
                   help="which compute endpoint of the catalog (default: %(default)s)")
    n.add_argument("--send-events-interval", type=_seconds, default=2.0, metavar="S",
                   help="events are batched and sent every S seconds (Neutron's "
                        "send_events_interval; default: %(default)g)")


def _seconds(text):
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError("%r is not a positive number of seconds" % text)
    return value


def _seconds_or_zero(text):
    if text.strip() in ("0", "0.0"):
        return 0.0
    return _seconds(text)


def _positive(text):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise argparse.ArgumentTypeError("must be a positive number of bytes, not %r" % text)
    return value


def _names(known):
    """argparse type of a comma-separated list of some of ``known``."""
    def parse(text):
        names = config.split(text)
        bad = [n for n in names if n not in known]
        if bad:
            raise argparse.ArgumentTypeError("%s not supported (trunkline has %s)" % (
                ", ".join(repr(b) for b in bad), ", ".join(known)))
        return names
    return parse


def _id_ranges(top):
    """argparse type of ML2's vni_ranges / tunnel_id_ranges: ``1:1000,2000:2999``."""
    def parse(text):
        ranges = []
        for entry in config.split(text):
            try:
                low, high = (int(x) for x in entry.split(":"))
                if not 1 <= low <= high <= top:
                    raise ValueError
            except ValueError:
                raise argparse.ArgumentTypeError(
                    "%r is not MIN:MAX with 1 <= MIN <= MAX <= %d" % (entry, top))
            ranges.append([low, high])
        if not ranges:
            raise argparse.ArgumentTypeError("give at least one MIN:MAX range")
        return ranges
    return parse


def _networks(text):
    from trunkline.api.metrics import allowed_networks
    cidrs = [c for c in text.split(",") if c.strip()]
    try:
        allowed_networks(cidrs)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e))
    return cidrs


def _vlan_ranges(text):
    """ML2's network_vlan_ranges: ``physnet1:100:199,physnet1:300:399,physnet2`` ->
    ``{"physnet1": [[100, 199], [300, 399]], "physnet2": []}``."""
    ranges = {}
    for entry in filter(None, (e.strip() for e in text.split(","))):
        parts = entry.split(":")
        try:
            if len(parts) == 1:
                ranges.setdefault(parts[0], [])
                continue
            name, low, high = parts[0], int(parts[1]), int(parts[2])
            if len(parts) != 3 or not name or not 1 <= low <= high <= 4094:
                raise ValueError
        except (ValueError, IndexError):
            raise argparse.ArgumentTypeError(
                "%r is not PHYSNET or PHYSNET:MIN:MAX with 1 <= MIN <= MAX <= 4094" % entry)
        ranges.setdefault(name, []).append([low, high])
    if not ranges:
        raise argparse.ArgumentTypeError("name at least one physical network")
    return ranges


def _settings(args):
    """The server's settings from its options (server.DEFAULTS)."""
    settings = {"agent_down_time": args.agent_down_time, "agent_retention": args.agent_retention,
                "max_body": args.max_request_body_size,
                "max_limit": args.pagination_max_limit, "auth": _auth_options(args)}
    if args.network_vlan_ranges is not None:
        settings["network_vlan_ranges"] = args.network_vlan_ranges
    settings.update(type_drivers=args.type_drivers,
                    tenant_network_types=args.tenant_network_types,
                    mechanism_drivers=args.mechanism_drivers)
    if args.flat_networks is not None:
        settings["flat_networks"] = args.flat_networks
    if args.vni_ranges:
        settings["vni_ranges"] = args.vni_ranges
    if args.tunnel_id_ranges:
        settings["gre_ranges"] = args.tunnel_id_ranges
    if args.metrics_allow is not None:
        settings["metrics_allow"] = args.metrics_allow
    if args.healthcheck_disable_file:
        settings["healthcheck_disable_file"] = os.path.abspath(args.healthcheck_disable_file)
    settings["quotas"] = {name: getattr(args, "quota_" + name) for name in _quota_defaults()}
    if args.nova_auth_url:
        settings["nova"] = {
            "auth_url": args.nova_auth_url, "username": args.nova_username,
            "password": args.nova_password, "project": args.nova_project,
            "user_domain": args.nova_user_domain, "project_domain": args.nova_project_domain,
            "region": args.nova_region, "endpoint_type": args.nova_endpoint_type,
            "send_events_interval": args.send_events_interval}
    return settings


def _server_argv(args):
    """The same settings as ``trunkline server`` options (for the stack `up` starts)."""
    return ["--agent-down-time", repr(args.agent_down_time),
            "--agent-retention", repr(args.agent_retention),
            "--max-request-body-size", str(args.max_request_body_size),
            "--pagination-max-limit", str(args.pagination_max_limit),
            "--client-socket-timeout", repr(args.client_socket_timeout)] + (
        ["--network-vlan-ranges", ",".join(
            ",".join(["%s:%d:%d" % (name, low, high) for low, high in ranges] or [name])
            for name, ranges in args.network_vlan_ranges.items())]
        if args.network_vlan_ranges else []) + [
        "--type-drivers", ",".join(args.type_drivers),
        "--tenant-network-types", ",".join(args.tenant_network_types),
        "--enforce-scope", str(args.enforce_scope).lower(),
        "--enforce-new-defaults", str(args.enforce_new_defaults).lower()] + (
        ["--mechanism-drivers", ",".join(args.mechanism_drivers)]
        if args.mechanism_drivers else []) + (
        ["--vni-ranges", _ranges_text(args.vni_ranges)] if args.vni_ranges else []) + (
        ["--flat-networks=" + ",".join(args.flat_networks)]
        if args.flat_networks is not None else []) + (
        ["--tunnel-id-ranges", _ranges_text(args.tunnel_id_ranges)]
        if args.tunnel_id_ranges else []) + [
        "--policy-dir=" + d for d in args.policy_dirs or ()] + log_argv(args) + (
        ["--metrics-allow", ",".join(args.metrics_allow)] if args.metrics_allow else []) + (
        ["--healthcheck-disable-file", os.path.abspath(args.healthcheck_disable_file)]
        if args.healthcheck_disable_file else []) + [
        arg for name in _quota_defaults()
        for arg in ("--quota-" + name.replace("_", "-"), str(getattr(args, "quota_" + name)))] + (
        _nova_argv(args))


def _nova_argv(args):
    """The Nova notifier's options for the stack's server; the password goes through the
    environment the server inherits, not its command line."""
    if not args.nova_auth_url:
        return []
    if args.nova_password:
        from trunkline.services.nova import notifier
        os.environ[notifier.ENV_PASSWORD] = args.nova_password
    argv = ["--send-events-interval", repr(args.send_events_interval)]
    for opt in ("auth_url", "username", "project", "user_domain", "project_domain", "region",
                "endpoint_type"):
        if getattr(args, "nova_" + opt):
            argv += ["--nova-" + opt.replace("_", "-"), getattr(args, "nova_" + opt)]
    return argv


def _ranges_text(ranges):
    return ",".join("%d:%d" % (low, high) for low, high in ranges)


def _db_url(args):
    from trunkline import server
    return args.db or os.environ.get(config.ENV_DB_URL) or server.default_db_url(args.state_dir)


def _auth_options(args):
    return {"auth": args.auth, "keystone_url": args.keystone_url,
            "keystone_user": args.keystone_user, "keystone_password": args.keystone_password,
            "keystone_project": args.keystone_project,
            "keystone_user_domain": args.keystone_user_domain,
            "keystone_project_domain": args.keystone_project_domain,
            "token_cache_ttl": args.token_cache_ttl, "policy_file": args.policy_file,
            "enforce_scope": args.enforce_scope,
            "enforce_new_defaults": args.enforce_new_defaults,
            "policy_dirs": args.policy_dirs,
            "agent_secret_file": args.agent_secret_file,
            "keystone_auth_type": args.keystone_auth_type,
            "keystone_application_credential_id": args.keystone_application_credential_id,
            "keystone_application_credential_secret":
                args.keystone_application_credential_secret,
            "keystone_cafile": args.keystone_cafile, "keystone_certfile": args.keystone_certfile,
            "keystone_keyfile": args.keystone_keyfile,
            "keystone_insecure": args.keystone_insecure,
            "keystone_service_type": args.keystone_service_type,
            "keystone_service_token_roles": [
                r.strip() for r in args.keystone_service_token_roles.split(",") if r.strip()],
            "keystone_service_token_roles_required": args.keystone_service_token_roles_required}


def cmd_server(args):
    from trunkline import server
    try:
        server.run(args.bind, _db_url(args), workers=args.workers,
                   log_level="debug" if args.debug else args.log_level,
                   settings=_settings(args), keep_alive=args.client_socket_timeout)
    except server.ConfigError as e:
        print("trunkline server: %s" % e, file=sys.stderr)
        return 2


def _interrupt(*_):
    raise KeyboardInterrupt


def cmd_up(args):
    from trunkline.stack import Stack, StackError
    print("trunkline up: Ctrl-C or SIGTERM stops everything", flush=True)
    if args.auth != "noauth":
        print("trunkline up: the all-in-one stack runs in no-auth mode on 127.0.0.1; with "
              "Keystone, run `trunkline server --auth keystone ...` and `trunkline agent "
              "--agent-secret-file ...` separately", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, _interrupt)      # stopped while starting: clean up too
    stack = Stack(args.state_dir, bind=args.bind, db_url=_db_url(args), workers=args.workers,
                  server_args=_server_argv(args),
                  agent_args=[a for f in args.config_files for a in ("--config-file", f)],
                  log=lambda line: print(line, flush=True),
                  agent_secret_file=args.agent_secret_file, policy_file=args.policy_file)
    try:
        stack.start()
    except StackError as e:
        print("trunkline up: %s" % e, file=sys.stderr)
        return 1
    print("export OS_AUTH_TYPE=none OS_ENDPOINT=%s" % stack.url, flush=True)
    try:
        return stack.wait()
    finally:
        stack.stop()


def cmd_demo(args):
    try:
        import openstackclient  # noqa: F401
    except ImportError:
        print("trunkline demo: runs the real `openstack` CLI, which is not installed: "
              "pip install 'trunkline[demo]' (make demo does)", file=sys.stderr)
        return 2
    from trunkline.cli import demo
    return demo.run(keep=args.keep, use_qemu=args.qemu)


def cmd_db(args):
    from trunkline import server
    from trunkline.db import migrate
    from trunkline.db.engine import Database
    url = _db_url(args)
    try:
        if args.action == "upgrade":
            server.prepare_database(url)
        db = Database(url)
    except server.MissingDriver as e:
        print("trunkline db: %s" % e, file=sys.stderr)
        return 2
    try:
        print("database %s at revision %s (head %s)" % (url, migrate.current(db.engine),
                                                        migrate.head()))
    finally:
        db.dispose()


def parser(only=None):
    """The command line; ``only``: one of LIGHT_COMMANDS, then that command alone."""
    p = argparse.ArgumentParser(prog="trunkline", description=DESCRIPTION,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action=_Version)
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    if only == "--version":
        return p
    if only in LIGHT_COMMANDS:
        __import__("trunkline.cli." + only, fromlist=["register"]).register(sub)
        return p
    from trunkline import server

    s = sub.add_parser("server", help="run the Neutron-compatible API server",
                       description="Run the Neutron v2.0 API (networks, subnets, ports, trunks). "
                                   "The database is migrated to the newest schema at start.")
    _add_server_options(s)
    s.set_defaults(func=cmd_server)

    s = sub.add_parser("up", help="run the all-in-one stack in the foreground",
                       description="All-in-one, in the foreground: the API server (SQLite under "
                                   "--state-dir), Open vSwitch (the machine's own when it runs, "
                                   "else a private ovsdb-server + ovs-vswitchd under "
                                   "--state-dir/ovs) and one agent with DHCP for this host. "
                                   "Ctrl-C or SIGTERM stops everything it started (dnsmasq and "
                                   "its qdhcp- namespaces too). One per network namespace and "
                                   "state directory; what a killed run left is reclaimed at "
                                   "start. Ready once the agent's first pass succeeded.")
    _add_server_options(s)
    s.set_defaults(func=cmd_up)

    s = sub.add_parser("demo", help="run the seed walkthrough end to end",
                       description="The seed's walkthrough with real packets on an isolated "
                                   "stack: a private server (free 127.0.0.1 port, temporary "
                                   "SQLite), a private Open vSwitch in a namespace of its own, "
                                   "an agent with DHCP and a lab VM. Runs the seed's openstack "
                                   "commands verbatim, gives the VM eth0.1/eth0.2, leases their "
                                   "addresses and pings the DHCP port over VLAN 1 while tcpdump "
                                   "watches the VM's tap. Removes everything at the end.")
    s.add_argument("--keep", action="store_true",
                   help="leave the temporary state directory in place for inspection")
    s.add_argument("--qemu", action="store_true",
                   help="boot trunk-vm1 as a real guest kernel under QEMU (lab vm create --qemu); "
                        "its VLAN devices are made with the seed's own ip commands")
    s.set_defaults(func=cmd_demo)

    s = sub.add_parser("db", help="database schema: upgrade or show the current revision",
                       description="Upgrade the database schema (Alembic) or show its revision.")
    s.add_argument("action", choices=["upgrade", "current"])
    s.add_argument("--state-dir", default=server.DEFAULT_STATE_DIR, metavar="DIR",
                   help="where the default SQLite database lives (default: %(default)s)")
    s.add_argument("--db", metavar="URL", help="database URL (default: sqlite under --state-dir)")
    s.set_defaults(func=cmd_db)
    s = sub.add_parser("config", help="the Neutron configuration options trunkline reads",
                       description="sample: a sample configuration file of every Neutron option "
                                   "trunkline reads (--config-file), commented out, as "
                                   "oslo-config-generator writes one; table: the same as the "
                                   "Markdown table of docs/config.md.")
    s.add_argument("action", choices=["sample", "table"])
    s.set_defaults(func=cmd_config)
    __import__("trunkline.cli.lab", fromlist=["register"]).register(sub)  # trunkline lab ...
    __import__("trunkline.cli.agent", fromlist=["register"]).register(sub)  # trunkline agent
    for light in ("down", "doctor"):
        __import__("trunkline.cli." + light, fromlist=["register"]).register(sub)
    return p


class _Version(argparse.Action):
    """``trunkline --version``: the installed distribution's version."""

    def __init__(self, option_strings, dest, **kwargs):
        super().__init__(option_strings, dest=argparse.SUPPRESS, nargs=0,
                         help="print trunkline's version and exit")

    def __call__(self, parser, namespace, values, option_string=None):
        from importlib import metadata
        print("trunkline %s" % metadata.version("trunkline"))
        parser.exit()


def _commands(p):
    """{name: subparser} of the top-level parser ``p``."""
    return next(a for a in p._actions if isinstance(a, argparse._SubParsersAction)).choices


def cmd_config(args):
    commands = _commands(parser())
    parsers = {name: commands[name] for name in ("server", "up", "agent")}
    print(config.sample(parsers) if args.action == "sample" else config.table(parsers))


def main(argv=None):
    from trunkline import logs
    argv = sys.argv[1:] if argv is None else list(argv)
    p = parser(argv[0] if argv else None)
    args = p.parse_args(argv)
    notes = []
    if getattr(args, "config_files", None):
        try:
            notes = config.apply(args, _commands(p)[args.command], argv[1:], args.command)
        except config.ConfigFileError as e:
            print("trunkline %s: error: %s" % (args.command, e), file=sys.stderr)
            return 2
    logs.setup(logs.options(args))
    for line in notes:
        logging.getLogger("trunkline.config").warning(line)
    try:
        return args.func(args) or 0
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
