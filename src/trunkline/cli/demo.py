"""``trunkline demo``: the seed's walkthrough end to end with real packets, printed step by step.

It brings up an isolated stack (a private server on a free 127.0.0.1 port with a temporary
SQLite database, a private Open vSwitch in a namespace of its own, an agent with DHCP), runs the
seed's ``openstack`` commands verbatim, plugs trunk-vm1 the way Nova would, gives the guest
``eth0.1``/``eth0.2``, leases addresses with ``dhclient`` and pings the DHCP port over VLAN 1
while tcpdump watches the VM's tap. Everything is removed at the end, also on failure.
With ``--qemu`` trunk-vm1 is a real guest kernel under QEMU (``lab vm create --qemu``) and its
VLAN devices are made with the seed's ``ip link`` commands inside the guest.
"""
import contextlib
import io
import json
import logging
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

from trunkline import constants as c
from trunkline import names
from trunkline.stack import Stack

SEED_STEPS = [
    ("1. networks net0, net1, net2 and their subnets", [
        "openstack network create net0",
        "openstack network create net1",
        "openstack network create net2",
        "openstack subnet create --network net0 --subnet-range 10.0.4.0/24 subnet0",
        "openstack subnet create --network net1 --subnet-range 10.0.5.0/24 subnet1",
        "openstack subnet create --network net2 --subnet-range 10.0.6.0/24 subnet2",
    ]),
    ("2. the parent port on net0, subport1 on net1, subport2 on net2", [
        "openstack port create --network net0 trunkparent -c id -c mac_address -c fixed_ips",
        "openstack port create --network net1 subport1 -c id -c mac_address -c fixed_ips",
        "openstack port create --network net2 subport2 -c id -c mac_address -c fixed_ips",
    ]),
    ("3. mytrunk: trunkparent carries subport1 on VLAN 1 and subport2 on VLAN 2", [
        "openstack network trunk create --parent-port trunkparent "
        "--subport port=subport1,segmentation-type=vlan,segmentation-id=1 "
        "--subport port=subport2,segmentation-type=vlan,segmentation-id=2 mytrunk",
    ]),
    ("4. the trunk and its subports", [
        "openstack network trunk list",
        "openstack network subport list --trunk mytrunk",
    ]),
]


def _preload_openstackclient():
    try:
        import openstackclient.shell  # noqa: F401
    except ImportError:
        pass        # reported by the first openstack step


class Demo:
    def __init__(self, state_dir, use_qemu=False):
        self.state = state_dir
        self.use_qemu = use_qemu
        self.stack = Stack(os.path.join(state_dir, "stack"), isolated=True,
                           log=lambda line: print("  " + line, flush=True))
        self.env = None
        self.bin = os.path.dirname(sys.executable)

    # -- running commands, printed like the seed -------------------------------------------------

    def sh(self, cmd, check=True, timeout=60, show=True):
        """Print CMD as the seed shows it, run it, print its output. `openstack` and `trunkline
        lab` commands run in this process (the same code the CLIs run, output captured and
        printed alike): a CLI process start would otherwise be most of the demo's time."""
        print("\n$ " + cmd, flush=True)
        argv = shlex.split(cmd)
        if argv[0] == "openstack":
            rc, out, err = self._in_process(self._openstack_main, argv[1:])
        elif argv[:2] == ["trunkline", "lab"]:
            at = 4 if argv[2] == "vm" else 3   # the lab options belong to the leaf command
            argv[at:at] = ["--endpoint", self.stack.url, "--state-dir", self.lab_dir]
            if argv[2:4] == ["vm", "exec"]:
                # what `trunkline lab vm exec NAME -- CMD` runs, without the CLI start
                from trunkline.lab import vm
                rest = argv[argv.index("--") + 1:]
                r = vm.exec_vm(argv[at + 4], rest, state_dir=self.lab_dir, env=self.env,
                               text=True, capture_output=True, timeout=timeout)
                rc, out, err = r.returncode, r.stdout, r.stderr
            else:
                from trunkline.cli.lab import run as lab_main
                rc, out, err = self._in_process(lab_main, argv[1:])
        else:
            r = subprocess.run(argv, env=self.env, text=True, capture_output=True,
                               timeout=timeout)
            rc, out, err = r.returncode, r.stdout, r.stderr
        if show:
            sys.stdout.write(out)
        if check and rc != 0:
            sys.stdout.write(err)
            raise RuntimeError("step failed: %s" % cmd)
        return out

    @staticmethod
    def _in_process(main, argv):
        out, err = io.StringIO(), io.StringIO()
        # the CLI configures logging for itself (osc_lib: root logger at DEBUG with its own
        # handlers): give it a clean root logger and put ours back afterwards
        root = logging.getLogger()
        saved = root.level, list(root.handlers)
        for h in saved[1]:
            root.removeHandler(h)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                rc = main(argv)
            except SystemExit as e:
                rc = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
            except Exception as e:      # a CLI crash is a failed step, with its message
                print("%s: %s" % (type(e).__name__, e), file=sys.stderr)
                rc = 1
            finally:
                for h in list(root.handlers):
                    root.removeHandler(h)
                for h in saved[1]:
                    root.addHandler(h)
                root.setLevel(saved[0])
        return rc or 0, out.getvalue(), err.getvalue()

    def _openstack_main(self, argv):
        """python-openstackclient's own entry point, run in this process against the stack
        (OS_AUTH_TYPE=none, OS_ENDPOINT as exported above)."""
        saved = dict(os.environ)
        os.environ.clear()
        os.environ.update(self.env)
        try:
            try:
                from openstackclient import shell
            except ImportError:
                raise RuntimeError("the openstack CLI is missing: run `make install`") from None
            return shell.main(list(argv))
        finally:
            os.environ.clear()
            os.environ.update(saved)

    def api(self, path):
        with urllib.request.urlopen(self.stack.url + "/v2.0" + path, timeout=10) as r:
            return json.loads(r.read())

    @property
    def lab_dir(self):
        return os.path.join(self.state, "lab")

    def wait_for(self, what, probe, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = probe()
            if value:
                return value
            time.sleep(0.1)
        raise RuntimeError("timed out waiting for " + what)

    # -- the walkthrough -----------------------------------------------------------------------

    def run(self):
        print("=== 0. an isolated stack: server, Open vSwitch, agent with DHCP", flush=True)
        # the openstack CLI's modules load while the stack starts (the import is slow)
        preload = threading.Thread(target=_preload_openstackclient, daemon=True)
        preload.start()
        self.stack.start()
        preload.join()
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
        self.env.update(OS_AUTH_TYPE="none", OS_ENDPOINT=self.stack.url)
        print("  export OS_AUTH_TYPE=none OS_ENDPOINT=%s" % self.stack.url)
        for title, commands in SEED_STEPS:
            print("\n=== " + title, flush=True)
            for cmd in commands:
                self.sh(cmd)

        parent = self.port("trunkparent")
        subs = {n: self.port(n) for n in ("subport1", "subport2")}
        print("\n=== 5. boot trunk-vm1 on trunkparent (Nova + os-vif's part: bind, tbr-, tap)")
        self.sh("trunkline lab vm create trunk-vm1 --port trunkparent"
                + (" --qemu" if self.use_qemu else ""), timeout=400)
        trunk = self.wait_for("mytrunk ACTIVE", lambda: self.active_trunk())
        self.sh("openstack network trunk show mytrunk -c id -c status -c sub_ports")
        print("  trunk bridge tbr-%s, parent patch tpi-/tpt-%s, trunk status %s"
              % (trunk["id"][:10], parent["id"][:11], trunk["status"]))

        print("\n=== 6. inside the VM: eth0.1 and eth0.2 with the subports' MACs")
        if self.use_qemu:       # a real guest kernel: the seed's commands verbatim
            self.sh("trunkline lab vm exec trunk-vm1 -- ip link set eth0 up")
        for vid, name in ((1, "subport1"), (2, "subport2")):
            mac = subs[name]["mac_address"]
            if self.use_qemu:
                self.sh("trunkline lab vm exec trunk-vm1 -- ip link add link eth0 name eth0.%d "
                        "type vlan id %d" % (vid, vid))
                self.sh("trunkline lab vm exec trunk-vm1 -- ip link set eth0.%d address %s"
                        % (vid, mac))
                self.sh("trunkline lab vm exec trunk-vm1 -- ip link set eth0.%d up" % vid)
            else:
                self.sh("trunkline lab vm vlan trunk-vm1 --vid %d --mac %s" % (vid, mac))

        print("\n=== 7. DHCP on eth0, eth0.1 and eth0.2 (dnsmasq in qdhcp-<network id>)")
        for dev in ("eth0", "eth0.1", "eth0.2"):
            self.sh("trunkline lab vm exec trunk-vm1 -- dhclient %s" % dev, timeout=60)
        self.sh("trunkline lab vm exec trunk-vm1 -- ip -4 -br addr show")

        dhcp_ip = self.dhcp_ip("net1")
        print("\n=== 8. ping the DHCP port of net1 over VLAN 1; tcpdump on the VM's tap")
        capture = self.tcpdump(names.tap(parent["id"]))
        self.sh("trunkline lab vm exec trunk-vm1 -- ping -c 3 -I eth0.1 %s" % dhcp_ip)
        lines = capture()
        print("\n$ tcpdump -en -i %s 'icmp or (vlan and icmp)'" % names.tap(parent["id"]))
        print("\n".join(lines))
        if not any("vlan 1," in line for line in lines):
            raise RuntimeError("tcpdump did not show the VLAN 1 frames")
        print("\n=== 9. clean up")
        self.sh("trunkline lab down")
        self.sh("openstack network trunk delete mytrunk")
        self.sh("openstack port delete trunkparent subport1 subport2")
        self.sh("openstack network delete net0 net1 net2")

    def port(self, name):
        return self.api("/ports?name=" + name)["ports"][0]

    def active_trunk(self):
        trunk = self.api("/trunks?name=mytrunk")["trunks"][0]
        return trunk if trunk["status"] == c.ACTIVE else None

    def dhcp_ip(self, network):
        net = self.api("/networks?name=" + network)["networks"][0]
        ports = self.api("/ports?device_owner=network:dhcp&network_id=" + net["id"])["ports"]
        return ports[0]["fixed_ips"][0]["ip_address"]

    def tcpdump(self, dev):
        """Start capturing on DEV (in the stack's switch namespace); returns a function that
        stops and returns the lines."""
        argv = ["ip", "netns", "exec", self.stack.netns, "tcpdump", "-l", "-en", "-c", "6",
                "-i", dev, "icmp or (vlan and icmp)"]
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        lines = []
        reader = threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True)
        reader.start()
        listening = threading.Event()

        def watch_stderr():     # tcpdump says "listening on" once its socket is attached
            for line in proc.stderr:
                if "listening on" in line:
                    listening.set()
            listening.set()
        threading.Thread(target=watch_stderr, daemon=True).start()
        listening.wait(3)

        def stop():
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.terminate()
                proc.wait()
            reader.join(2)
            return [line.rstrip() for line in lines]
        return stop


def run(keep=False, use_qemu=False):
    state = tempfile.mkdtemp(prefix="trunkline-demo-")
    os.chmod(state, 0o755)   # dnsmasq (user nobody) reads the agent's files below it
    demo = Demo(state, use_qemu=use_qemu)
    started = time.monotonic()
    ok = False
    try:
        demo.run()
        ok = True
        print("\nThe seed walkthrough ran end to end in %.1f s." % (time.monotonic() - started))
        return 0
    except (RuntimeError, subprocess.TimeoutExpired) as e:
        print("\ndemo failed: %s (logs in %s)" % (e, state), file=sys.stderr)
        return 1
    finally:
        if demo.env is not None and not ok:
            subprocess.run([os.path.join(demo.bin, "trunkline"), "lab", "down", "--state-dir",
                            demo.lab_dir], capture_output=True)
        demo.stack.stop()
        if keep or not ok:
            print("state kept in %s" % state)
        else:
            shutil.rmtree(state, ignore_errors=True)
