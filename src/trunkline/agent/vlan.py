"""802.1Q VLAN sub-interfaces for lab guests (``eth0.N``) and host-side trunk devices.

``add_vlan(netns, link, name, vid)`` behaves like ``ip link add link LINK name NAME type vlan id
VID``: frames tagged VID arriving on LINK show up untagged on NAME, frames sent on NAME leave
LINK tagged VID.  When the kernel has 8021q (probed once) a real VLAN device is created.
Otherwise (kernels built without CONFIG_VLAN_8021Q) the same behaviour is emulated with
veth + clsact + cls_bpf, stdlib only:

* NAME is one end of a veth pair whose peer (NAME + ``p``) stays hidden in the same namespace;
* rx: a tc ingress program on LINK: ``vlan_present && vid == VID`` -> ``bpf_skb_vlan_pop`` ->
  ``bpf_redirect(NAME, BPF_F_INGRESS)``; anything else falls through (``TC_ACT_UNSPEC``) to the
  next VLAN's filter or the normal stack (so untagged traffic still reaches LINK itself);
* tx: a tc ingress program on the hidden peer: ``bpf_skb_vlan_push(0x8100, VID)`` ->
  ``bpf_redirect(LINK)`` (egress).

The programs (12 and 9 eBPF instructions) are assembled here and loaded with the bpf(2)
syscall through ctypes, pinned in a private bpffs (``/run/trunkline/bpffs`` — not under /sys,
which ``ip netns exec`` remounts), attached with ``tc filter ... bpf da pinned PATH``, and
unpinned right away: the filter holds the only reference, so deleting the filter or the device
frees the program and nothing is left in the bpffs.  The link and VID are recorded in NAME's
``ifalias`` so ``del_vlan(netns, name)`` needs nothing else.

LINK may be any device in any namespace (``netns=None`` = the current one): a guest's eth0 or,
for a Linux-bridge trunk driver, the host-side tap of the trunk parent.
"""
import ctypes
import fcntl
import hashlib
import json
import os
import platform
import struct
import subprocess

BPFFS = os.environ.get("TRUNKLINE_BPFFS", "/run/trunkline/bpffs")
ALIAS_PREFIX = "trunkline-vlan "
RX_PREF_BASE = 100          # tc filter pref on LINK: RX_PREF_BASE + vid (unique per VLAN)

# bpf(2)
_NR_BPF = {"x86_64": 321, "aarch64": 280, "ppc64le": 361, "s390x": 351}
_BPF_PROG_LOAD, _BPF_OBJ_PIN = 5, 6
_BPF_PROG_TYPE_SCHED_CLS = 3
_H_SKB_VLAN_PUSH, _H_SKB_VLAN_POP, _H_REDIRECT = 18, 19, 23
_BPF_F_INGRESS = 1
_SKB_VLAN_PRESENT, _SKB_VLAN_TCI = 20, 24      # offsets in struct __sk_buff
_TC_ACT_UNSPEC = -1

_mode = None                # "8021q" | "bpf", probed once


class VlanError(RuntimeError):
    pass


# --- helpers -------------------------------------------------------------------------------

def _run(argv, check=True):
    r = subprocess.run(argv, capture_output=True, text=True)
    if check and r.returncode:
        raise VlanError("%s: %s" % (" ".join(argv), (r.stderr or r.stdout).strip()))
    return r


def _ip(netns, *args, check=True):
    return _run(["ip"] + (["-n", netns] if netns else []) + list(args), check=check)


def _tc(netns, *args, check=True):
    return _run(["tc"] + (["-n", netns] if netns else []) + list(args), check=check)


def _link_info(netns, dev):
    r = _ip(netns, "-j", "-d", "link", "show", "dev", dev, check=False)
    if r.returncode:
        return None
    return json.loads(r.stdout)[0]


def peer_name(name):
    """The hidden veth peer of an emulated VLAN device (<= 15 characters)."""
    if len(name) <= 14:
        return name + "p"
    return "tlvp" + hashlib.sha1(name.encode()).hexdigest()[:11]


def vlan_mode():
    """``"8021q"`` when the kernel can create VLAN devices, else ``"bpf"`` (probed once;
    ``TRUNKLINE_VLAN_MODE`` forces one)."""
    global _mode
    forced = os.environ.get("TRUNKLINE_VLAN_MODE")
    if forced in ("8021q", "bpf"):
        return forced
    if _mode is None:
        if not os.path.exists("/proc/net/vlan"):
            _run(["modprobe", "-q", "8021q"], check=False) if _which("modprobe") else None
        _mode = "8021q" if os.path.exists("/proc/net/vlan") else "bpf"
    return _mode


def _which(cmd):
    return any(os.access(os.path.join(p, cmd), os.X_OK)
               for p in os.environ.get("PATH", "/usr/sbin:/usr/bin").split(os.pathsep))


# --- eBPF assembly and loading ---------------------------------------------------------------

def _insn(op, dst=0, src=0, off=0, imm=0):
    return struct.pack("<BBhi", op, (src << 4) | dst, off, imm)


def _mov_reg(d, s): return _insn(0xbf, d, s)
def _mov_imm(d, i): return _insn(0xb7, d, 0, 0, i)
def _ldxw(d, s, off): return _insn(0x61, d, s, off)
def _and_imm(d, i): return _insn(0x57, d, 0, 0, i)
def _jeq_imm(d, i, off): return _insn(0x15, d, 0, off, i)
def _jne_imm(d, i, off): return _insn(0x55, d, 0, off, i)
def _call(h): return _insn(0x85, 0, 0, 0, h)
def _exit(): return _insn(0x95)


def prog_rx(vid, target_ifindex):
    """tc ingress on LINK: pop tag VID and redirect to NAME's ingress; else fall through."""
    return b"".join([
        _mov_reg(6, 1),                         # r6 = skb
        _ldxw(2, 6, _SKB_VLAN_PRESENT),
        _jeq_imm(2, 0, 9),                      # no tag -> pass
        _ldxw(2, 6, _SKB_VLAN_TCI),
        _and_imm(2, 0xfff),
        _jne_imm(2, vid, 6),                    # other VLAN -> pass
        _mov_reg(1, 6), _call(_H_SKB_VLAN_POP),
        _mov_imm(1, target_ifindex), _mov_imm(2, _BPF_F_INGRESS), _call(_H_REDIRECT),
        _exit(),                                # r0 = TC_ACT_REDIRECT
        _mov_imm(0, _TC_ACT_UNSPEC), _exit(),   # pass
    ])


def prog_tx(vid, link_ifindex):
    """tc ingress on the hidden peer: push tag VID and send it out of LINK."""
    return b"".join([
        _mov_reg(6, 1),
        _mov_reg(1, 6), _mov_imm(2, 0x0081), _mov_imm(3, vid),   # htons(ETH_P_8021Q)
        _call(_H_SKB_VLAN_PUSH),
        _mov_imm(1, link_ifindex), _mov_imm(2, 0), _call(_H_REDIRECT),
        _exit(),
    ])


_libc = None


def _bpf(cmd, attr):
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    nr = _NR_BPF.get(platform.machine())
    if nr is None:
        raise VlanError("bpf(2) syscall number unknown on %s" % platform.machine())
    buf = ctypes.create_string_buffer(attr, 128)
    r = _libc.syscall(nr, cmd, buf, 128)
    if r < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return r


def _load(code, name):
    insns = ctypes.create_string_buffer(code, len(code))
    lic = ctypes.create_string_buffer(b"GPL")
    log = ctypes.create_string_buffer(65536)
    attr = struct.pack("<IIQQIIQII16s", _BPF_PROG_TYPE_SCHED_CLS, len(code) // 8,
                       ctypes.addressof(insns), ctypes.addressof(lic), 1, len(log),
                       ctypes.addressof(log), 0, 0, name.encode()[:15])
    try:
        return _bpf(_BPF_PROG_LOAD, attr)
    except OSError as e:
        raise VlanError("BPF_PROG_LOAD %s: %s\n%s"
                        % (name, e, log.value.decode(errors="replace"))) from None


def _pin(fd, path):
    p = ctypes.create_string_buffer(path.encode())
    _bpf(_BPF_OBJ_PIN, struct.pack("<QII", ctypes.addressof(p), fd, 0))


def ensure_bpffs():
    """Mount the private bpffs once (idempotent)."""
    os.makedirs(BPFFS, exist_ok=True)
    if _run(["mountpoint", "-q", BPFFS], check=False).returncode:
        _run(["mount", "-t", "bpf", "bpf", BPFFS])


def _attach(netns, dev, pref, code, progname):
    """Load CODE, pin it, attach it as a direct-action ingress filter on DEV, unpin. The filter
    keeps the program alive, so the private bpffs is only mounted for the moment tc needs a
    pinned path (under a lock, as other processes may be attaching too) and nothing stays."""
    os.makedirs(os.path.dirname(BPFFS), exist_ok=True)
    with open(BPFFS + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        ensure_bpffs()
        fd = _load(code, progname)
        path = os.path.join(BPFFS, "%d-%s-%d" % (os.getpid(), progname, fd))
        try:
            _pin(fd, path)
            _tc(netns, "filter", "replace", "dev", dev, "ingress", "pref", str(pref),
                "bpf", "da", "pinned", path)
        finally:
            os.close(fd)
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
            if not [e for e in os.listdir(BPFFS) if not e.endswith(".debug")]:
                _run(["umount", BPFFS], check=False)


def _ensure_clsact(netns, dev):
    r = _tc(netns, "qdisc", "add", "dev", dev, "clsact", check=False)
    if r.returncode and "File exists" not in r.stderr and "Exclusivity" not in r.stderr:
        raise VlanError("tc qdisc add dev %s clsact: %s" % (dev, r.stderr.strip()))


# --- public API ------------------------------------------------------------------------------

def add_vlan(netns, link, name, vid, mac=None, mode=None):
    """Create VLAN device NAME (tag VID) on LINK in namespace NETNS (None = current one).
    Returns the mode used (``"8021q"`` or ``"bpf"``).  NAME is left up; addresses are the
    caller's business."""
    vid = int(vid)
    if not 1 <= vid <= 4094:
        raise VlanError("VLAN id must be 1..4094, got %d" % vid)
    info = _link_info(netns, link)
    if info is None:
        raise VlanError("link %s not found in namespace %s" % (link, netns or "(current)"))
    if _link_info(netns, name) is not None:
        raise VlanError("device %s already exists in namespace %s" % (name, netns or "(current)"))
    mode = mode or vlan_mode()
    if mode == "8021q":
        _ip(netns, "link", "add", "link", link, "name", name, "type", "vlan", "id", str(vid))
        if mac:
            _ip(netns, "link", "set", name, "address", mac)
        _ip(netns, "link", "set", name, "up")
        return mode

    peer = peer_name(name)
    mtu = str(info.get("mtu", 1500))
    _ip(netns, "link", "add", name, "mtu", mtu, "type", "veth", "peer", "name", peer, "mtu", mtu)
    try:
        _ip(netns, "link", "set", name, "alias", "%slink=%s vid=%d" % (ALIAS_PREFIX, link, vid))
        if mac:
            _ip(netns, "link", "set", name, "address", mac)
        _ip(netns, "link", "set", peer, "up")
        _ip(netns, "link", "set", name, "up")
        # the frame keeps CHECKSUM_PARTIAL through the redirect; a userspace (netdev) OVS on the
        # other side of LINK would forward it unfinished
        _ethtool_tx_off(netns, name)
        name_idx = _link_info(netns, name)["ifindex"]
        _ensure_clsact(netns, link)
        _ensure_clsact(netns, peer)
        _attach(netns, link, RX_PREF_BASE + vid, prog_rx(vid, name_idx), "tlvlan_rx")
        _attach(netns, peer, 1, prog_tx(vid, info["ifindex"]), "tlvlan_tx")
    except Exception:
        _tc(netns, "filter", "del", "dev", link, "ingress", "pref", str(RX_PREF_BASE + vid),
            check=False)
        _ip(netns, "link", "del", name, check=False)
        raise
    return mode


def _ethtool_tx_off(netns, dev):
    argv = ["ethtool", "-K", dev, "tx", "off"]
    if netns:
        argv = ["ip", "netns", "exec", netns] + argv
    _run(argv, check=False)


def vlan_info(netns, name):
    """``{"name", "link", "vid", "mode"}`` of a VLAN device made by add_vlan, or None."""
    info = _link_info(netns, name)
    if info is None:
        return None
    kind = info.get("linkinfo", {}).get("info_kind")
    if kind == "vlan":
        return {"name": name, "link": info.get("link"), "mode": "8021q",
                "vid": info["linkinfo"]["info_data"]["id"]}
    alias = info.get("ifalias", "")
    if kind == "veth" and alias.startswith(ALIAS_PREFIX):
        kv = dict(p.split("=", 1) for p in alias[len(ALIAS_PREFIX):].split())
        return {"name": name, "link": kv["link"], "vid": int(kv["vid"]), "mode": "bpf"}
    return None


def del_vlan(netns, name):
    """Remove VLAN device NAME (and, when emulated, its rx filter on the link). Idempotent.
    Returns True when something was removed."""
    v = vlan_info(netns, name)
    if v is None:
        if _link_info(netns, name) is not None:
            raise VlanError("%s is not a VLAN device made by trunkline" % name)
        return False
    if v["mode"] == "bpf":
        _tc(netns, "filter", "del", "dev", v["link"], "ingress", "pref",
            str(RX_PREF_BASE + v["vid"]), check=False)
    _ip(netns, "link", "del", name, check=False)      # takes the hidden peer with it
    return True


def list_vlans(netns):
    """Every VLAN device in NETNS made by add_vlan (either mode)."""
    r = _ip(netns, "-j", "-d", "link", "show", check=False)
    out = []
    for info in json.loads(r.stdout or "[]"):
        v = vlan_info(netns, info["ifname"])
        if v:
            out.append(v)
    return out
