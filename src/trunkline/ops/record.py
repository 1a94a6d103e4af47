"""What a ``trunkline up`` started, kept where the next one finds it, and the locks that keep two
of them apart.

- ``<state dir>/stack.json``: the up's own PID and command line, the network namespace it ran
  in (its inode), its switch's namespace (isolated stacks), the private Open vSwitch run
  directory, the agent's state directory and each process it spawned (PID + command line).
  Written atomically whenever it changes, removed by a clean stop.
- ``<state dir>/up.lock``: one stack per state directory.
- ``/run/trunkline/up-netns-<inode>.lock``: one all-in-one stack per network namespace (its
  server port, its DHCP namespaces and its Open vSwitch devices would collide).

Both locks are ``flock`` locks, so a killed up holds none; the namespace's lock file is removed
by the up that holds it. A process counts as the recorded one only while its command line ends
with the recorded one: a PID reused by an unrelated process is never touched."""
import errno
import fcntl
import json
import os
import signal
import time

from trunkline import constants

RUN_DIR = "/run/trunkline"
RECORD = "stack.json"
DEFAULT_STATE_DIR = constants.STATE_DIR       # trunkline up's (the server's default)


class Busy(RuntimeError):
    """A lock is held by another live stack (the message says whose and what to do)."""


def netns_inode():
    return os.stat("/proc/self/ns/net").st_ino


def cmdline(pid):
    """PID's command line as a list of strings, or None when it is gone or a zombie."""
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            raw = f.read()
    except (OSError, TypeError):
        return None
    if not raw:
        return None
    return [a.decode(errors="replace") for a in raw.split(b"\0")[:-1]]


def is_running(pid, argv):
    """Is PID the process started as ARGV? (an interpreter may stand before it: a script's
    shebang line)"""
    cmd = cmdline(pid) if pid else None
    return bool(cmd) and bool(argv) and cmd[-len(argv):] == list(argv)


def stop_process(pid, argv, timeout=10.0):
    """Stop the recorded process PID (and its process group when it leads one: a server's
    workers) with SIGTERM, then SIGKILL; returns True when it was running."""
    if not is_running(pid, argv):
        return False
    group = os.getpgid(pid) == pid

    def send(sig):
        try:
            os.killpg(pid, sig) if group else os.kill(pid, sig)
        except ProcessLookupError:
            pass
    send(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while is_running(pid, argv) and time.monotonic() < deadline:
        time.sleep(0.05)
    if is_running(pid, argv):
        send(signal.SIGKILL)
        while is_running(pid, argv) and time.monotonic() < deadline + timeout:
            time.sleep(0.05)
    return True


# -- the record -------------------------------------------------------------------------------

def path(state_dir):
    return os.path.join(state_dir, RECORD)


def load(state_dir):
    try:
        with open(path(state_dir)) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def save(state_dir, rec):
    tmp = path(state_dir) + ".tmp"
    with open(tmp, "w") as f:
        json.dump(rec, f, indent=2, sort_keys=True)
        f.write("\n")
    os.replace(tmp, path(state_dir))


def forget(state_dir):
    try:
        os.unlink(path(state_dir))
    except FileNotFoundError:
        pass


def up_running(rec):
    """Does the up that wrote REC still run?"""
    return bool(rec) and is_running(rec.get("pid"), rec.get("cmdline"))


# -- locks ------------------------------------------------------------------------------------

class Lock:
    """An exclusive, non-blocking flock on PATH whose file says who holds it. With
    ``remove=True`` the file is deleted on release (safely: a taker checks that the file it
    locked is still the one at PATH)."""

    def __init__(self, path, remove=False):
        self.path = path
        self.remove = remove
        self.fd = None

    def holder(self):
        try:
            with open(self.path) as f:
                return json.load(f)
        except (OSError, ValueError):
            return {}

    def acquire(self, info):
        """Take the lock or return False (held by someone else)."""
        for _ in range(50):
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except FileNotFoundError:       # its directory just went: again
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as e:
                os.close(fd)
                if e.errno in (errno.EAGAIN, errno.EACCES):
                    return False
                raise
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if not same:                    # its holder removed it meanwhile: again
                os.close(fd)
                continue
            os.ftruncate(fd, 0)
            os.write(fd, (json.dumps(info, sort_keys=True) + "\n").encode())
            self.fd = fd
            return True
        raise RuntimeError("could not take lock %s" % self.path)

    def release(self):
        if self.fd is None:
            return
        if self.remove:
            try:
                os.unlink(self.path)
            except FileNotFoundError:
                pass
            try:
                os.rmdir(os.path.dirname(self.path))
            except OSError:
                pass
        os.close(self.fd)
        self.fd = None


def state_lock(state_dir):
    return Lock(os.path.join(state_dir, "up.lock"))


def netns_lock(inode=None):
    """The lock of network namespace INODE (default: this process's)."""
    return Lock(os.path.join(RUN_DIR, "up-netns-%d.lock" % (inode or netns_inode())),
                remove=True)


def drop_stale_netns_lock(inode):
    """Remove the lock file a killed up left for namespace INODE (none holds it any more)."""
    lock = netns_lock(inode)
    if os.path.exists(lock.path) and lock.acquire({"pid": os.getpid()}):
        lock.release()
