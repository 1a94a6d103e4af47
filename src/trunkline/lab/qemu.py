"""Lab VMs with a real guest kernel: QEMU guests booted from Debian's own packages.

The kernel is Debian's ``linux-image-amd64`` (resolved to its versioned package, fetched with
``apt-get download`` and unpacked with ``dpkg -x`` into a trunkline-owned cache, never installed
on the machine); only ``vmlinuz`` and the few modules the guest needs are kept.  The initramfs is
built here: ``busybox-static``, the host's iproute2 ``ip`` and iputils ``ping`` with their shared
libraries (so the seed's commands run verbatim), the virtio NIC and 8021q modules with their
dependencies in load order, and an ``/init`` that insmods them and serves a shell on a
virtio-serial port.

Exec protocol (``exec_guest``): the guest runs ``cat PORT | sh >PORT`` on the virtio-serial port
``trunkline.shell``, which QEMU connects to a pair of FIFOs (``serial.in``/``serial.out``, a
``pipe`` chardev: no connection state, so one CLI process after another can talk to it; the
8250 UART dropped input after a client reconnected).  A request is
``\\n echo BEGIN ; ( CMD ) </dev/null 2>&1 ; echo "END $?"\\n`` with a fresh nonce in both markers;
the reply is everything between the BEGIN and END lines, and the exit status follows END.  The
leading newline flushes a partial line left by an interrupted request, BEGIN skips its output.
Kernel messages go to the first serial port, a log file.
"""
import fcntl
import gzip
import io
import os
import re
import shlex
import select
import shutil
import signal
import subprocess
import tempfile
import time
import uuid

from trunkline import names

DEFAULT_CACHE = "/var/cache/trunkline/qemu"
KERNEL_PACKAGE = "linux-image-amd64"
# what the guest needs beyond the built-in drivers (dependencies are found in the modules)
GUEST_MODULES = ("virtio_pci", "virtio_net", "virtio_console", "8021q")
HOST_BINARIES = ("/usr/sbin/ip", "/usr/bin/ping")      # verbatim iproute2 / iputils in the guest
BOOT_TIMEOUT = 300          # TCG boots in ~10-20 s on an idle machine; much longer under load
KVM_BOOT_TIMEOUT = 60       # a KVM guest is up in seconds; silence means KVM does not work


class QemuError(RuntimeError):
    pass


def _run(argv, **kw):
    r = subprocess.run(argv, capture_output=True, text=True, **kw)
    if r.returncode:
        raise QemuError("%s: %s" % (" ".join(argv), (r.stderr or r.stdout).strip()[-500:]))
    return r.stdout


def cache_dir():
    return os.environ.get("TRUNKLINE_QEMU_CACHE") or DEFAULT_CACHE


# --- the kernel ------------------------------------------------------------------------------

def kernel_package():
    """The versioned package ``linux-image-amd64`` depends on (``linux-image-6.1.0-N-amd64``)."""
    out = _run(["apt-cache", "depends", KERNEL_PACKAGE])
    m = re.search(r"Depends:\s*(linux-image-\S+)", out)
    if not m:
        raise QemuError("apt-cache depends %s names no kernel package" % KERNEL_PACKAGE)
    return m.group(1)


def fetch_kernel(cache=None):
    """Download and unpack the kernel once; returns the directory holding ``vmlinuz``,
    ``modules/`` and ``release``.  Idempotent."""
    cache = cache or cache_dir()
    current = os.path.join(cache, "kernel")
    if os.path.exists(os.path.join(current, "vmlinuz")):
        return current
    os.makedirs(cache, exist_ok=True)
    work = tempfile.mkdtemp(prefix="kernel-", dir=cache)
    try:
        pkg = kernel_package()
        # apt's sandbox user cannot write here: download as root, quietly
        _run(["apt-get", "download", "-o", "APT::Sandbox::User=root", pkg], cwd=work)
        debs = [f for f in os.listdir(work) if f.endswith(".deb")]
        _run(["dpkg", "-x", os.path.join(work, debs[0]), os.path.join(work, "root")])
        mods = os.path.join(work, "root", "lib", "modules")
        release = os.listdir(mods)[0]
        kdir = os.path.join(mods, release)
        out = os.path.join(work, "kernel")
        os.makedirs(os.path.join(out, "modules"))
        shutil.copy(os.path.join(work, "root", "boot", "vmlinuz-" + release),
                    os.path.join(out, "vmlinuz"))
        order = module_order(kdir, GUEST_MODULES)
        for path in order:
            shutil.copy(path, os.path.join(out, "modules", os.path.basename(path)))
        with open(os.path.join(out, "modules", "order"), "w") as f:
            f.write("".join(os.path.basename(p) + "\n" for p in order))
        with open(os.path.join(out, "release"), "w") as f:
            f.write(release + "\n")
        os.rename(out, current)
        return current
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _modname(path_or_name):
    return os.path.basename(path_or_name).split(".ko")[0].replace("-", "_")


def module_order(kdir, wanted):
    """Paths of WANTED's loadable modules and their dependencies, dependencies first
    (``depends=`` of each module's .modinfo); built-in ones are skipped."""
    index = {}
    for root, _dirs, files in os.walk(os.path.join(kdir, "kernel")):
        for f in files:
            if f.endswith(".ko"):
                index[_modname(f)] = os.path.join(root, f)
    with open(os.path.join(kdir, "modules.builtin")) as f:
        builtin = {_modname(line.strip()) for line in f if line.strip()}
    order, seen = [], set()

    def visit(name):
        name = _modname(name)
        if name in seen or name in builtin:
            return
        seen.add(name)
        if name not in index:
            raise QemuError("module %s is neither built in nor in the kernel package" % name)
        with open(index[name], "rb") as f:
            m = re.search(rb"(?:^|\0)depends=([^\0]*)\0", f.read())
        for dep in (m.group(1).decode().split(",") if m and m.group(1) else []):
            visit(dep)
        order.append(index[name])

    for name in wanted:
        visit(name)
    return order


# --- the initramfs ---------------------------------------------------------------------------

INIT = r"""#!/bin/busybox sh
/bin/busybox mkdir -p /proc /sys /dev /tmp /run /var/run /sbin /usr/bin /usr/sbin
/bin/busybox --install -s /bin
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for m in $(cat /lib/modules/order); do insmod /lib/modules/$m || echo "insmod $m failed"; done
ip link set lo up
echo "trunkline guest: $(uname -r)"
# the shell channel: the virtio-serial port QEMU names trunkline.shell
port=
while [ -z "$port" ]; do
  for f in /sys/class/virtio-ports/*/name; do
    [ "$(cat $f 2>/dev/null)" = trunkline.shell ] && port=/dev/$(basename $(dirname $f))
  done
  [ -n "$port" ] || sleep 0.2
done
echo "shell on $port"
exec 3<>$port          # a virtio port opens once: reader and writer share this descriptor
while true; do
  # this ash prefers its applets to PATH: the real ip/ping (if packed) become functions
  { for b in /usr/sbin/ip /usr/bin/ping; do
      [ -x $b ] && echo "${b##*/}() { $b \"\$@\"; }"; done
    cat <&3; } | sh >&3 2>/dev/console
  sleep 1
done
"""

# busybox udhcpc's hook: apply the lease to the interface only (no /etc/resolv.conf)
UDHCPC_SCRIPT = r"""#!/bin/sh
case "$1" in
  deconfig) ip -4 addr flush dev "$interface"; ip link set "$interface" up ;;
  bound|renew)
    ip -4 addr flush dev "$interface"
    ip -4 addr add "$ip/$mask" dev "$interface"
    [ -n "$mtu" ] && ip link set dev "$interface" mtu "$mtu"
    if [ -n "$router" ] && ! ip -4 route show default | grep -q .; then
      set -- $router; ip -4 route add default via "$1" dev "$interface"
    fi ;;
esac
exit 0
"""

# `dhclient [-1] [-v] IFACE...` as the seed types it, served by busybox udhcpc
DHCLIENT = r"""#!/bin/sh
rc=0
for a in "$@"; do
  case "$a" in -*) ;; *) udhcpc -i "$a" -n -q -t 6 -T 2 -s /etc/udhcpc.script || rc=1 ;; esac
done
exit $rc
"""


def _libs(binary):
    """The shared libraries BINARY loads (ldd), the loader included."""
    out = _run(["ldd", binary])
    return sorted(set(re.findall(r"(/\S+\.so[.\d]*)", out)))


def _cpio_newc(entries):
    """A newc cpio archive of ENTRIES: (name, mode, data bytes or symlink target)."""
    buf = io.BytesIO()
    for ino, (name, mode, data) in enumerate(entries + [("TRAILER!!!", 0, b"")], 1):
        data = data.encode() if isinstance(data, str) else data
        nameb = name.encode() + b"\0"
        fields = (ino, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(nameb), 0)
        buf.write(b"070701" + b"".join(b"%08X" % v for v in fields) + nameb)
        buf.write(b"\0" * (-(110 + len(nameb)) % 4) + data + b"\0" * (-len(data) % 4))
    return buf.getvalue()


def build_initramfs(kernel, busybox="/bin/busybox"):
    """Write ``initramfs.gz`` next to the kernel (once) and return its path."""
    path = os.path.join(kernel, "initramfs.gz")
    if os.path.exists(path):
        return path
    if not os.path.exists(busybox):
        raise QemuError("%s missing: apt-get install busybox-static" % busybox)
    dirs, files = set(), []

    def add(name, mode, data):
        parts = name.split("/")
        for i in range(1, len(parts)):
            dirs.add("/".join(parts[:i]))
        files.append((name, mode, data))

    def read(p):
        with open(p, "rb") as f:
            return f.read()

    add("init", 0o100755, INIT)
    add("bin/busybox", 0o100755, read(busybox))
    add("bin/sh", 0o120777, "busybox")
    add("etc/udhcpc.script", 0o100755, UDHCPC_SCRIPT)
    add("usr/sbin/dhclient", 0o100755, DHCLIENT)
    mods = os.path.join(kernel, "modules")
    for f in sorted(os.listdir(mods)):
        add("lib/modules/" + f, 0o100644, read(os.path.join(mods, f)))
    libs = set()
    for b in HOST_BINARIES:
        if os.path.exists(b):
            add(b.lstrip("/"), 0o100755, read(b))
            libs.update(_libs(b))
    for lib in sorted(libs):
        add(lib.lstrip("/"), 0o100755, read(os.path.realpath(lib)))
    entries = [(d, 0o40755, b"") for d in sorted(dirs)] + files
    tmp = path + ".tmp"
    with gzip.open(tmp, "wb", compresslevel=6) as f:
        f.write(_cpio_newc(entries))
    os.replace(tmp, path)
    return path


def prepare(cache=None):
    """(vmlinuz, initramfs) ready to boot, fetching/building what is missing."""
    kernel = fetch_kernel(cache)
    return os.path.join(kernel, "vmlinuz"), build_initramfs(kernel)


# --- the VM ----------------------------------------------------------------------------------

def accel():
    """``$TRUNKLINE_QEMU_ACCEL``, else ``kvm`` when /dev/kvm is a usable Intel/AMD KVM, else
    ``tcg``.  A PVM host's /dev/kvm (``kvm_pvm``) only runs PVM guests: stock kernels abort
    (``-cpu host``) or hang there, so it counts as no KVM."""
    forced = os.environ.get("TRUNKLINE_QEMU_ACCEL")
    if forced:
        return forced
    if (os.access("/dev/kvm", os.R_OK | os.W_OK) and not os.path.exists("/sys/module/kvm_pvm")
            and any(os.path.exists("/sys/module/" + m) for m in ("kvm_intel", "kvm_amd"))):
        return "kvm"
    return "tcg"


def accel_forced():
    return bool(os.environ.get("TRUNKLINE_QEMU_ACCEL"))


def tap_mac(mac):
    """The host end's MAC, as libvirt sets it: the guest MAC with its first byte 0xfe."""
    return "fe" + mac[2:]


def boot(vm, run_dir, netns=None, memory=256, accelerator=None):
    """Start QEMU for VM (its ``tap``, ``mac``, ``mtu``, ``datapath_type``) with its files in
    RUN_DIR, inside NETNS (where the tap is), with ACCELERATOR (default :func:`accel`).
    Returns QEMU's PID once it has daemonized."""
    accelerator = accelerator or accel()
    vmlinuz, initrd = prepare()
    os.makedirs(run_dir, exist_ok=True)
    fifo, pidfile = os.path.join(run_dir, "serial"), os.path.join(run_dir, "qemu.pid")
    for end in (".in", ".out"):
        if not os.path.exists(fifo + end):
            os.mkfifo(fifo + end, 0o600)
    nic = "virtio-net-pci,netdev=n0,mac=%s,host_mtu=%d" % (vm["mac"], vm["mtu"])
    if vm.get("datapath_type") == "netdev":
        # OVS userspace forwards CHECKSUM_PARTIAL frames unfinished: the guest checksums
        nic += ",csum=off,guest_csum=off"
    argv = ["qemu-system-x86_64", "-name", "trunkline-" + vm["name"],
            "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
            "-accel", accelerator, "-m", str(memory), "-smp", "1",
            "-kernel", vmlinuz, "-initrd", initrd,
            "-append", "console=ttyS0 rdinit=/init panic=-1 quiet loglevel=3",
            "-serial", "file:" + os.path.join(run_dir, "console.log"),
            "-chardev", "pipe,id=sh,path=" + fifo,
            "-device", "virtio-serial-pci",
            "-device", "virtserialport,chardev=sh,name=trunkline.shell",
            "-netdev", "%s,id=n0,ifname=%s,script=no,downscript=no"
            % (names.TUNTAP_MODE, vm["tap"]),
            "-device", nic,
            "-uuid", vm["vm_uuid"], "-daemonize", "-pidfile", pidfile]
    if accelerator == "kvm":
        argv[argv.index("-m"):argv.index("-m")] = ["-cpu", "host"]
    if netns:
        argv = ["ip", "netns", "exec", netns] + argv
    _run(argv, timeout=60)
    with open(pidfile) as f:
        return int(f.read().strip())


def alive(vm):
    pid = vm.get("qemu_pid")
    if not pid:
        return False
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            cmd = f.read()
    except OSError:
        return False
    return b"qemu-system" in cmd and vm["vm_uuid"].encode() in cmd   # not a reused PID


def stop(vm, timeout=10):
    """End VM's QEMU (by its recorded PID, checked to still be that QEMU)."""
    if not alive(vm):
        return
    pid = vm["qemu_pid"]
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while alive(vm) and time.monotonic() < deadline:
        time.sleep(0.1)
    if alive(vm):
        os.kill(pid, signal.SIGKILL)
        while alive(vm):
            time.sleep(0.05)


def console(vm, tail=2000):
    try:
        with open(os.path.join(vm["run_dir"], "console.log"), errors="replace") as f:
            return f.read()[-tail:]
    except OSError:
        return ""


def exec_guest(vm, argv, timeout=60):
    """Run ARGV (a list, or a shell string) in the guest; returns (exit status, output with
    stderr merged).  Raises QemuError on timeout or when the guest is gone."""
    cmd = argv if isinstance(argv, str) else " ".join(shlex.quote(a) for a in argv)
    nonce = uuid.uuid4().hex[:12]
    begin, end = "__tl_begin_" + nonce, "__tl_end_" + nonce
    request = "\necho %s; ( %s ) </dev/null 2>&1; echo \"%s $?\"\n" % (begin, cmd, end)
    fifo = os.path.join(vm["run_dir"], "serial")
    if not alive(vm):
        raise QemuError("VM %s is not running" % vm["name"])
    with open(os.path.join(vm["run_dir"], "exec.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)        # one request at a time on the serial line
        # QEMU holds both FIFOs open read-write: these opens never block
        rfd = os.open(fifo + ".out", os.O_RDONLY | os.O_NONBLOCK)
        try:
            wfd = os.open(fifo + ".in", os.O_WRONLY | os.O_NONBLOCK)
            try:
                os.write(wfd, request.encode())
            finally:
                os.close(wfd)
            deadline = time.monotonic() + timeout
            data, started = b"", None
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise QemuError("VM %s: no answer in %ss to %s" % (vm["name"], timeout, cmd))
                ready, _, _ = select.select([rfd], [], [], min(left, 1.0))
                if not ready:
                    if not alive(vm):
                        raise QemuError("VM %s: QEMU exited" % vm["name"])
                    continue
                data += os.read(rfd, 65536)
                text = data.decode(errors="replace").replace("\r", "")
                if started is None:
                    i = text.find(begin + "\n")
                    if i < 0:
                        continue
                    started = i + len(begin) + 1
                rest = text[started:]
                m = re.search(r"%s (\d+)\n" % end, rest)
                if m:
                    return int(m.group(1)), rest[:m.start()]
        finally:
            os.close(rfd)


def wait_ready(vm, timeout=BOOT_TIMEOUT):
    """Block until the guest's shell answers; raises QemuError (with the console's tail) when
    QEMU dies or the guest does not answer in TIMEOUT seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive(vm):
            raise QemuError("QEMU for VM %s exited:\n%s" % (vm["name"], console(vm)))
        try:
            rc, _ = exec_guest(vm, "true", timeout=3)
            if rc == 0:
                return
        except QemuError:
            pass
        time.sleep(0.5)
    raise QemuError("VM %s did not come up in %ss:\n%s" % (vm["name"], timeout, console(vm)))
