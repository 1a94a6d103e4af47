"""Flows one part of the agent owns on one bridge, marked by a cookie, kept in step with one
``ovs-ofctl --bundle add-flows`` (delete by cookie + add, applied atomically: no packet sees a
half-updated table) — run only when the wanted flows changed since the last sync or
ovs-vswitchd restarted (it keeps no flows; a restart makes the bridge's .mgmt socket anew)."""
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
        """Make the bridge's flows with our cookie exactly ``flows`` (specs without cookie).
        Returns True when it had to write them."""
        flows = sorted(flows)
        ident = file_id(self.mgmt)
        if self._synced == (flows, ident):
            return False
        text = "delete cookie=%s/-1\n" % self.cookie + "".join(
            "add cookie=%s,%s\n" % (self.cookie, f) for f in flows)
        p = subprocess.run(["ovs-ofctl", "--bundle", "-O", "OpenFlow13", "add-flows",
                            "unix:" + self.mgmt, "-"],
                           input=text, capture_output=True, text=True, timeout=30)
        if p.returncode != 0:
            raise RuntimeError("ovs-ofctl add-flows %s: %s" % (self.bridge, p.stderr.strip()))
        self._synced = (flows, ident)
        return True
