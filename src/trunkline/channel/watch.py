"""``GET /agent/v1/watch?since=REV&host=H&timeout=S[&dhcp=1]``: a long poll that answers as
soon as the change log has a row after REV that concerns H: its hosts contain H, or are empty
(everyone) — except for network and subnet rows, which concern only the hosts they name (those
with ports on the network; a network nobody has a port on concerns no L2 agent). With ``dhcp=1``
(a DHCP agent, which serves every network and lists every port in its hosts files) any network,
subnet or port change concerns H.

It never holds a database connection while it waits: the process's feed (channel/feed.py)
reads new change rows once for all watches and each matches them in memory (a new watch with
the feed as read in this turn of the event loop; one older than the feed's copy asks the
database with ``check``, which also answers 410); between checks it sleeps on the notifier,
woken by every local commit and, on PostgreSQL, by the LISTEN thread for every other server's
commits, when a commit concerns it (channel/notify.py). The timer between checks is a
fallback: POLL on SQLite (several processes only with --workers, and they cannot notify each
other), POLL_LISTEN on PostgreSQL (a commit made while the LISTEN connection was being
re-established is still seen within it).

A watch outlives a database outage (PostgreSQL restarting): a check that finds the database
unavailable is retried at the next poll, and only a watch whose last check failed ends with
Neutron's 503; the agent then watches again after a short backoff."""
import asyncio

import orjson
from sqlalchemy import String, and_, cast, func, or_, select

from trunkline import exceptions as exc
from trunkline.channel.notify import DHCP, host_key
from trunkline.db import changelog, schema

C = schema.changes
POLL = 0.5
POLL_LISTEN = 5.0
MAX_TIMEOUT = 60.0


NETWORK_KINDS = ("network", "subnet")
# kinds whose empty hosts mean nobody, not everyone (no agent enforces security groups yet:
# their changes wake no watch until a firewall names the hosts they concern)
HOSTED = NETWORK_KINDS + ("security_group", "security_group_rule",
                          "default_security_group_rule")
DHCP_KINDS = NETWORK_KINDS + ("port",)     # what every DHCP agent watches


def _concerns(host, dhcp):
    hosts = cast(C.c.hosts, String)
    clauses = [and_(hosts == "[]", C.c.kind.notin_(HOSTED)),
               hosts.contains(orjson.dumps(host).decode(), autoescape=True)]
    if dhcp:
        clauses.append(C.c.kind.in_(DHCP_KINDS))
    return or_(*clauses)


def for_everyone(kind, hosts):
    """Does a change row of ``kind`` naming ``hosts`` concern every watch?"""
    return not hosts and kind not in HOSTED


def concerns(kinds, everyone, hosts, host, dhcp):
    """``_concerns`` for the feed's in-memory copy of one revision: its rows' kinds, whether one
    of them is for everyone (``for_everyone``) and the hosts they name."""
    return everyone or host in hosts or (dhcp and not kinds.isdisjoint(DHCP_KINDS))


def check(db, since, host, dhcp=False):
    """The newest revision after ``since`` with a row that concerns ``host``, or None;
    ChangesPruned when the log no longer reaches back to ``since``."""
    with db.read() as conn:     # one statement: a thousand agents' watches start at once
        horizon, newest = conn.execute(select(
            changelog.horizon_subquery(),
            select(func.max(C.c.revision)).where(C.c.revision > since, _concerns(host, dhcp))
            .scalar_subquery())).one()
    if since < (horizon or 0):
        raise exc.ChangesPruned(since=since, horizon=horizon)
    return newest


async def watch(feed, since, host, timeout, dhcp=False, receive=None):
    """``feed``: the process's Feed (its db and notifier). ``receive``: the request's ASGI
    receive; when given, the poll ends as soon as the client disconnects (a stopped agent must
    not hold the server's graceful shutdown for up to 60 s).

    A poll still open when the server's graceful shutdown ends is cancelled (uvicorn cancels
    the requests left); it then answers "nothing new" like a poll that timed out, so the agent
    simply watches again (at the next server) instead of getting a 500."""
    polling = asyncio.ensure_future(_watch(feed, since, host, timeout, dhcp))
    waiting = (polling,)
    if receive is not None:
        waiting += (asyncio.ensure_future(_disconnected(receive)),)
    try:
        await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:
        return {"revision": since}
    finally:
        for task in waiting:
            task.cancel()
    if polling.done() and not polling.cancelled():
        return polling.result()
    return {"revision": since}      # nobody is listening any more


async def _disconnected(receive):
    """Returns when the client disconnects (the request body has been read already, so the
    next message uvicorn delivers is ``http.disconnect``); anything else: wait to be cancelled."""
    if (await receive()).get("type") != "http.disconnect":
        await asyncio.Event().wait()


async def _watch(feed, since, host, timeout, dhcp):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + min(max(timeout, 0.0), MAX_TIMEOUT)
    poll = POLL if feed.db.is_sqlite else POLL_LISTEN
    notifier = feed.notifier
    keys = (host_key(host), DHCP) if dhcp else (host_key(host),)
    max_age = None      # a new watch: the feed as read in this turn of the event loop
    while True:
        generation = notifier.generation
        try:
            revision = feed.newest(since, host, dhcp, concerns, max_age)
            if revision is NotImplemented:      # older than the feed's copy, or pruned: 410
                revision = check(feed.db, since, host, dhcp)
            max_age, unavailable = poll, None
        except exc.ServiceUnavailable as e:
            revision, unavailable = None, e
        if revision is not None:
            return {"revision": revision}
        remaining = deadline - loop.time()
        if remaining <= 0:
            if unavailable is not None:
                raise unavailable
            return {"revision": since}
        await notifier.wait(min(poll, remaining), generation, keys)
