"""Flows one part of the agent owns on one bridge, marked by a cookie, kept in step with one
``ovs-ofctl --bundle add-flows`` (applied atomically: no packet sees a half-updated table) —
run only when the wanted flows changed since the last sync, and then only the difference; all
of them (delete by cookie + add) after ovs-vswitchd (re)started, which keeps no flows and makes
the bridge's .mgmt socket anew, or on the agent's first pass."""
import os
import subprocess


def file_id(path):
    """Identity of a file (None when missing)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino, st.st_ctime_ns


def ofports(db, names):
    """{interface name: OpenFlow port number} of the named interfaces that have one."""
    names = set(names)
    return {r["name"]: r["ofport"] for r in db.select("Interface", ["name", "ofport"])
            if r["name"] in names and isinstance(r["ofport"], int) and r["ofport"] > 0}


class FlowSet:
    def __init__(self, rundir, bridge, cookie):
        self.mgmt = os.path.join(rundir, bridge + ".mgmt")
        self.bridge = bridge
        self.cookie = cookie
        self._synced = None         # (flows, mgmt socket identity) of the last sync

    def sync(self, flows):
        """Make the bridge's flows with our cookie exactly ``flows`` (specs without cookie,
        ``...,actions=...``). Returns True when it had to write. Against the flows of the last
        sync on the same ovs-vswitchd it sends only the difference (a flow whose match stays
        is re-added with its new actions, one that goes is deleted strictly); otherwise — first
        sync, or ovs-vswitchd restarted — it deletes every flow with our cookie and adds all."""
        flows = frozenset(flows)
        ident = file_id(self.mgmt)
        if self._synced is not None and self._synced[1] == ident:
            old = self._synced[0]
            if old == flows:
                return False
            added = flows - old
            # (a flow staying in both cannot share its match with one that goes: a bridge
            # holds one flow per match and priority)
            keep = {_match(f) for f in added}
            lines = ["delete_strict cookie=%s/-1,%s" % (self.cookie, _match(f))
                     for f in sorted(old - flows) if _match(f) not in keep]
            lines += ["add cookie=%s,%s" % (self.cookie, f) for f in sorted(added)]
        else:
            lines = ["delete cookie=%s/-1" % self.cookie]
            lines += ["add cookie=%s,%s" % (self.cookie, f) for f in sorted(flows)]
        # --no-names: the flows name ports by number; without it ovs-ofctl first fetches the
        # switch's port and table names, which costs ovs-vswitchd ~6 ms (of ~7) per batch
        p = subprocess.run(["ovs-ofctl", "--bundle", "--no-names", "-O", "OpenFlow13",
                            "add-flows", "unix:" + self.mgmt, "-"],
                           input="\n".join(lines) + "\n", capture_output=True, text=True,
                           timeout=30)
        if p.returncode != 0:
            self._synced = None         # unknown now: the next sync replaces everything
            raise RuntimeError("ovs-ofctl add-flows %s: %s" % (self.bridge, p.stderr.strip()))
        self._synced = (flows, ident)
        return True


def _match(flow):
    """A flow spec without its actions (what identifies it with its priority)."""
    return flow.split(",actions=", 1)[0]
