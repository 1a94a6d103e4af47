"""Lab "VMs": a network namespace per guest, plugged the way Nova + os-vif plug an OVS VIF.

``create_vm`` plays Nova: it sets ``device_id``/``device_owner``/``binding:host_id`` on the port
through the Neutron API, reads the binding back and then plays os-vif's ``ovs`` plugin with
``binding:vif_details``: a veth whose guest end is ``eth0`` (port MAC, network MTU) inside
namespace ``tlvm-<name>`` and whose host end ``tap<port id[:11]>`` (``gen_port_name``) lives in
the agent's namespace and is added to ``vif_details.bridge_name`` with Nova's Interface
external_ids (``iface-id``, ``iface-status=active``, ``attached-mac``, ``vm-uuid``).  For a trunk
parent that bridge is ``tbr-<trunk id[:10]>``, which the plugin creates (same datapath_type as
the integration bridge) and deletes again on unplug once no VM port is left on it — the
ownership os-vif has.  On a Linux bridge host (``binding:vif_type`` ``bridge``) the plug is only
the veth: the agent finds ``tap<port id[:11]>`` and puts it into ``brq<network id[:11]>``.  Where
the agent's OVSDB and namespace are comes from its registered ``configurations``
(``GET /v2.0/agents?host=H``).

Guest VLANs (``eth0.N``) come from :mod:`trunkline.agent.vlan`.  Everything created is recorded in
the lab state file (:mod:`trunkline.lab.state`) so ``down`` removes it all.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import uuid

from trunkline import constants as c
from trunkline import names
from trunkline.lab import neutron as neutron_api
from trunkline.lab import osvif, qemu
from trunkline.agent import vlan as vlan_mod
from trunkline.lab.state import LabState

NS_PREFIX = "tlvm-"
DEFAULT_OVSDB = "unix:/var/run/openvswitch/db.sock"
PATCH_PREFIXES = (names.TRUNK_TBR_PATCH, names.SUBPORT_TBR_PATCH)   # the agent's, on a tbr-
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$")


class LabError(RuntimeError):
    pass


# --- small helpers -----------------------------------------------------------------------------

def _run(argv, check=True, input=None):
    r = subprocess.run(argv, capture_output=True, text=True, input=input)
    if check and r.returncode:
        raise LabError("%s: %s" % (" ".join(argv), (r.stderr or r.stdout).strip()))
    return r


def _ip(netns, *args, check=True):
    return _run(["ip"] + (["-n", netns] if netns else []) + list(args), check=check)


def _in_netns(netns, argv):
    return (["ip", "netns", "exec", netns] if netns else []) + list(argv)


def netns_name(name, prefix=NS_PREFIX):
    return prefix + name


def netns_exists(netns):
    return os.path.exists(os.path.join("/run/netns", netns))


def ovsdb_target(value):
    """Normalise an OVSDB location (``unix:PATH``, ``tcp:H:P`` or a bare socket path)."""
    if not value:
        return DEFAULT_OVSDB
    if value.startswith(("unix:", "tcp:", "ssl:")):
        return value
    return "unix:" + value


def vsctl(ovsdb, *args, check=True):
    """Run ovs-vsctl against OVSDB (the lab is not a hot path)."""
    return _run(["ovs-vsctl", "--db=" + ovsdb_target(ovsdb), "--timeout=20"] + list(args),
                check=check)


def agent_settings(agent):
    """(ovsdb, netns, integration bridge, datapath_type) from an agent's configurations."""
    conf = agent.get("configurations") or {}
    ovsdb = (conf.get("ovsdb_connection") or conf.get("ovsdb") or conf.get("ovsdb_socket")
             or conf.get("ovsdb_connection_string"))
    netns = conf.get("netns") or conf.get("namespace") or None
    return (ovsdb_target(ovsdb), netns, conf.get("integration_bridge") or "br-int",
            conf.get("datapath_type") or "system")


# --- os-vif style plug / unplug (no API involved) ------------------------------------------------

def plug(vif):
    """Wire a guest.  VIF keys: ``vm_netns``, ``host_netns`` (None = current namespace), ``tap``,
    ``mac``, ``mtu``, ``vif_type`` (``ovs``, the default, or ``bridge``: only the veth, the
    Linux bridge agent enslaves the tap), ``bridge``, ``integration_bridge``,
    ``datapath_type``, ``ovsdb``, ``port_id``, ``vm_uuid``.  The VM namespace must not exist
    yet; on failure everything made here is removed again."""
    vm_ns, host_ns, tap = vif["vm_netns"], vif.get("host_netns"), vif["tap"]
    if netns_exists(vm_ns):
        raise LabError("namespace %s already exists" % vm_ns)
    if host_ns and not netns_exists(host_ns):
        raise LabError("the agent's namespace %s does not exist" % host_ns)
    _run(["ip", "netns", "add", vm_ns])
    try:
        if vif.get("plug") == "os-vif":     # Nova: os-vif first, then the hypervisor's device
            _os_vif(vif, "plug")
        _ip(vm_ns, "link", "set", "lo", "up")
        _ip(host_ns, "link", "add", tap, "mtu", str(vif["mtu"]), "type", "veth",
            "peer", "name", "eth0", "netns", vm_ns, "mtu", str(vif["mtu"]))
        _ip(vm_ns, "link", "set", "eth0", "address", vif["mac"])
        _ip(vm_ns, "link", "set", "eth0", "up")
        if vif.get("datapath_type") == "netdev":
            # OVS userspace forwards CHECKSUM_PARTIAL frames unfinished
            _run(_in_netns(vm_ns, ["ethtool", "-K", "eth0", "tx", "off"]), check=False)
        _ip(host_ns, "link", "set", tap, "up")
        _attach(vif)
    except Exception:
        unplug(vif)
        raise


def _os_vif(vif, op):
    """os-vif's plug or unplug of VIF, run in the switch's namespace (lab/osvif.py)."""
    argv = [sys.executable, "-m", "trunkline.lab.osvif", op, json.dumps(vif)]
    r = _run(_in_netns(vif["host_netns"], argv) if vif.get("host_netns") else argv,
             check=False)
    if r.returncode:
        raise LabError("os-vif %s of port %s failed: %s" % (
            op, vif["port_id"], (r.stderr.strip().splitlines() or ["?"])[-1]))


def plug_tap(vif):
    """Wire a QEMU guest as Nova's libvirt driver + os-vif do: a tap ``tap<port id[:11]>`` in
    the agent's namespace (MTU from the network, libvirt's ``fe:`` MAC), added to the bridge like
    :func:`plug`'s veth.  QEMU attaches to it by name.  On failure everything is removed."""
    host_ns, tap = vif.get("host_netns"), vif["tap"]
    if host_ns and not netns_exists(host_ns):
        raise LabError("the agent's namespace %s does not exist" % host_ns)
    if vif.get("plug") == "os-vif":
        _os_vif(vif, "plug")
    _ip(host_ns, "tuntap", "add", "dev", tap, "mode", names.TUNTAP_MODE)
    try:
        _ip(host_ns, "link", "set", tap, "mtu", str(vif["mtu"]),
            "address", qemu.tap_mac(vif["mac"]))
        _ip(host_ns, "link", "set", tap, "up")
        _attach(vif)
    except Exception:
        unplug(vif)
        raise


def _attach(vif):
    """Add the host end TAP to the binding's bridge (a trunk bridge is created first) with
    Nova's Interface external_ids; on a Linux bridge host the agent enslaves it."""
    if vif.get("vif_type") == c.VIF_TYPE_BRIDGE:     # Linux bridge: the agent enslaves the tap
        return
    if vif.get("plug") == "os-vif":     # os-vif made the port; the device comes after it
        return
    bridge, tap = vif["bridge"], vif["tap"]
    args = []
    if bridge.startswith(names.TRUNK_BRIDGE_PREFIX):
        args += ["--", "--may-exist", "add-br", bridge,
                 "--", "set", "Bridge", bridge, "datapath_type=" + _trunk_datapath(vif)]
    args += ["--", "--may-exist", "add-port", bridge, tap,
             "--", "set", "Interface", tap,
             "external_ids:iface-id=" + vif["port_id"],
             "external_ids:iface-status=active",
             "external_ids:attached-mac=" + vif["mac"],
             "external_ids:vm-uuid=" + vif["vm_uuid"]]
    vsctl(vif["ovsdb"], *args)


def _trunk_datapath(vif):
    """A trunk bridge gets the integration bridge's datapath_type, as os-vif does."""
    r = vsctl(vif["ovsdb"], "--if-exists", "get", "Bridge",
              vif.get("integration_bridge") or c.INTEGRATION_BRIDGE, "datapath_type", check=False)
    dp = r.stdout.strip().strip('"') if r.returncode == 0 else ""
    return dp or vif.get("datapath_type") or "system"


def unplug(vif):
    """Undo :func:`plug` (idempotent): remove the OVS port, the trunk bridge when no VM port is
    left on it, the veth and the VM namespace."""
    bridge, tap = vif.get("bridge"), vif["tap"]
    errors = []
    if vif.get("plug") == "os-vif":
        try:
            _os_vif(vif, "unplug")
        except LabError as e:
            errors.append(str(e))
    elif bridge and vif.get("vif_type", "ovs") == "ovs":
        r = vsctl(vif["ovsdb"], "--if-exists", "del-port", bridge, tap, check=False)
        if r.returncode:
            errors.append(r.stderr.strip())
        elif bridge.startswith(names.TRUNK_BRIDGE_PREFIX):
            r = vsctl(vif["ovsdb"], "list-ports", bridge, check=False)
            left = [p for p in r.stdout.split() if not p.startswith(PATCH_PREFIXES)]
            if r.returncode == 0 and not left:
                vsctl(vif["ovsdb"], "--if-exists", "del-br", bridge, check=False)
    if not vif.get("host_netns") or netns_exists(vif["host_netns"]):
        _ip(vif.get("host_netns"), "link", "del", tap, check=False)
    if vif.get("vm_netns") and netns_exists(vif["vm_netns"]):
        _stop_guest_processes(vif["vm_netns"])
        _run(["ip", "netns", "del", vif["vm_netns"]], check=False)
    if errors:
        raise LabError("; ".join(errors))


def _stop_guest_processes(vm_ns):
    """End what runs inside the guest (a daemonised dhclient), by PID."""
    r = _run(["ip", "netns", "pids", vm_ns], check=False)
    for pid in r.stdout.split():
        try:
            os.kill(int(pid), 15)
        except (ProcessLookupError, ValueError):
            pass


# --- the Nova side --------------------------------------------------------------------------------

def create_vm(endpoint, name, port, host=None, state_dir=None, ns_prefix=NS_PREFIX,
              use_qemu=False, plug_with="lab"):
    """Bind PORT (name or id) to HOST and plug a guest NAME for it: a namespace, or with
    USE_QEMU a QEMU guest (lab/qemu.py) on a tap; PLUG_WITH ``os-vif`` has the real os-vif
    library plug it (lab/osvif.py) instead of the lab's own copy.  Returns the VM record."""
    if not _NAME_RE.match(name):
        raise LabError("bad VM name %r: letters, digits, '.', '_', '-' (max 40)" % name)
    state = LabState(state_dir)
    if state.vm(name):
        raise LabError("VM %s already exists (trunkline lab vm del %s)" % (name, name))
    if use_qemu:
        try:
            qemu.prepare()              # kernel and initramfs before the port is touched
        except qemu.QemuError as e:
            raise LabError(str(e))
    api = neutron_api.Neutron(endpoint)
    p = api.find_port(port)
    if p.get("device_id") and p.get("device_owner") and not p["device_owner"].startswith("compute:"):
        raise LabError("port %s is used by %s" % (p["id"], p["device_owner"]))
    agent = l2_agent(api, host)
    host = agent["host"]
    vm_uuid = str(uuid.uuid4())
    api.update_port(p["id"], device_id=vm_uuid, device_owner=c.OWNER_COMPUTE,
                    **{"binding:host_id": host})
    p = api.get_port(p["id"])
    vif_type = p.get("binding:vif_type")
    if vif_type != c.VIF_TYPES_OF_AGENTS[agent["agent_type"]]:
        _clear_port(api, p["id"])
        raise LabError("port %s did not bind on host %s (binding:vif_type %s)"
                       % (p["id"], host, vif_type))
    if plug_with == "os-vif" and vif_type != c.VIF_TYPE_OVS:
        _clear_port(api, p["id"])
        raise LabError("--plug os-vif needs an Open vSwitch host (%s binds %s)"
                       % (host, vif_type))
    details = p.get("binding:vif_details") or {}
    ovsdb, host_ns, int_br, dp = agent_settings(agent)
    net = api.get_network(p["network_id"])
    vm = {
        "name": name, "vm_uuid": vm_uuid, "port_id": p["id"], "port_name": p.get("name"),
        "network_id": p["network_id"], "host": host, "mac": p["mac_address"],
        "mtu": int(net.get("mtu") or 1500), "vm_netns": netns_name(name, ns_prefix),
        "host_netns": host_ns, "tap": names.tap(p["id"]),
        "vif_type": vif_type, "integration_bridge": int_br,
        "bridge": names.network_bridge(p["network_id"]) if vif_type == c.VIF_TYPE_BRIDGE    # Nova's name
        else details.get("bridge_name") or int_br,
        "datapath_type": details.get("datapath_type") or dp, "ovsdb": ovsdb,
        "endpoint": api.endpoint,
        "fixed_ips": [ip["ip_address"] for ip in p.get("fixed_ips", [])],
    }
    if use_qemu:
        vm.update(kind="qemu", vm_netns=None,
                  run_dir=os.path.join(state.dir, "vms", name))
    if plug_with == "os-vif":
        vm.update(plug="os-vif", ovsdb_connection=osvif.connection(
            agent.get("configurations") or {}, ovsdb))
    with state.edit() as data:                 # record first: `lab down` must find it
        if name in data["vms"]:
            raise LabError("VM %s already exists" % name)
        data["vms"][name] = vm
    try:
        if use_qemu:
            _boot_qemu(vm, state)
        else:
            plug(vm)
    except Exception as e:
        if use_qemu:
            qemu.stop(vm)
            unplug(vm)
        with state.edit() as data:
            data["vms"].pop(name, None)
        _clear_port(api, p["id"])
        if isinstance(e, qemu.QemuError):
            raise LabError(str(e)) from None
        raise
    return vm


def _boot_qemu(vm, state):
    """Plug VM's tap, start its QEMU (recorded at once, for `lab down`) and wait for its shell.
    A guest that stays silent under an auto-detected KVM is booted again under TCG."""
    plug_tap(vm)
    accelerators = [qemu.accel()]
    if accelerators[0] == "kvm" and not qemu.accel_forced():
        accelerators.append("tcg")
    for i, accelerator in enumerate(accelerators):
        last = i == len(accelerators) - 1
        try:
            vm["accel"] = accelerator
            vm["qemu_pid"] = qemu.boot(vm, vm["run_dir"], netns=vm["host_netns"],
                                       accelerator=accelerator)
            with state.edit() as data:
                data["vms"][vm["name"]].update(qemu_pid=vm["qemu_pid"], accel=accelerator)
            qemu.wait_ready(vm, qemu.BOOT_TIMEOUT if last else qemu.KVM_BOOT_TIMEOUT)
            return
        except qemu.QemuError:
            if last:
                raise
            qemu.stop(vm)


def l2_agent(api, host=None):
    """The live L2 agent (Open vSwitch or Linux bridge) of HOST, or the only live one."""
    found = [a for a in api.agents(**({"host": host} if host else {}))
             if a.get("agent_type") in c.VIF_TYPES_OF_AGENTS and (not host or a.get("host") == host)]
    live = [a for a in found if a.get("alive")]
    if not live:
        where = " on host %r" % host if host else ""
        dead = " (one is registered but not alive)" if found else ""
        raise LabError("no live Open vSwitch agent%s (nor Linux bridge agent)%s: start "
                       "`trunkline up` or `trunkline lab host add` first" % (where, dead))
    if len(live) > 1:
        raise LabError("%d live L2 agents (hosts %s): choose one with --host"
                       % (len(live), ", ".join(sorted(a["host"] for a in live))))
    return live[0]


def _clear_port(api, port_id):
    try:
        api.update_port(port_id, device_id="", device_owner="", **{"binding:host_id": ""})
        return None
    except neutron_api.NeutronError as e:
        if e.status == 404:
            return None
        return str(e)


def delete_vm(name, endpoint=None, state_dir=None):
    """Unplug VM NAME, clear its port's binding and device, forget it.  Returns a list of
    warnings (API or OVSDB not reachable, …); local resources (namespace, veth, the lab's
    record) are removed regardless."""
    state = LabState(state_dir)
    vm = state.vm(name)
    if vm is None:
        raise LabError("no lab VM named %s" % name)
    if vm.get("kind") == "qemu":
        qemu.stop(vm)
    warnings = []
    try:
        unplug(vm)      # the namespace and veth go even when the switch does not answer
    except LabError as e:
        warnings.append("VM %s: its switch could not be reached, its port %s stays in that "
                        "switch's database (%s)" % (name, vm["tap"], e))
    api = neutron_api.Neutron(endpoint or vm.get("endpoint"))
    try:
        current = api.get_port(vm["port_id"])
        if current.get("device_id") == vm["vm_uuid"]:
            err = _clear_port(api, vm["port_id"])
            if err:
                warnings.append(err)
    except neutron_api.NeutronError as e:
        if e.status != 404:
            warnings.append("port %s not cleared: %s" % (vm["port_id"], e))
    if vm.get("kind") == "qemu":         # its FIFOs, console log and pid file
        shutil.rmtree(vm["run_dir"], ignore_errors=True)
    with state.edit() as data:
        data["vms"].pop(name, None)
    return warnings


def down(endpoint=None, state_dir=None):
    """Remove every lab VM.  Returns the warnings."""
    warnings = []
    for name in sorted(LabState(state_dir).vms()):
        warnings += delete_vm(name, endpoint, state_dir)
    return warnings


def _vm_or_fail(name, state_dir):
    vm = LabState(state_dir).vm(name)
    if vm is None:
        raise LabError("no lab VM named %s (trunkline lab vm list)" % name)
    return vm


# dhclient's own script would rewrite the machine's /etc/resolv.conf: in a
# lab VM it gets this one, which only applies the lease to the guest interface.
LEASE_SCRIPT = """#!/bin/sh
# trunkline lab: apply a DHCP lease inside a lab VM; never touch the machine's /etc
case "$reason" in
  BOUND|RENEW|REBIND|REBOOT)
    if [ -n "$old_ip_address" ] && [ "$old_ip_address" != "$new_ip_address" ]; then
      ip -4 addr flush dev "$interface"
    fi
    ip -4 addr replace "$new_ip_address/$new_subnet_mask" dev "$interface"
    [ -n "$new_interface_mtu" ] && ip link set dev "$interface" mtu "$new_interface_mtu"
    if [ -n "$new_routers" ] && ! ip -4 route show default | grep -q .; then
      set -- $new_routers
      ip -4 route add default via "$1" dev "$interface"
    fi ;;
  EXPIRE|FAIL|RELEASE|STOP)
    [ -n "$old_ip_address" ] && ip -4 addr del "$old_ip_address/$old_subnet_mask" dev "$interface"
    ;;
esac
exit 0
"""


def exec_argv(name, argv, state_dir=None):
    """The command line that runs ARGV inside VM NAME (dhclient gets the lab's lease script and
    lease/pid files under the lab state directory)."""
    vm = _vm_or_fail(name, state_dir)
    if vm.get("kind") == "qemu":
        raise LabError("VM %s is a QEMU guest: use exec_vm" % name)
    argv = list(argv)
    if argv and os.path.basename(argv[0]) == "dhclient":
        argv = [argv[0]] + _dhclient_options(vm, argv[1:], state_dir) + argv[1:]
    return ["ip", "netns", "exec", vm["vm_netns"]] + argv


def _dhclient_options(vm, args, state_dir):
    vm_dir = os.path.join(LabState(state_dir).dir, "vms", vm["name"])
    os.makedirs(vm_dir, exist_ok=True)
    script = os.path.join(vm_dir, "lease-script")
    with open(script, "w") as f:
        f.write(LEASE_SCRIPT)
    os.chmod(script, 0o755)
    tag = "_".join(a for a in args if not a.startswith("-")) or "all"
    return ["-sf", script, "-lf", os.path.join(vm_dir, "dhclient.%s.leases" % tag),
            "-pf", os.path.join(vm_dir, "dhclient.%s.pid" % tag)]


def exec_vm(name, argv, state_dir=None, **kwargs):
    """Run ARGV inside VM NAME (``subprocess.run`` keyword arguments pass through; for a QEMU
    guest only ``timeout``, ``capture_output`` and ``text`` apply, stderr is merged)."""
    vm = _vm_or_fail(name, state_dir)
    if vm.get("kind") != "qemu":
        return subprocess.run(exec_argv(name, argv, state_dir), **kwargs)
    try:
        rc, out = qemu.exec_guest(vm, list(argv), timeout=kwargs.get("timeout") or 60)
    except qemu.QemuError as e:
        raise LabError(str(e))
    if not kwargs.get("capture_output"):
        sys.stdout.write(out)
        sys.stdout.flush()
        return subprocess.CompletedProcess(argv, rc)
    return subprocess.CompletedProcess(argv, rc, out if kwargs.get("text") else out.encode(),
                                       "" if kwargs.get("text") else b"")


def add_vm_vlan(name, vid, link="eth0", vlan_name=None, mac=None, state_dir=None):
    """Create guest VLAN device ``<link>.<vid>`` (or VLAN_NAME) in VM NAME."""
    vm = _vm_or_fail(name, state_dir)
    vlan_name = vlan_name or "%s.%d" % (link, int(vid))
    if vm.get("kind") == "qemu":        # a real kernel: the seed's own commands
        cmds = [["ip", "link", "set", link, "up"],
                ["ip", "link", "add", "link", link, "name", vlan_name, "type", "vlan",
                 "id", str(int(vid))]]
        if mac:
            cmds.append(["ip", "link", "set", vlan_name, "address", mac])
        cmds.append(["ip", "link", "set", vlan_name, "up"])
        for argv in cmds:
            r = exec_vm(name, argv, state_dir, capture_output=True, text=True, timeout=30)
            if r.returncode:
                raise LabError("%s: %s" % (" ".join(argv), r.stdout.strip()))
        return {"name": vlan_name, "link": link, "vid": int(vid), "mode": "8021q"}
    mode = vlan_mod.add_vlan(vm["vm_netns"], link, vlan_name, vid, mac=mac)
    return {"name": vlan_name, "link": link, "vid": int(vid), "mode": mode}


def list_vms(state_dir=None):
    """The lab VMs with their VLAN devices and whether their namespace still exists."""
    out = []
    for name, vm in sorted(LabState(state_dir).vms().items()):
        vm = dict(vm)
        if vm.get("kind") == "qemu":
            vm["present"], vm["vlans"] = qemu.alive(vm), []
            out.append(vm)
            continue
        vm["present"] = netns_exists(vm["vm_netns"])
        vm["vlans"] = vlan_mod.list_vlans(vm["vm_netns"]) if vm["present"] else []
        out.append(vm)
    return out
