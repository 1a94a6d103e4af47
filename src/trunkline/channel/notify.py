"""Waking long polls when a write commits in this process.

``Database`` calls ``notify(revision)`` after every committed write; a watch awaits ``wait``
and then looks at the change log again. Writes made by other server processes are not seen
here: watchers also re-check on a short timer (watch.POLL), and PostgreSQL LISTEN/NOTIFY can
later call ``notify`` from a listener task — this class is the seam for it.
"""
import asyncio


class Notifier:
    def __init__(self):
        self._waiters = set()  # (loop, future)

    def notify(self, revision=None):
        """Wake every waiter; safe to call from any thread."""
        waiters, self._waiters = self._waiters, set()
        for loop, fut in waiters:
            loop.call_soon_threadsafe(_wake, fut)

    async def wait(self, timeout):
        """Return after the next notify, or after ``timeout`` seconds."""
        loop = asyncio.get_running_loop()
        entry = (loop, loop.create_future())
        self._waiters.add(entry)
        try:
            await asyncio.wait_for(entry[1], timeout)
        except asyncio.TimeoutError:
            pass
        finally:
            self._waiters.discard(entry)


def _wake(fut):
    if not fut.done():
        fut.set_result(None)
