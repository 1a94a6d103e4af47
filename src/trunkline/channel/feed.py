"""This server process's copy of the recent change log, shared by all its watches.

Without it every commit would wake every open watch into a query of its own: 1000 agents, 1000
queries per change. The feed reads the rows new since its last read in ONE query (when the
notifier's generation moved, when a watcher knows a newer revision than the feed, or when the
copy is older than the caller's poll interval), keeps the last KEEP revisions condensed to
what matters for a watch (kinds, whether a row is for everyone, the hosts named), and answers
each watch from memory with watch.concerns — the same rule as the SQL check; a new watch
makes sure the copy was read in this turn of the event loop (once for all the watches that
arrive together). A watch whose ``since`` is older than the copy, or than the log (pruned:
410), asks the database. After a commit the notifier asks ``sort`` which watches to wake: the feed reads the new
rows and answers the keys of the hosts they name (channel/notify.py).
"""
import asyncio
import collections
import time

from sqlalchemy import select

from trunkline import exceptions as exc
from trunkline.channel.notify import DHCP, host_key
from trunkline.channel.watch import DHCP_KINDS, for_everyone
from trunkline.db import changelog, schema

C, R = schema.changes, schema.revision
KEEP = 10000        # revisions kept in memory (condensed: one entry per revision)


class Feed:
    def __init__(self, db, notifier, keep=KEEP):
        self.db = db
        self.notifier = notifier
        self.keep = keep
        self.revisions = collections.deque()   # (revision, kinds, for everyone, hosts)
        self.start = None   # the copy holds every revision in (start, upto]
        self.upto = None
        self.generation = None
        self.read_at = 0.0
        self.sorted = None  # the revision up to which ``sort`` has answered
        self.horizon = 0    # the change log's (changelog.horizon) as of the last read
        self.fresh = False  # read in this turn of the event loop

    def newest(self, since, host, dhcp, concerns, max_age=None):
        """The newest revision after ``since`` that concerns ``host`` (None: none yet), or
        NotImplemented when ``since`` is older than the copy or the log (ask the database).
        The copy is read again when older than ``max_age`` seconds; None: when not read in
        this turn of the event loop — a new watch's check, shared by all the watches that
        arrive together."""
        self._refresh(since, max_age)
        if since < max(self.start, self.horizon):
            return NotImplemented
        for revision, kinds, everyone, hosts in reversed(self.revisions):
            if revision <= since:
                break
            if concerns(kinds, everyone, hosts, host, dhcp):
                return revision
        return None

    def sort(self):
        """The notifier's callback after commits: read the rows new since the last call (one
        query) and answer the keys of the watches they concern, None for every watch (a row
        for everyone, the first call, or the database unavailable)."""
        try:
            self._refresh(0, 0.0)
        except exc.ServiceUnavailable:
            return None         # the watches' own checks see the outage
        done, self.sorted = self.sorted, self.upto
        if done is None:
            return None
        keys = set()
        for revision, kinds, everyone, hosts in reversed(self.revisions):
            if revision <= done:
                break
            if everyone:
                return None
            keys.update(host_key(h) for h in hosts)
            if not kinds.isdisjoint(DHCP_KINDS):
                keys.add(DHCP)
        return keys

    def _refresh(self, since, max_age):
        generation, now = self.notifier.generation, time.monotonic()
        if self.upto is not None and generation == self.generation and since <= self.upto \
                and (self.fresh if max_age is None else now - self.read_at < max_age):
            return
        with self.db.read() as conn:
            # revisions commit in order: every row up to ``upto`` is committed when it is read
            upto, horizon = conn.execute(select(
                select(R.c.value).where(R.c.id == 1).scalar_subquery(),
                changelog.horizon_subquery())).one()
            self.horizon = horizon or 0
            after = self.upto
            if after is None:
                after = max(self.horizon, upto - self.keep)
            rows = conn.execute(select(C.c.revision, C.c.kind, C.c.hosts).where(
                C.c.revision > after, C.c.revision <= upto).order_by(C.c.revision))
            self._add(rows)
        if self.start is None:
            self.start = after
        self.upto, self.generation, self.read_at = upto, generation, now
        if not self.fresh:
            try:
                asyncio.get_running_loop().call_soon(self._age)
                self.fresh = True
            except RuntimeError:    # no event loop: no turn to be fresh in
                pass
        while len(self.revisions) > self.keep:
            self.start = self.revisions.popleft()[0]

    def _age(self):
        self.fresh = False

    def _add(self, rows):
        current = None
        for revision, kind, hosts in rows:
            if current is None or current[0] != revision:
                if current is not None:
                    self.revisions.append(_freeze(current))
                current = (revision, set(), [False], set())
            current[1].add(kind)
            if for_everyone(kind, hosts):
                current[2][0] = True
            current[3].update(hosts)
        if current is not None:
            self.revisions.append(_freeze(current))


def _freeze(entry):
    revision, kinds, everyone, hosts = entry
    return revision, frozenset(kinds), everyone[0], frozenset(hosts)
