"""``trunkline doctor``: check this host (ops/doctor.py) and print a table (or JSON, YAML,
values) with a fix for each failure; exit 1 on any FAIL. `register(subparsers)` adds the
subcommand."""
from trunkline.cli.options import add_format, print_records


def cmd_doctor(args):
    from trunkline.ops import doctor
    rep = doctor.run(args.state_dir, endpoint=args.endpoint, host=args.host)
    if args.format == "table":
        print(doctor.table(rep))
    else:
        print_records(args.format, rep.rows, ("CHECK", "STATUS", "DETAIL", "FIX"),
                      [(r["check"], r["status"], r["detail"], r["fix"]) for r in rep.rows])
    return 1 if rep.failed else 0


def register(subparsers):
    from trunkline.ops.record import DEFAULT_STATE_DIR
    p = subparsers.add_parser(
        "doctor", help="check this host: server, agent, Open vSwitch, DHCP, leftovers",
        description="Check this host and say how to fix each failure: the trunkline up of "
                    "--state-dir (running, or killed and leaving its processes), the server, "
                    "this host's agent and its last pass, Open vSwitch (OVSDB, ovs-vswitchd, "
                    "the integration bridge on its datapath type), dnsmasq per network (running, "
                    "listening in its qdhcp- namespace), and namespaces and devices without an "
                    "owner. Exit status 1 when a check FAILs.")
    p.add_argument("--state-dir", default=DEFAULT_STATE_DIR, metavar="DIR",
                   help="the trunkline up's state directory (default: %(default)s)")
    p.add_argument("--endpoint", metavar="URL",
                   help="the server (default: the up's, else $OS_ENDPOINT, else "
                        "http://127.0.0.1:9696)")
    p.add_argument("--host", metavar="H",
                   help="the agent's host name (default: the up's, else this machine's)")
    add_format(p)
    p.set_defaults(func=cmd_doctor)
    return p
