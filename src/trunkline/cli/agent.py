"""`trunkline agent`: the host agent (Open vSwitch or Linux bridge wiring + optional DHCP)
talking to the server over the agent channel. `register(subparsers)` adds the subcommand."""
import argparse
import ipaddress
import socket

from trunkline import constants
from trunkline.agent.drivers import DRIVERS
from trunkline.agent.linuxbridge.uplinks import DEFAULT_VXLAN_GROUP, VXLAN_PORT
from trunkline.agent.ovs import manager as ovs_manager
from trunkline.cli.options import add_log_level

TUNNEL_TYPES = ("vxlan", "gre")


def _ipv4(value):
    try:
        return str(ipaddress.IPv4Address(value))
    except ValueError:
        raise argparse.ArgumentTypeError("%r is not an IPv4 address" % value)


def tunnel_types_arg(value):
    """argparse type of --tunnel-types (the lab's too)."""
    types = [t.strip() for t in value.split(",") if t.strip()]
    bad = [t for t in types if t not in TUNNEL_TYPES]
    if bad or not types:
        raise argparse.ArgumentTypeError("tunnel types are a comma-separated list of %s, not %r"
                                         % (" and ".join(TUNNEL_TYPES), value))
    return sorted(set(types), key=TUNNEL_TYPES.index)


def vxlan_group_arg(value):
    """argparse type of --vxlan-group: an IPv4 multicast address or range."""
    try:
        net = ipaddress.IPv4Network(value, strict=False)
    except ValueError:
        net = None
    if net is None or not net.is_multicast:
        raise argparse.ArgumentTypeError("%r is not an IPv4 multicast address or range "
                                         "(224.0.0.0/4)" % value)
    return value


def _udp_port(value):
    try:
        port = int(value)
    except ValueError:
        port = 0
    if not 0 < port < 65536:
        raise argparse.ArgumentTypeError("%r is not a UDP port" % value)
    return port


def _ovsdb_manager(value):
    try:
        return ovs_manager.parse(value)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e))


def _physnet(value):
    physnet, sep, iface = value.partition(":")
    if not sep or not physnet or not iface or len(iface) > 15 or "/" in iface:
        raise argparse.ArgumentTypeError("expected PHYSNET:IFACE (e.g. physnet1:eth2), not %r"
                                         % value)
    return physnet, iface


def physnet_mappings(pairs):
    """``--physnet-mapping`` values as {physnet: iface}; a physnet given twice is an error."""
    out = {}
    for physnet, iface in pairs:
        if out.get(physnet, iface) != iface:
            raise SystemExit("trunkline agent: error: physical network %s mapped twice "
                             "(%s and %s)" % (physnet, out[physnet], iface))
        out[physnet] = iface
    return out


def cmd_agent(args):
    from trunkline.agent import main
    args.physnet_mappings = physnet_mappings(args.physnet_mapping)
    return main.run(args)


def register(subparsers):
    p = subparsers.add_parser(
        "agent", help="run the host agent (Open vSwitch or Linux bridge wiring, optionally DHCP)",
        description="Make this host's switch and, with --dhcp, its dnsmasq instances match the "
                    "server's desired state. --driver ovs: Open vSwitch (br-int, local VLANs, "
                    "trunk bridges), registers as 'Open vSwitch agent'; --driver linuxbridge: "
                    "Linux bridges brq<net>, vxlan-<VNI> devices with L2 population, trunk "
                    "subports as VLAN devices of the VM's tap, registers as 'Linux bridge "
                    "agent'. Also 'DHCP agent' with --dhcp. Heartbeats every --report-interval "
                    "s, long-polls /agent/v1/watch.")
    p.add_argument("--host", default=socket.gethostname(),
                   help="host name ports are bound to (binding:host_id; default: %(default)s)")
    p.add_argument("--server", default="http://127.0.0.1:9696", metavar="URL[,URL...]",
                   help="trunkline server, or several servers on one database separated by "
                        "commas: the agent uses one and moves to the next when it fails "
                        "(refused, timeout, 5xx) (default: %(default)s)")
    p.add_argument("--driver", choices=DRIVERS, default="ovs",
                   help="switch driver: ovs = Open vSwitch (br-int, trunk bridges); "
                        "linuxbridge = Linux bridges over netlink; noop = control plane only: "
                        "registers, watches, computes the desired state and reports every port "
                        "and trunk ACTIVE without touching any device (simulations, "
                        "benchmarks) (default: %(default)s)")
    p.add_argument("--dhcp", action="store_true",
                   help="also serve DHCP (qdhcp-<net> namespaces with dnsmasq)")
    p.add_argument("--dhcp-namespace-suffix", default="", metavar="SUFFIX",
                   help="name DHCP namespaces qdhcp-<net id>SUFFIX instead of Neutron's "
                        "qdhcp-<net id>: for several DHCP agents on one kernel serving the same "
                        "network (lab hosts use -<their namespace>)")
    p.add_argument("--ovsdb", metavar="unix:PATH|tcp:HOST:PORT",
                   help="OVSDB connection (default: unix:<ovs-rundir>/db.sock)")
    p.add_argument("--ovsdb-manager", type=_ovsdb_manager, default=ovs_manager.DEFAULT,
                   metavar="ptcp:PORT[:IP]|punix:PATH|none",
                   help="OVSDB manager the agent keeps in the switch's manager_options, so "
                        "ovsdb-server also listens there: os-vif's default ovsdb_connection "
                        "tcp:127.0.0.1:6640 needs the default, as with Neutron's agent; none: "
                        "add nothing (default: %(default)s)")
    p.add_argument("--ovs-rundir", metavar="DIR",
                   help="OVS run directory holding the bridges' .mgmt sockets "
                        "(default: $OVS_RUNDIR or /var/run/openvswitch)")
    p.add_argument("--state-dir", default=constants.STATE_DIR, metavar="DIR",
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
    p.add_argument("--tunnel-ip", type=_ipv4, metavar="IP",
                   help="this host's VTEP address (tenant vxlan/gre networks are tunnelled "
                        "from it, UDP 4789 for VXLAN); without it the host does not tunnel")
    p.add_argument("--tunnel-types", type=tunnel_types_arg, default=["vxlan"],
                   metavar="vxlan[,gre]",
                   help="tunnel types to carry with --tunnel-ip (default: vxlan)")
    p.add_argument("--physnet-mapping", type=_physnet, action="append", default=[],
                   metavar="PHYSNET:IFACE",
                   help="physical network PHYSNET (flat/vlan provider networks) is reached "
                        "through interface IFACE (ovs: a provider bridge br-IFACE holding "
                        "IFACE; linuxbridge: IFACE itself); repeatable")
    p.add_argument("--arp-responder", action="store_true",
                   help="answer ARP for remote ports locally from L2 population (Neutron's "
                        "arp_responder; ovs: br-tun table 21; linuxbridge: vxlan `proxy` and "
                        "permanent neighbour entries, and the kernel then sends no ARP over "
                        "VXLAN at all, replies included: turn it on on every host of a network "
                        "or on none)")
    p.add_argument("--no-l2-population", dest="l2_population", action="store_false",
                   help="linuxbridge: no L2 population; VXLAN devices flood broadcast, unknown "
                        "unicast and multicast to --vxlan-group and learn remote MACs, as "
                        "Neutron's Linux bridge agent with l2_population = False (Open vSwitch "
                        "hosts in the same networks need L2 population: see docs/hosts.md)")
    p.add_argument("--vxlan-group", type=vxlan_group_arg, default=DEFAULT_VXLAN_GROUP,
                   metavar="ADDR[/LEN]",
                   help="linuxbridge without L2 population: the multicast group of the VXLAN "
                        "devices; a range (239.1.0.0/16) gives VNI v the address base + "
                        "(v & hostmask), as Neutron's [vxlan] vxlan_group "
                        "(default: %(default)s)")
    p.add_argument("--vxlan-port", type=_udp_port, default=VXLAN_PORT, metavar="PORT",
                   help="linuxbridge: UDP destination port of VXLAN (Neutron's [vxlan] "
                        "udp_dstport; the kernel's 8472 when asked; default: %(default)s, IANA's)")
    p.add_argument("--report-interval", type=float, default=10.0, metavar="S",
                   help="heartbeat interval in seconds (default: %(default)s)")
    p.add_argument("--agent-secret-file", metavar="PATH",
                   help="file whose first line is the deployment's agent secret, sent to the "
                        "server on every agent channel request (the server's "
                        "--agent-secret-file)")
    add_log_level(p)
    p.set_defaults(func=cmd_agent)
    return p
