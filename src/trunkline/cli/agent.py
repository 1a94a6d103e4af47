"""`trunkline agent`: the host agent (OVS wiring + optional DHCP) talking to the server over
the agent channel. `register(subparsers)` adds the subcommand."""
import socket

from trunkline.agent.driver import DRIVERS
from trunkline.cli.options import add_log_level


def cmd_agent(args):
    from trunkline.agent import main
    return main.run(args)


def register(subparsers):
    p = subparsers.add_parser(
        "agent", help="run the host agent (Open vSwitch wiring, optionally DHCP)",
        description="Make this host's Open vSwitch (br-int, local VLANs, trunk patch ports) "
                    "and, with --dhcp, its dnsmasq instances match the server's desired state. "
                    "Registers as 'Open vSwitch agent' (and 'DHCP agent'), heartbeats every "
                    "--report-interval s, long-polls /agent/v1/watch.")
    p.add_argument("--host", default=socket.gethostname(),
                   help="host name ports are bound to (binding:host_id; default: %(default)s)")
    p.add_argument("--server", default="http://127.0.0.1:9696", metavar="URL[,URL...]",
                   help="trunkline server, or several servers on one database separated by "
                        "commas: the agent uses one and moves to the next when it fails "
                        "(refused, timeout, 5xx) (default: %(default)s)")
    p.add_argument("--driver", choices=DRIVERS, default="ovs",
                   help="switch driver: ovs = Open vSwitch (br-int, trunk bridges); noop = "
                        "control plane only: registers, watches, computes the desired state "
                        "and reports every port and trunk ACTIVE without touching any device "
                        "(simulations, benchmarks) (default: %(default)s)")
    p.add_argument("--dhcp", action="store_true",
                   help="also serve DHCP (qdhcp-<net> namespaces with dnsmasq)")
    p.add_argument("--ovsdb", metavar="unix:PATH|tcp:HOST:PORT",
                   help="OVSDB connection (default: unix:<ovs-rundir>/db.sock)")
    p.add_argument("--ovs-rundir", metavar="DIR",
                   help="OVS run directory holding the bridges' .mgmt sockets "
                        "(default: $OVS_RUNDIR or /var/run/openvswitch)")
    p.add_argument("--state-dir", default="/var/lib/trunkline", metavar="DIR",
                   help="agent state (dnsmasq files under DIR/dhcp/<net id>; default: "
                        "%(default)s; must be readable by dnsmasq's user)")
    p.add_argument("--integration-bridge", default="br-int", metavar="BRIDGE",
                   help="integration bridge name (default: %(default)s)")
    p.add_argument("--datapath-type", choices=["system", "netdev"],
                   help="datapath type of the bridges the agent creates (default: system if "
                        "the openvswitch kernel module is loaded, else netdev)")
    p.add_argument("--netns", metavar="NAME",
                   help="the switch lives in network namespace NAME (lab hosts): netlink work "
                        "and DHCP veths happen there; the agent itself stays in its namespace")
    p.add_argument("--report-interval", type=float, default=10.0, metavar="S",
                   help="heartbeat interval in seconds (default: %(default)s)")
    p.add_argument("--agent-secret-file", metavar="PATH",
                   help="file whose first line is the deployment's agent secret, sent to the "
                        "server on every agent channel request (the server's "
                        "--agent-secret-file)")
    add_log_level(p)
    p.set_defaults(func=cmd_agent)
    return p
