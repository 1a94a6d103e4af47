"""``trunkline down [--state-dir DIR]``: remove everything a ``trunkline up`` left under DIR — a
live one is stopped first (SIGTERM to its PID, which then cleans up after itself), a dead one's
processes, DHCP servers and namespaces, private Open vSwitch and devices are removed here
(ops/cleanup.py). `register(subparsers)` adds the subcommand."""
import os
import signal
import sys
import time


def cmd_down(args):
    from trunkline.ops import cleanup, record
    state_dir = os.path.abspath(args.state_dir)
    if not os.path.isdir(state_dir):
        print("trunkline down: nothing to do (no state directory %s)" % state_dir)
        return 0
    me = {"pid": os.getpid(), "state_dir": state_dir, "command": "down"}
    lock = record.state_lock(state_dir)
    stopped = None
    if not lock.acquire(me):
        rec = record.load(state_dir)
        if not record.up_running(rec):
            print("trunkline down: %s is locked by pid %s, which is not a trunkline up; stop "
                  "it first" % (state_dir, lock.holder().get("pid", "?")), file=sys.stderr)
            return 1
        stopped = rec["pid"]
        print("trunkline down: stopping trunkline up (pid %d)" % stopped, flush=True)
        os.kill(stopped, signal.SIGTERM)
        deadline = time.monotonic() + args.timeout
        while not lock.acquire(me):
            if time.monotonic() > deadline:
                print("trunkline down: trunkline up (pid %d) did not stop within %.0f s"
                      % (stopped, args.timeout), file=sys.stderr)
                return 1
            time.sleep(0.1)
    try:
        done = cleanup.remove(state_dir)
    finally:
        lock.release()
    if done:
        print("trunkline down: removed %s" % ", ".join(done))
    elif stopped:
        print("trunkline down: trunkline up (pid %d) stopped and removed what it had made"
              % stopped)
    else:
        print("trunkline down: nothing left by trunkline up in %s" % state_dir)
    return 0


def register(subparsers):
    from trunkline.ops.record import DEFAULT_STATE_DIR
    p = subparsers.add_parser(
        "down", help="remove everything a trunkline up left (live or killed)",
        description="Remove what `trunkline up --state-dir DIR` started: a running up is "
                    "stopped (SIGTERM); of one that was killed, its server and agent (by PID, "
                    "only while their command line is the recorded one), its dnsmasq "
                    "processes and qdhcp- namespaces (with their veths), its private "
                    "ovsdb-server and ovs-vswitchd with their devices (br-int, ovs-netdev). "
                    "The database and logs under DIR stay.")
    p.add_argument("--state-dir", default=DEFAULT_STATE_DIR, metavar="DIR",
                   help="the up's state directory (default: %(default)s)")
    p.add_argument("--timeout", type=float, default=60.0, metavar="S",
                   help="how long to wait for a running up to stop (default: %(default)s)")
    p.set_defaults(func=cmd_down)
    return p
