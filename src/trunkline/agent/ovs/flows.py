"""The OVS agent's flows: every flow it writes goes through one ``FlowOwner``, which keeps a
``FlowSet`` per bridge and planner cookie.

A flow set is kept in step with one ``ovs-ofctl --bundle add-flows`` (applied atomically: no
packet sees a half-updated table) — run only when the wanted flows changed since the last sync,
and then only the difference; all of them (delete by cookie + add) after ovs-vswitchd
(re)started, which keeps no flows and makes the bridge's .mgmt socket anew, or on the agent's
first pass. A set that adopts (fixed flows, like br-int's) first counts what the switch holds
with its cookie: a restarted agent finds its flows there and writes nothing."""
import os
import subprocess
from typing import Dict, Iterable, Mapping, Optional, Tuple


def file_id(path: str) -> Optional[Tuple[int, int, int]]:
    """Identity of a file (None when missing)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino, st.st_ctime_ns


def ofports(db) -> Dict[str, int]:
    """{interface name: OpenFlow port number} of every interface that has one."""
    return {r["name"]: r["ofport"] for r in db.select("Interface", ["name", "ofport"])
            if isinstance(r["ofport"], int) and r["ofport"] > 0}


def _ofctl(args, input=None) -> str:
    p = subprocess.run(["ovs-ofctl"] + args, input=input, capture_output=True, text=True,
                       timeout=30)
    if p.returncode != 0:
        raise RuntimeError("ovs-ofctl %s: %s" % (" ".join(args), p.stderr.strip()))
    return p.stdout


class FlowSet:
    """The flows with one cookie on one bridge."""

    def __init__(self, rundir: str, bridge: str, cookie: str, adopt: bool = False):
        self.mgmt = os.path.join(rundir, bridge + ".mgmt")
        self.bridge = bridge
        self.cookie = cookie
        self.adopt = adopt
        self._synced = None         # (flows, mgmt socket identity) of the last sync

    def _held(self) -> int:
        """How many flows with our cookie the bridge holds."""
        out = _ofctl(["dump-flows", "--no-stats", "--no-names", "-O", "OpenFlow13",
                      "unix:" + self.mgmt, "cookie=%s/-1" % self.cookie])
        return sum(1 for line in out.splitlines() if "cookie=" in line)

    def sync(self, flows: Iterable[str]) -> bool:
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
        elif self.adopt and self._synced is None and ident is not None and \
                self._held() == len(flows):
            self._synced = (flows, ident)
            return False
        else:
            lines = ["delete cookie=%s/-1" % self.cookie]
            lines += ["add cookie=%s,%s" % (self.cookie, f) for f in sorted(flows)]
        # --no-names: the flows name ports by number; without it ovs-ofctl first fetches the
        # switch's port and table names, which costs ovs-vswitchd most of a batch's time
        try:
            _ofctl(["--bundle", "--no-names", "-O", "OpenFlow13", "add-flows",
                    "unix:" + self.mgmt, "-"], input="\n".join(lines) + "\n")
        except RuntimeError:
            self._synced = None         # unknown now: the next sync replaces everything
            raise
        self._synced = (flows, ident)
        return True


class FlowOwner:
    """Every flow the agent writes, by bridge and cookie."""

    def __init__(self, rundir: str):
        self.rundir = rundir
        self.sets: Dict[Tuple[str, str], FlowSet] = {}

    def sync(self, cookie: str, wanted: Mapping[str, Iterable[str]],
             adopt: bool = False) -> bool:
        """Make the flows with ``cookie`` on each bridge of ``wanted`` exactly its flows; True
        when any had to be written."""
        changed = False
        for bridge, flows in sorted(wanted.items()):
            fs = self.sets.get((bridge, cookie))
            if fs is None:
                fs = self.sets[(bridge, cookie)] = FlowSet(self.rundir, bridge, cookie, adopt)
            changed = fs.sync(flows) or changed
        return changed


def _match(flow):
    """A flow spec without its actions (what identifies it with its priority)."""
    return flow.split(",actions=", 1)[0]
