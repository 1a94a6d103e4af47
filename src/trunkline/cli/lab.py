"""``trunkline lab …``: guests (network namespaces) plugged like Nova + os-vif plug VMs.

  trunkline lab vm create NAME --port PORT [--host HOST] [--qemu]
  trunkline lab vm vlan NAME --vid N [--link eth0] [--name eth0.N] [--mac MAC]
  trunkline lab vm exec NAME -- CMD...
  trunkline lab vm list [-f json]
  trunkline lab vm del NAME
  trunkline lab host add NAME [--driver ovs|linuxbridge] [--dhcp] [--physnet PHYSNET]
  trunkline lab host list [-f json]
  trunkline lab host del NAME
  trunkline lab down
"""
import argparse
import sys

from trunkline.cli.agent import tunnel_types_arg, vxlan_group_arg
from trunkline.cli.options import add_format, print_records

LAB_HELP = """Simulated guests on this machine.  A lab VM is a network namespace whose eth0 is a
veth plugged into the bridge Neutron's binding names (binding:vif_details.bridge_name), exactly
as Nova + os-vif would plug it; guest VLANs (eth0.N) are real 8021q devices or, on kernels
without 8021q, an equivalent tc/BPF device (namespace VMs only).  With --qemu the VM is a real
guest kernel under QEMU (Debian's kernel, a busybox initramfs) on a tap, and `vm exec` talks to
its shell over a virtio-serial channel.  Needs root and a running `trunkline up`.

example (the seed's trunk VM):
  trunkline lab vm create vm1 --port trunkparent
  trunkline lab vm vlan vm1 --vid 1 --mac <subport1 MAC>
  trunkline lab vm exec vm1 -- ip -br addr
  trunkline lab down
"""


def _common(p):
    from trunkline.lab import neutron, state
    p.add_argument("--endpoint", default=None, metavar="URL",
                   help="the Neutron API (default: $OS_ENDPOINT, else the network endpoint in "
                        "Keystone's catalog with OS_CLOUD or OS_AUTH_URL set, else %s)"
                        % neutron.DEFAULT_ENDPOINT)
    p.add_argument("--state-dir", default=state.DEFAULT_STATE_DIR, metavar="DIR",
                   help="where the lab records what it made (default: %(default)s)")


def _fail(msg):
    print("trunkline lab: error: %s" % msg, file=sys.stderr)
    return 1


def _guard(fn):
    def wrapper(args):
        from trunkline.lab.neutron import NeutronError
        from trunkline.agent.vlan import VlanError
        from trunkline.lab.host import HostError
        from trunkline.lab.vm import LabError
        try:
            return fn(args)
        except (LabError, NeutronError, VlanError, HostError) as e:
            return _fail(e)
        except PermissionError as e:
            return _fail("%s (the lab needs root)" % e)
    return wrapper


@_guard
def cmd_create(args):
    from trunkline.lab import vm
    rec = vm.create_vm(args.endpoint, args.name, args.port, host=args.host,
                       state_dir=args.state_dir, use_qemu=args.qemu, plug_with=args.plug)
    if rec.get("kind") == "qemu":
        print("VM %s: QEMU pid %d (%s), eth0 %s mtu %d, port %s (%s) bound to %s, %s on %s"
              % (rec["name"], rec["qemu_pid"], rec["accel"], rec["mac"], rec["mtu"],
                 rec["port_id"], ", ".join(rec["fixed_ips"]) or "no IP", rec["host"],
                 rec["tap"], rec["bridge"]))
        return 0
    print("VM %s: namespace %s, eth0 %s mtu %d, port %s (%s) bound to %s, %s on %s"
          % (rec["name"], rec["vm_netns"], rec["mac"], rec["mtu"], rec["port_id"],
             ", ".join(rec["fixed_ips"]) or "no IP", rec["host"], rec["tap"], rec["bridge"]))
    return 0


@_guard
def cmd_vlan(args):
    from trunkline.lab import vm
    v = vm.add_vm_vlan(args.name, args.vid, link=args.link, vlan_name=args.vlan_name,
                       mac=args.mac, state_dir=args.state_dir)
    print("VM %s: %s on %s vlan %d (%s)" % (args.name, v["name"], v["link"], v["vid"],
                                             "8021q" if v["mode"] == "8021q" else "tc/bpf"))
    return 0


@_guard
def cmd_exec(args):
    from trunkline.lab import vm
    argv = list(args.argv)
    if argv and argv[0] == "--":
        argv = argv[1:]
    if not argv:
        return _fail("nothing to run: trunkline lab vm exec NAME -- CMD...")
    try:
        return vm.exec_vm(args.name, argv, state_dir=args.state_dir).returncode
    except FileNotFoundError as e:
        return _fail(e)


@_guard
def cmd_list(args):
    from trunkline.lab import vm
    vms = vm.list_vms(state_dir=args.state_dir)
    rows = [(v["name"], v["port_name"] or v["port_id"], v["mac"], ",".join(v["fixed_ips"]),
             v["host"], v["bridge"],
             ",".join("%s:%d" % (x["name"], x["vid"]) for x in v["vlans"]) or "-",
             "up" if v["present"] else "missing") for v in vms]
    print_records(args.format, vms,
                  ("Name", "Port", "MAC", "IPs", "Host", "Bridge", "VLANs", "State"), rows)
    return 0


@_guard
def cmd_del(args):
    from trunkline.lab import vm
    for w in vm.delete_vm(args.name, args.endpoint, state_dir=args.state_dir):
        print("warning: %s" % w, file=sys.stderr)
    print("VM %s deleted" % args.name)
    return 0


@_guard
def cmd_down(args):
    from trunkline.lab import host, vm
    names = [v["name"] for v in vm.list_vms(state_dir=args.state_dir)]
    names += ["host " + h["name"] for h in host.list_hosts(state_dir=args.state_dir)]
    for w in vm.down(args.endpoint, state_dir=args.state_dir) + host.down(args.state_dir):
        print("warning: %s" % w, file=sys.stderr)
    print("lab down: removed %s" % (", ".join(names) if names
                                    else "nothing (no lab VMs or hosts)"))
    return 0


@_guard
def cmd_host_add(args):
    from trunkline.lab import host
    rec = host.add_host(args.name, driver=args.driver, endpoint=args.endpoint, dhcp=args.dhcp,
                        physnet=args.physnet, tunnel_types=args.tunnel_types,
                        arp_responder=args.arp_responder, vxlan_group=args.vxlan_group,
                        state_dir=args.state_dir)
    print("host %s: %s agent (pid %d) in namespace %s, VTEP %s on eth1%s%s"
          % (rec["name"], rec["driver"], rec["agent_pid"], rec["netns"], rec["tunnel_ip"],
             ", %s on eth2" % rec["physnet"] if rec["physnet"] else "",
             ", DHCP" if rec["dhcp"] else ""))
    return 0


@_guard
def cmd_host_list(args):
    from trunkline.lab import host
    hosts = host.list_hosts(state_dir=args.state_dir)
    rows = [(h["name"], h["driver"], h["tunnel_ip"], h["physnet"] or "-",
             "yes" if h["dhcp"] else "no", h["netns"],
             "pid %d" % h["agent_pid"] if h["agent_running"] else "stopped") for h in hosts]
    print_records(args.format, hosts,
                  ("Name", "Driver", "VTEP", "Physnet", "DHCP", "Namespace", "Agent"), rows)
    return 0


@_guard
def cmd_host_del(args):
    from trunkline.lab import host
    for w in host.del_host(args.name, state_dir=args.state_dir):
        print("warning: %s" % w, file=sys.stderr)
    print("host %s deleted" % args.name)
    return 0


def _register_host(lsub):
    host = lsub.add_parser("host", help="lab hosts: add, list, del",
                           description="Lab hosts: simulated hypervisors, each a network "
                                       "namespace with its own switch and trunkline agent, "
                                       "joined by a lab underlay (VTEPs 192.0.2.N/24).")
    hsub = host.add_subparsers(dest="host_command", metavar="COMMAND")
    hsub.required = True
    s = hsub.add_parser("add", help="create a host and start its agent",
                        description="Create namespace tlh-<lab id>-NAME with NIC eth1 on the "
                                    "lab underlay (VTEP 192.0.2.N) and, with --physnet, eth2 on "
                                    "the lab's physical network; for --driver ovs a private "
                                    "ovsdb-server + ovs-vswitchd (userspace datapath); then "
                                    "start `trunkline agent --driver D --host NAME --tunnel-ip "
                                    "192.0.2.N` for it and wait until it is alive.")
    s.add_argument("name", metavar="NAME", help="the host name ports are bound to")
    s.add_argument("--driver", choices=["ovs", "linuxbridge"], default="ovs",
                   help="switch driver (default: %(default)s)")
    s.add_argument("--dhcp", action="store_true", help="the host also serves DHCP")
    s.add_argument("--physnet", metavar="PHYSNET",
                   help="give the host eth2 on the lab's physical network and map PHYSNET "
                        "to it (flat/VLAN provider networks)")
    s.add_argument("--tunnel-types", type=tunnel_types_arg, metavar="vxlan[,gre]",
                   help="tunnel types of an ovs host (default: vxlan)")
    s.add_argument("--arp-responder", action="store_true",
                   help="the agent answers ARP for remote ports locally from L2 population")
    s.add_argument("--vxlan-group", type=vxlan_group_arg, metavar="ADDR[/LEN]",
                   help="a linuxbridge host without L2 population: its VXLAN devices flood "
                        "to this multicast group over the lab underlay (e.g. 224.0.0.1)")
    _common(s)
    s.set_defaults(func=cmd_host_add)

    s = hsub.add_parser("list", help="list lab hosts", description="List the lab hosts.")
    add_format(s)
    _common(s)
    s.set_defaults(func=cmd_host_list)

    s = hsub.add_parser("del", help="delete a host",
                        description="Delete lab host NAME: its lab VMs, its agent (by PID), "
                                    "its DHCP servers, its switch and its namespace.")
    s.add_argument("name", metavar="NAME")
    _common(s)
    s.set_defaults(func=cmd_host_del)


def register(subparsers):
    """Add ``lab`` to the ``trunkline`` command's subparsers."""
    lab = subparsers.add_parser("lab", help="simulated guests plugged like Nova/os-vif",
                                description=LAB_HELP,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    lsub = lab.add_subparsers(dest="lab_command", metavar="COMMAND")
    lsub.required = True

    vm = lsub.add_parser("vm", help="lab VMs: create, vlan, exec, list, del",
                         description="Lab VMs (network namespaces plugged like Nova VMs).")
    vsub = vm.add_subparsers(dest="vm_command", metavar="COMMAND")
    vsub.required = True

    s = vsub.add_parser("create", help="bind a port and plug a VM for it",
                        description="Set device_id, device_owner compute:nova and "
                                    "binding:host_id on PORT, then plug a namespace NAME whose "
                                    "eth0 carries the port's MAC into the bridge the binding "
                                    "names (a trunk parent gets its tbr- bridge).")
    s.add_argument("name", metavar="NAME")
    s.add_argument("--port", required=True, metavar="PORT", help="port name or id")
    s.add_argument("--host", metavar="HOST",
                   help="binding host (default: the host of the only live Open vSwitch agent)")
    s.add_argument("--qemu", action="store_true",
                   help="boot a real guest kernel under QEMU on a tap (Debian's kernel, a "
                        "busybox initramfs) instead of a namespace")
    s.add_argument("--plug", choices=["lab", "os-vif"], default="lab",
                   help="who plugs the port into the switch: the lab's own copy of os-vif's "
                        "steps (default), or the real os-vif library as Nova calls it "
                        "(Open vSwitch hosts; os-vif from the test extra)")
    _common(s)
    s.set_defaults(func=cmd_create)

    s = vsub.add_parser("vlan", help="add a guest VLAN device (eth0.N)",
                        description="Create VLAN device NAME.VID on LINK inside the VM, like "
                                    "`ip link add link eth0 name eth0.N type vlan id N`.")
    s.add_argument("name", metavar="NAME")
    s.add_argument("--vid", type=int, required=True, metavar="N", help="VLAN id 1..4094")
    s.add_argument("--link", default="eth0", help="parent device (default: %(default)s)")
    s.add_argument("--name", dest="vlan_name", metavar="DEV",
                   help="device name (default: LINK.N)")
    s.add_argument("--mac", help="MAC address (e.g. the subport's)")
    _common(s)
    s.set_defaults(func=cmd_vlan)

    s = vsub.add_parser("exec", help="run a command inside a VM",
                        description="Run CMD inside VM NAME's namespace; the exit code is "
                                    "CMD's. dhclient runs unchanged: it is given the lab's lease "
                                    "script and lease/pid files, so it never touches the "
                                    "machine's /etc/resolv.conf.")
    s.add_argument("name", metavar="NAME")
    s.add_argument("argv", nargs=argparse.REMAINDER, metavar="-- CMD...")
    _common(s)
    s.set_defaults(func=cmd_exec)

    s = vsub.add_parser("list", help="list lab VMs", description="List the lab VMs.")
    add_format(s)
    _common(s)
    s.set_defaults(func=cmd_list)

    s = vsub.add_parser("del", help="unplug and delete a VM",
                        description="Unplug VM NAME (removing its tbr- bridge when no VM port "
                                    "is left on it), clear its port's binding and device, and "
                                    "delete its namespace.")
    s.add_argument("name", metavar="NAME")
    _common(s)
    s.set_defaults(func=cmd_del)

    _register_host(lsub)

    s = lsub.add_parser("down", help="remove every lab resource",
                        description="Delete every lab VM and lab host recorded in the state "
                                    "directory.")
    _common(s)
    s.set_defaults(func=cmd_down)
    return lab


def run(argv) -> int:
    """``trunkline lab ...`` in this process (``argv`` from "lab" on), as the command line runs
    it: what the demo uses between its steps."""
    p = argparse.ArgumentParser(prog="trunkline")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    register(sub)
    args = p.parse_args(list(argv))
    return args.func(args) or 0
