"""Waking long polls when a write commits, in this process or (PostgreSQL) in any other.

``Database`` calls ``notify(revision)`` after every committed write in this process, and on
PostgreSQL its LISTEN thread (db/engine.py ``Database.listen``) calls it for the commits of
every server process. A watch reads ``generation`` before it looks at the change log and then
awaits ``wait(timeout, generation)``, which returns at once when a notify came in between, so
a commit is never missed whatever the fallback poll (watch.py).
"""
import asyncio
import threading


class Notifier:
    def __init__(self):
        self._waiters = set()  # (loop, future)
        self._lock = threading.Lock()   # the LISTEN thread notifies too
        self.generation = 0    # bumped by every notify

    def notify(self, revision=None):
        """Wake every waiter; safe to call from any thread."""
        with self._lock:
            self.generation += 1   # before taking the waiters: see wait()
            waiters, self._waiters = self._waiters, set()
        for loop, fut in waiters:
            loop.call_soon_threadsafe(_wake, fut)

    async def wait(self, timeout, generation=None):
        """Return after the next notify, or after ``timeout`` seconds; at once when a notify
        came since ``generation`` was read."""
        loop = asyncio.get_running_loop()
        entry = (loop, loop.create_future())
        with self._lock:
            self._waiters.add(entry)
        try:
            # registered first, checked second: a notify either bumped the generation already
            # or will find this waiter
            if generation is not None and generation != self.generation:
                return
            await asyncio.wait_for(entry[1], timeout)
        except asyncio.TimeoutError:
            pass
        finally:
            with self._lock:
                self._waiters.discard(entry)


def _wake(fut):
    if not fut.done():
        fut.set_result(None)
