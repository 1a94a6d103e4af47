"""Per-network DHCP service, as Neutron's DHCP agent with veth interfaces (ovs_use_veth):

- namespace `qdhcp-<net id>` (plus a suffix when several agents share one kernel), veth `tap<port id[:11]>` (stays with the switch: in the agent's
  `netns` when given, where ovs-vswitchd runs) / `ns-<port id[:11]>` (moved into the qdhcp
  namespace, port MAC, its IPs, network MTU, `ethtool -K … tx off` on the netdev datapath, whose userspace forwarding
  would leave a checksum unfinished);
- dnsmasq with Neutron's command line (`--bind-dynamic --local-service`, one static
  `--dhcp-range` per DHCP-enabled subnet, `option:mtu`), files under `<state dir>/dhcp/<net id>/`
  (ports' extra DHCP options as `set:port-<id>` tags in `host` and lines in `opts`)
  rewritten atomically + SIGHUP on change (same pid); a restart only when the command line changes
  (subnets, MTU, port) or the hosts file sets tags (ports with extra DHCP options: dnsmasq
  2.86-2.90 crashes re-reading those);
- everything removed when the network is no longer in the desired DHCP section.

`reconcile()` returns the taps to plug on br-int ({"name", "iface_id", "mac", "network_id"}; a
network whose DHCP failed keeps its tap and is named in ``errors``, which the agent reports as a
failed pass); the
OVS wiring puts them into its single transaction.
"""
import ipaddress
import logging
import os
import shutil
import signal
import time

from trunkline import names
from trunkline.agent import netns as nsutil
from trunkline.agent.dhcp import files

LOG = logging.getLogger(__name__)


def _proc_cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read().split(b"\0")[:-1]
    except OSError:
        return None


def _has_tags(path):
    try:
        with open(path) as f:
            return ",set:" in f.read()
    except FileNotFoundError:
        return False


def _alive(pid):
    """False once the process is gone or a zombie: a daemonised dnsmasq's parent is PID 1,
    which may reap it only seconds later (an exited zombie has an empty cmdline)."""
    return bool(_proc_cmdline(pid))


class DhcpManager:
    def __init__(self, state_dir, netns=None, datapath_type="netdev", log=False,
                 namespace_suffix=""):
        # dnsmasq drops root: the state dir must be traversable by `nobody` (not a 0700 dir)
        self.root = os.path.join(os.path.abspath(state_dir), "dhcp")
        self.netns = netns                   # where the switch (and the tap ends) live
        self.datapath_type = datapath_type
        self.log = log                       # --log-dhcp into <conf>/dhcp_dns_log
        # Neutron's name is qdhcp-<net id>, one DHCP agent per machine; several agents on one
        # kernel (lab hosts) serving the same network need their own namespaces
        self.namespace_suffix = namespace_suffix
        self.errors = {}                     # net id -> why the last pass failed for it
        os.makedirs(self.root, exist_ok=True)

    # -- paths / process -------------------------------------------------------
    def namespace(self, net_id):
        return names.dhcp_namespace(net_id, self.namespace_suffix)

    def confdir(self, net_id):
        return os.path.join(self.root, net_id)

    def pid(self, net_id):
        """The running dnsmasq of net_id (pid file + /proc check), or None."""
        try:
            with open(os.path.join(self.confdir(net_id), "pid")) as f:
                pid = int(f.read().strip())
        except (OSError, ValueError):
            return None
        cmd = _proc_cmdline(pid)
        if not cmd or not cmd[0].endswith(b"dnsmasq") or \
                ("--pid-file=%s/pid" % self.confdir(net_id)).encode() not in cmd:
            return None
        return pid

    def managed_networks(self):
        try:
            return sorted(d for d in os.listdir(self.root)
                          if os.path.isdir(os.path.join(self.root, d)))
        except FileNotFoundError:
            return []

    # -- the pass --------------------------------------------------------------
    def reconcile(self, dhcp, dhcp_ports):
        """dhcp: the desired state's `dhcp` section; dhcp_ports: {net id: DHCP port dict}
        (from POST /agent/v1/dhcp-port). Returns the plugs for the OVS wiring."""
        plugs = []
        wanted = set()
        self.errors = {}
        for net_id, entry in sorted((dhcp or {}).items()):
            subnets = files.dhcp_subnets(entry.get("subnets") or [])
            port = (dhcp_ports or {}).get(net_id)
            if not subnets or not port:
                continue
            wanted.add(net_id)
            plug = {"name": names.tap(port["id"]), "iface_id": port["id"],
                    "mac": port["mac_address"], "network_id": net_id}
            try:
                self._network(net_id, entry, subnets, port)
            except Exception as e:      # keep the OVS port; the next pass retries
                LOG.exception("DHCP for network %s failed", net_id)
                self.errors[net_id] = "%s: %s" % (type(e).__name__, e)
            plugs.append(plug)
        for net_id in self.managed_networks():
            if net_id not in wanted:
                self.teardown(net_id)
        return plugs

    def _network(self, net_id, entry, subnets, port):
        net = entry.get("network") or {}
        mtu = int(net.get("mtu") or 0)
        ns = self.namespace(net_id)
        tap, dev = names.tap(port["id"]), names.dhcp_ns_device(port["id"])
        conf = self.confdir(net_id)
        os.makedirs(conf, exist_ok=True)
        os.chmod(conf, 0o755)       # dnsmasq re-reads its files as `nobody` after SIGHUP
        nsutil.add(ns)

        cidrs = {}
        for s in subnets:
            cidrs[s["id"]] = ipaddress.ip_network(s["cidr"], strict=False).prefixlen
        want_addrs = sorted("%s/%d" % (f["ip_address"], cidrs[f["subnet_id"]])
                            for f in port.get("fixed_ips") or [] if f.get("subnet_id") in cidrs)
        inside = nsutil.links(ns)
        if dev not in inside:
            # stale devices of an older DHCP port go with their own names
            for name in inside:
                if name.startswith(names.DHCP_NS_DEVICE_PREFIX):
                    nsutil.ip(["link", "del", name], netns=ns, check=False)
            nsutil.ip(["link", "del", tap], netns=self.netns, check=False)
            mtu_args = ["mtu", str(mtu)] if mtu else []
            nsutil.ip(["link", "add", tap] + mtu_args + ["type", "veth", "peer", "name", dev]
                      + mtu_args + ["netns", ns], netns=self.netns)
            nsutil.ip_batch(["link set %s address %s" % (dev, port["mac_address"]),
                             "link set %s up" % dev], netns=ns)
            if self.datapath_type == "netdev":
                nsutil.run(["ethtool", "-K", dev, "tx", "off"], netns=ns, check=False)
            nsutil.ip(["link", "set", tap, "up"], netns=self.netns)
            have_addrs = []
        else:
            have_addrs = sorted(nsutil.addresses(dev, ns))
            if mtu and inside[dev].get("mtu") != mtu:
                nsutil.ip(["link", "set", dev, "mtu", str(mtu)], netns=ns)
                nsutil.ip(["link", "set", tap, "mtu", str(mtu)], netns=self.netns, check=False)
        if have_addrs != want_addrs:
            lines = ["addr del %s dev %s" % (a, dev) for a in have_addrs if a not in want_addrs]
            lines += ["addr add %s dev %s" % (a, dev) for a in want_addrs if a not in have_addrs]
            nsutil.ip_batch(lines, netns=ns)

        ports = entry.get("ports") or []
        if not any(p["id"] == port["id"] for p in ports):
            ports = ports + [port]
        hosts = files.host_lines(ports, subnets)
        tagged = _has_tags(os.path.join(conf, "host")) or any(",set:" in h for h in hosts)
        changed = files.write_if_changed(os.path.join(conf, "host"), hosts)
        changed |= files.write_if_changed(os.path.join(conf, "addn_hosts"),
                                          files.addn_hosts_lines(ports, subnets))
        changed |= files.write_if_changed(os.path.join(conf, "opts"),
                                          files.opts_lines(subnets, ports))
        files.write_if_changed(os.path.join(conf, "interface"), [dev])

        argv = self.cmdline(net_id, subnets, mtu)
        pid = self.pid(net_id)
        # dnsmasq 2.86-2.90 segfaults re-reading (SIGHUP) a hosts file whose lines set tags
        # (ports with extra DHCP options) once a client has a lease: restart it instead; the
        # lease file keeps the leases
        if pid and (_proc_cmdline(pid) != [a.encode() for a in argv] or changed and tagged):
            self._kill(pid)
            pid = None
        if pid is None:
            leases = os.path.join(conf, "leases")
            if not os.path.exists(leases):     # first spawn: Neutron's lease bootstrap
                files.write_if_changed(leases, files.lease_lines(ports, subnets))
            nsutil.run(argv, netns=ns)
        elif changed:
            os.kill(pid, signal.SIGHUP)

    def cmdline(self, net_id, subnets, mtu):
        """Neutron's dnsmasq command line (facts C.2)."""
        c = self.confdir(net_id)
        argv = ["dnsmasq", "--no-hosts", "--no-resolv", "--pid-file=%s/pid" % c,
                "--dhcp-hostsfile=%s/host" % c, "--addn-hosts=%s/addn_hosts" % c,
                "--dhcp-optsfile=%s/opts" % c, "--dhcp-leasefile=%s/leases" % c,
                "--dhcp-match=set:ipxe,175", "--dhcp-userclass=set:ipxe6,iPXE",
                "--local-service", "--bind-dynamic"]
        argv += ["--dhcp-range=" + r for r in files.dhcp_ranges(subnets)]
        if mtu:
            argv.append("--dhcp-option-force=option:mtu,%d" % mtu)
        argv += ["--dhcp-lease-max=%d" % files.lease_max(subnets), "--conf-file=/dev/null",
                 "--domain=" + files.DOMAIN]
        if self.log:
            argv += ["--log-queries", "--log-dhcp", "--log-facility=%s/dhcp_dns_log" % c]
        return argv

    def _kill(self, pid, timeout=5.0):
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + timeout
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.02)
        if _alive(pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def teardown(self, net_id):
        """Stop dnsmasq, delete the namespace (the veth pair goes with it), remove the files."""
        pid = self.pid(net_id)
        if pid:
            self._kill(pid)
        nsutil.delete(self.namespace(net_id))
        shutil.rmtree(self.confdir(net_id), ignore_errors=True)

    def teardown_all(self):
        for net_id in self.managed_networks():
            self.teardown(net_id)
