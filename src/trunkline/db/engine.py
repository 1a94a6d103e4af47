"""Engine and transactions: SQLite (WAL, the embedded default) or PostgreSQL, one way to read and
one way to write.

``Database.write(fn)`` runs ``fn(txn)`` in one transaction that first takes the next global
revision (which serialises writers on both back ends), records change-log rows through
``txn.record`` and retries the whole function when the database reports a transient conflict.
After each commit that recorded changes it calls the ``on_commit`` listeners with the new
revision (the agent channel wakes its watchers this way; a write without change rows, such as
an agent's status report that changed nothing, wakes nobody; ``write_unlogged`` takes no
revision at all, for an agent's heartbeat); ``snapshot()`` reads several statements as of one
revision. ``txn.after_commit(fn)`` runs ``fn()`` once that transaction has committed, never for
an attempt that rolled back or was retried (events to Nova are queued this way).

A database that cannot be reached (PostgreSQL restarting, a connection cut) gives Neutron's 503
``ServiceUnavailable``, never a 500 or a hang; pooled connections are checked before use
(``pool_pre_ping``), so the servers recover by themselves once it is back.

On PostgreSQL such a write also sends ``NOTIFY trunkline_changes, '<revision>'`` inside its
transaction (PostgreSQL delivers it at commit, never for a rolled-back one), and ``listen(fn)``
runs a thread with a dedicated connection that LISTENs and calls ``fn(revision)`` for every
commit made by any server process on that database, reconnecting by itself when PostgreSQL
restarts.
"""
import datetime
import logging
import threading
import time
from contextlib import contextmanager

import orjson
from sqlalchemy import create_engine, event, insert, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError

from trunkline import exceptions as exc
from trunkline.db import changelog, schema

LOG = logging.getLogger(__name__)
RETRIES = 20
CHANNEL = "trunkline_changes"   # the PostgreSQL NOTIFY channel: payload = the new revision


def normalise_url(url):
    """Accept the URLs operators write (postgresql://) and pick the drivers trunkline ships."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


class MissingDriver(Exception):
    """The database URL needs a driver that is not installed; the message says how to get it."""


def _need_psycopg():
    try:
        import psycopg  # noqa: F401
    except ImportError:
        raise MissingDriver("PostgreSQL needs the psycopg driver, which is not installed: "
                            "pip install 'trunkline[postgresql]' (or psycopg[binary])")


def now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class Txn:
    """A write transaction: its connection, its revision, its timestamp and its change records."""

    def __init__(self, conn, revision):
        self.conn = conn
        self.revision = revision
        self.now = now()
        self._changes = []
        self._after_commit = []

    def execute(self, stmt, *args):
        return self.conn.execute(stmt, *args)

    def record(self, kind, resource_id, op, hosts=()):
        self._changes.append({"revision": self.revision, "kind": kind, "resource_id": resource_id,
                              "op": op, "hosts": sorted(set(h for h in hosts if h)), "at": self.now})

    def after_commit(self, fn):
        """Call ``fn()`` after this transaction commits (not at all if it rolls back)."""
        self._after_commit.append(fn)

    def run_after_commit(self):
        for fn in self._after_commit:
            try:
                fn()
            except Exception:   # the write is committed: a failing hook must not undo its answer
                LOG.exception("after-commit hook %r failed", fn)

    def flush_changes(self):
        """Store the change records; True when there were any."""
        if self._changes:
            self.conn.execute(insert(schema.changes), self._changes)
        return bool(self._changes)


class Database:
    def __init__(self, url, pool_size=5, keep_changes=changelog.KEEP,
                 prune_every=changelog.PRUNE_EVERY):
        self.url = normalise_url(url)
        self.keep_changes = keep_changes
        self.prune_every = prune_every
        self.on_commit = []  # callables(revision), called after every committed write
        self.is_sqlite = self.url.startswith("sqlite")
        # JSON columns (ports' profile, vif_details, allowed_address_pairs, subnets' pools...)
        # through orjson: a list of 1000 ports decodes 4000 JSON values.
        json_args = {"json_serializer": _json_dumps, "json_deserializer": orjson.loads}
        if self.is_sqlite:
            self.engine = create_engine(self.url, connect_args={"check_same_thread": False,
                                                                "timeout": 30}, **json_args)
            event.listen(self.engine, "connect", _sqlite_connect)
            event.listen(self.engine, "begin", _sqlite_begin)
        else:
            if self.url.startswith("postgresql+psycopg:"):
                _need_psycopg()
            self.engine = create_engine(self.url, pool_size=pool_size, max_overflow=20,
                                        pool_pre_ping=True, **json_args)

    @contextmanager
    def read(self):
        """A consistent read-only snapshot."""
        try:
            with self.engine.connect() as conn, conn.begin():
                yield conn
        except DBAPIError as e:
            if not _unavailable(e):
                raise
            raise _service_unavailable(e) from None

    @contextmanager
    def snapshot(self):
        """A read-only transaction whose statements all see the same committed state
        (REPEATABLE READ on PostgreSQL; a SQLite read transaction already is one)."""
        try:
            with self.engine.connect() as conn:
                if not self.is_sqlite:
                    conn = conn.execution_options(isolation_level="REPEATABLE READ")
                with conn.begin():
                    yield conn
        except DBAPIError as e:
            if not _unavailable(e):
                raise
            raise _service_unavailable(e) from None

    def write(self, fn, *args, **kwargs):
        for attempt in range(RETRIES):
            try:
                with self.engine.connect().execution_options(trunkline_write=True) as conn:
                    with conn.begin():
                        rev = conn.execute(
                            update(schema.revision).where(schema.revision.c.id == 1)
                            .values(value=schema.revision.c.value + 1)
                            .returning(schema.revision.c.value)).scalar_one()
                        txn = Txn(conn, rev)
                        result = fn(txn, *args, **kwargs)
                        changed = txn.flush_changes()
                        changelog.maybe_prune(conn, rev, self.keep_changes, self.prune_every)
                        if changed and not self.is_sqlite:
                            conn.execute(_NOTIFY, {"rev": str(rev)})
                    if changed:
                        for listener in self.on_commit:
                            listener(rev)
                    txn.run_after_commit()
                    return result
            except IntegrityError as e:
                # Checks run inside the serialised transaction, so a constraint violation here
                # is a genuine conflict the plugin chose to let the database detect.
                raise _integrity_to_neutron(e)
            except DBAPIError as e:
                if not is_retriable(e) or attempt == RETRIES - 1:
                    raise _service_unavailable(e) from None
                time.sleep(min(0.01 * (2 ** attempt), 0.5))

    def write_unlogged(self, fn, *args, **kwargs):
        """Run ``fn(conn, *args, **kwargs)`` in a write transaction that takes no revision,
        records no change and wakes nobody: for writes no agent can see, such as an agent's
        heartbeat (thousands of agents must not queue on the revision row for them). Same
        retries and 503 as ``write``; ``fn`` must re-check inside what it relies on."""
        for attempt in range(RETRIES):
            try:
                with self.engine.connect().execution_options(trunkline_write=True) as conn:
                    with conn.begin():
                        return fn(conn, *args, **kwargs)
            except IntegrityError as e:
                raise _integrity_to_neutron(e)
            except DBAPIError as e:
                if not is_retriable(e) or attempt == RETRIES - 1:
                    raise _service_unavailable(e) from None
                time.sleep(min(0.01 * (2 ** attempt), 0.5))

    def listen(self, callback):
        """PostgreSQL: start the LISTEN thread that calls ``callback(revision)`` after every
        commit by any server process; returns it (None on SQLite, where only local commits are
        seen and watchers poll for the others)."""
        if self.is_sqlite:
            return None
        listener = Listener(self.engine.url, callback)
        listener.start()
        return listener

    def dispose(self):
        self.engine.dispose()


_NOTIFY = text("SELECT pg_notify('%s', :rev)" % CHANNEL)


class Listener(threading.Thread):
    """One dedicated autocommit psycopg connection per server process, LISTENing on CHANNEL.
    When the connection breaks (PostgreSQL restarted) it reconnects with a backoff and calls
    ``callback(None)`` once connected again, since commits may have been missed meanwhile."""

    def __init__(self, url, callback, timeout=5.0):
        super().__init__(name="trunkline-listen", daemon=True)
        self.conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
        self.callback = callback
        self.timeout = timeout
        self.stopping = threading.Event()
        self.connected = threading.Event()

    def run(self):
        import psycopg     # only PostgreSQL servers listen: SQLite ones never load the driver
        backoff = 0.1
        while not self.stopping.is_set():
            try:
                with psycopg.connect(self.conninfo, autocommit=True,
                                     connect_timeout=self.timeout) as conn:
                    conn.execute("LISTEN %s" % CHANNEL)
                    self.connected.set()
                    backoff = 0.1
                    self.callback(None)
                    while not self.stopping.is_set():
                        for note in conn.notifies(timeout=self.timeout):
                            self.callback(int(note.payload))
                        conn.execute("SELECT 1")    # a quiet connection may be a dead one
            except psycopg.Error as e:
                if self.connected.is_set():
                    LOG.warning("LISTEN connection lost (%s); reconnecting", _short(e))
                self.connected.clear()
                self.stopping.wait(backoff)
                backoff = min(backoff * 2, 5.0)

    def stop(self):
        self.stopping.set()


def _json_dumps(value):
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def _short(e):
    return str(getattr(e, "orig", e)).strip().splitlines()[0][:200]


def _unavailable(e):
    """A lost or refused connection (PostgreSQL down or restarting, a connection cut), as
    opposed to a statement the database refused (a bug: that stays a 500)."""
    return isinstance(e, (OperationalError, InterfaceError)) or e.connection_invalidated


def _service_unavailable(e):
    # the cause goes to the log, not to the client (it names the database's address)
    LOG.warning("database error, answered 503: %s", _short(e))
    return exc.ServiceUnavailable("The database is not available; retry the request in a few "
                                  "seconds.")


def is_retriable(e):
    """A lock or serialisation failure another attempt can get past."""
    text = str(getattr(e, "orig", e)).lower()
    return any(s in text for s in ("database is locked", "deadlock", "could not serialize",
                                   "busy"))


def _integrity_to_neutron(e):
    return exc.Conflict("The request conflicts with another change: %s" % _short(e))


def _sqlite_connect(dbapi_conn, _record):
    dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (see _sqlite_begin)
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def _sqlite_begin(conn):
    # Writers take the write lock up front: no deadlocking lock upgrades under concurrency.
    write = conn.get_execution_options().get("trunkline_write")
    conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")
