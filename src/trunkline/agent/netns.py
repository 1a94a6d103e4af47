"""Network namespace helpers: create/delete namespaces, run `ip -batch` and commands in them.

`ip [-n NS] -batch -` runs many link/addr commands in one process (a fraction of the cost of
one `ip` process each). `netns=None` means the agent's own
namespace. Nothing here touches devices the caller did not name.
"""
import json
import logging
import os
import subprocess
import time

NETNS_DIR = "/run/netns"
LOG = logging.getLogger(__name__)


class CommandError(RuntimeError):
    """A command exited non-zero; the message carries its stderr."""


def run(argv, netns=None, input=None, check=True, timeout=30):
    """Run argv (inside `netns` via `ip netns exec` when given); return stdout."""
    if netns:
        argv = ["ip", "netns", "exec", netns] + list(argv)
    p = subprocess.run(argv, input=input, capture_output=True, text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise CommandError("%s: exit %d: %s" % (" ".join(argv), p.returncode, p.stderr.strip()))
    return p.stdout


def ip(args, netns=None, check=True):
    """One `ip` command (args without the leading `ip`), `-n NS` when netns is given."""
    return run(["ip"] + (["-n", netns] if netns else []) + list(args), check=check)


def ip_batch(lines, netns=None, check=True):
    """Run many `ip` commands (strings without the leading `ip`) in ONE process."""
    lines = [l for l in lines if l]
    if not lines:
        return ""
    return run(["ip"] + (["-n", netns] if netns else []) + ["-batch", "-"],
               input="\n".join(lines) + "\n", check=check)


def exists(name):
    return os.path.exists(os.path.join(NETNS_DIR, name))


def add(name, lo_up=True):
    """Create namespace `name` if missing (lo up); returns True when created."""
    if exists(name):
        return False
    run(["ip", "netns", "add", name])
    if lo_up:
        ip(["link", "set", "lo", "up"], netns=name)
    return True


def delete(name, attempts=20):
    """Delete namespace `name` if present (its devices go with it; veth peers elsewhere too).
    `ip netns del` can fail for a moment (the namespace's bind mount busy while a process that
    ran in it, e.g. a dnsmasq just stopped, is still exiting): retried for up to a second, and
    a namespace left behind is logged, never silently."""
    for _ in range(attempts):
        if not exists(name):
            return
        p = subprocess.run(["ip", "netns", "del", name], capture_output=True, text=True)
        if p.returncode == 0 and not exists(name):
            return
        time.sleep(0.05)
    LOG.warning("could not delete namespace %s: %s", name, p.stderr.strip() or "still there")


def links(netns=None):
    """{ifname: link dict} from `ip -j link show`."""
    out = ip(["-j", "link", "show"], netns=netns, check=False)
    try:
        return {l["ifname"]: l for l in json.loads(out or "[]")}
    except ValueError:
        return {}


def addresses(dev, netns=None):
    """['10.0.0.2/24', ...] of dev (global scope, v4 and v6)."""
    out = ip(["-j", "addr", "show", "dev", dev], netns=netns, check=False)
    try:
        data = json.loads(out or "[]")
    except ValueError:
        return []
    res = []
    for l in data:
        for a in l.get("addr_info", []):
            if a.get("scope") == "global":
                res.append("%s/%s" % (a["local"], a["prefixlen"]))
    return res
