"""Waking long polls when a write commits, in this process or (PostgreSQL) in any other —
only those the commit concerns.

``Database`` calls ``notify(revision)`` after every committed write in this process, and on
PostgreSQL its LISTEN thread (db/engine.py ``Database.listen``) calls it for the commits of
every server process. A watch waits under keys (its host; DHCP agents also under ``DHCP``).
``notify`` bumps ``generation`` at once and, on the event loop, runs the ``sort`` callback
(the feed's: it reads the new change rows once and answers the keys they concern, or None
for every watch), then wakes the waiters under those keys: with a thousand watches open, a
commit for one host wakes one coroutine, not a thousand. Notifies that arrive while one is
pending are handled by it (the callback reads every row new since the last one).

A watch reads ``generation`` before it looks at the change log and then awaits
``wait(timeout, generation, keys)``, which returns at once when a notify came in between, so
a commit is never missed whatever the fallback poll (watch.py).
"""
import asyncio
import threading

DHCP = ("dhcp",)       # the key DHCP agents' watches also wait under: any port change


def host_key(host):
    return ("host", host)


class Notifier:
    def __init__(self, sort=None):
        self.sort = sort                # () -> keys to wake (None: every waiter)
        self._waiters = {}              # key -> {entry}; entry = (future, keys)
        self._lock = threading.Lock()   # the LISTEN thread notifies too
        self._loop = None
        self._pending = False           # a _dispatch is scheduled
        self._everyone = False          # ... and must wake every waiter
        self.generation = 0    # bumped by every notify

    def notify(self, revision=None):
        """Something committed (``revision`` None: maybe several, unknown — the LISTEN
        connection was re-established); safe to call from any thread."""
        with self._lock:
            self.generation += 1   # before the wake: see wait()
            loop = self._loop
            if loop is None:    # nobody ever waited in this process
                return
            self._everyone |= revision is None
            pending, self._pending = self._pending, True
        if not pending:
            loop.call_soon_threadsafe(self._dispatch)

    def _dispatch(self):
        with self._lock:
            everyone, self._pending, self._everyone = self._everyone, False, False
        keys = None
        if not everyone and self.sort is not None:
            keys = self.sort()
        self.wake(keys)

    def wake(self, keys=None):
        """Wake the waiters under ``keys`` (None: all of them); on the event loop."""
        with self._lock:
            if keys is None:
                entries = {e for waiters in self._waiters.values() for e in waiters}
            else:
                entries = set(self._waiters.get(None, ()))     # those waiting for anything
                for key in keys:
                    entries.update(self._waiters.get(key, ()))
        for fut, _ in entries:
            if not fut.done():
                fut.set_result(None)

    async def wait(self, timeout, generation=None, keys=(None,)):
        """Return after a notify that concerns one of ``keys``, or after ``timeout`` seconds;
        at once when a notify came since ``generation`` was read."""
        loop = asyncio.get_running_loop()
        entry = (loop.create_future(), tuple(keys))
        with self._lock:
            self._loop = loop
            for key in entry[1]:
                self._waiters.setdefault(key, set()).add(entry)
        try:
            # registered first, checked second: a notify either bumped the generation already
            # or will find this waiter
            if generation is not None and generation != self.generation:
                return
            await asyncio.wait_for(entry[0], timeout)
        except asyncio.TimeoutError:
            pass
        finally:
            with self._lock:
                for key in entry[1]:
                    waiters = self._waiters.get(key)
                    if waiters is not None:
                        waiters.discard(entry)
                        if not waiters:
                            del self._waiters[key]
