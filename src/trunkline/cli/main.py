"""The ``trunkline`` command: server, up, demo and db, each with complete --help.

``trunkline agent`` and ``trunkline lab`` (what a host runs, and restarts) parse only their own
command line and never import the server's modules (most of an agent's start-up otherwise)."""
import argparse
import logging
import os
import signal
import sys

from trunkline.cli.options import add_log_level

LIGHT_COMMANDS = ("agent", "lab", "down", "doctor")

DESCRIPTION = """trunkline: a small, fast, Neutron-compatible network service built around
VLAN-aware VMs (trunk ports). The real `openstack` CLI works against it:

  export OS_AUTH_TYPE=none OS_ENDPOINT=http://127.0.0.1:9696
  openstack network create net0
"""


def _add_server_options(p):
    from trunkline import server
    from trunkline.plugins.agents import DOWN_TIME as AGENT_DOWN_TIME
    p.add_argument("--bind", default="127.0.0.1:9696", metavar="HOST:PORT",
                   help="address to listen on (default: %(default)s; no-auth mode is meant for "
                        "127.0.0.1 only)")
    p.add_argument("--state-dir", default=server.DEFAULT_STATE_DIR, metavar="DIR",
                   help="where the default SQLite database lives (default: %(default)s)")
    p.add_argument("--db", metavar="URL",
                   help="database URL: sqlite:////path/file.db or "
                        "postgresql://user:pass@host:port/dbname "
                        "(default: sqlite under --state-dir)")
    p.add_argument("--workers", type=int, default=1, metavar="N",
                   help="API worker processes (default: %(default)s)")
    p.add_argument("--agent-down-time", type=_seconds, default=AGENT_DOWN_TIME, metavar="S",
                   help="an agent whose last heartbeat is older than S seconds is dead "
                        "(alive: false); the ports bound to a host whose L2 agent "
                        "is dead are set DOWN, checked every S/2 seconds. Neutron's "
                        "agent_down_time; keep it at least twice the agents' "
                        "--report-interval (default: %(default)g)")
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
    add_log_level(p)



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


def _seconds(text):
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError("%r is not a positive number of seconds" % text)
    return value


def _positive(text):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise argparse.ArgumentTypeError("must be a positive number of bytes, not %r" % text)
    return value


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
    settings = {"agent_down_time": args.agent_down_time, "max_body": args.max_request_body_size,
                "max_limit": args.pagination_max_limit, "auth": _auth_options(args)}
    if args.network_vlan_ranges is not None:
        settings["network_vlan_ranges"] = args.network_vlan_ranges
    if args.metrics_allow is not None:
        settings["metrics_allow"] = args.metrics_allow
    if args.healthcheck_disable_file:
        settings["healthcheck_disable_file"] = os.path.abspath(args.healthcheck_disable_file)
    settings["quotas"] = {name: getattr(args, "quota_" + name) for name in _quota_defaults()}
    return settings


def _server_argv(args):
    """The same settings as ``trunkline server`` options (for the stack `up` starts)."""
    return ["--agent-down-time", repr(args.agent_down_time),
            "--max-request-body-size", str(args.max_request_body_size),
            "--pagination-max-limit", str(args.pagination_max_limit),
            "--client-socket-timeout", repr(args.client_socket_timeout)] + (
        ["--network-vlan-ranges", ",".join(
            ",".join(["%s:%d:%d" % (name, low, high) for low, high in ranges] or [name])
            for name, ranges in args.network_vlan_ranges.items())]
        if args.network_vlan_ranges else []) + (
        ["--metrics-allow", ",".join(args.metrics_allow)] if args.metrics_allow else []) + (
        ["--healthcheck-disable-file", os.path.abspath(args.healthcheck_disable_file)]
        if args.healthcheck_disable_file else []) + [
        arg for name in _quota_defaults()
        for arg in ("--quota-" + name.replace("_", "-"), str(getattr(args, "quota_" + name)))]


def _db_url(args):
    from trunkline import server
    return args.db or server.default_db_url(args.state_dir)


def _auth_options(args):
    return {"auth": args.auth, "keystone_url": args.keystone_url,
            "keystone_user": args.keystone_user, "keystone_password": args.keystone_password,
            "keystone_project": args.keystone_project,
            "keystone_user_domain": args.keystone_user_domain,
            "keystone_project_domain": args.keystone_project_domain,
            "token_cache_ttl": args.token_cache_ttl, "policy_file": args.policy_file,
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
        server.run(args.bind, _db_url(args), workers=args.workers, log_level=args.log_level,
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
    from trunkline.cli import demo
    return demo.run(keep=args.keep, use_qemu=args.qemu)


def cmd_db(args):
    from trunkline import server
    from trunkline.db import migrate
    from trunkline.db.engine import Database
    url = _db_url(args)
    if args.action == "upgrade":
        server.prepare_database(url)
    db = Database(url)
    try:
        print("database %s at revision %s (head %s)" % (url, migrate.current(db.engine),
                                                        migrate.head()))
    finally:
        db.dispose()


def parser(only=None):
    """The command line; ``only``: one of LIGHT_COMMANDS, then that command alone."""
    p = argparse.ArgumentParser(prog="trunkline", description=DESCRIPTION,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
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
    __import__("trunkline.cli.lab", fromlist=["register"]).register(sub)  # trunkline lab ...
    __import__("trunkline.cli.agent", fromlist=["register"]).register(sub)  # trunkline agent
    for light in ("down", "doctor"):
        __import__("trunkline.cli." + light, fromlist=["register"]).register(sub)
    return p


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser(argv[0] if argv else None).parse_args(argv)
    logging.basicConfig(level=getattr(args, "log_level", "warning").upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args) or 0
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
