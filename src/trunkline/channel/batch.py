"""Reading the desired states asked for together in one go.

A change that concerns a thousand hosts wakes a thousand watches, and a thousand agents ask
for their state at once. Each request waits for the next turn of the event loop; by then every
request the loop has received meanwhile is waiting too, and ``state.host_states`` reads them
all (up to BATCH hosts per snapshot) with the queries of one. A lone request is read at once:
a batch adds no latency, it only forms under load.
"""
import asyncio

from trunkline.channel import state

BATCH = 200


class StateBatcher:
    def __init__(self, db):
        self.db = db
        self.pending = {}   # dhcp flag -> {host: [futures]}

    async def get(self, host, dhcp=False):
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        if not self.pending:
            loop.call_soon(self._run)
        self.pending.setdefault(dhcp, {}).setdefault(host, []).append(fut)
        return await fut

    def _run(self):
        pending, self.pending = self.pending, {}
        for dhcp, by_host in pending.items():
            hosts = sorted(by_host)
            for i in range(0, len(hosts), BATCH):
                chunk = hosts[i:i + BATCH]
                try:
                    states = state.host_states(self.db, chunk, dhcp)
                except Exception as e:      # each request answers it (503, or a 500)
                    for host in chunk:
                        _settle(by_host[host], exception=e)
                else:
                    for host in chunk:
                        _settle(by_host[host], result=states[host])


def _settle(futures, result=None, exception=None):
    for fut in futures:
        if fut.done():          # the client went away
            continue
        if exception is not None:
            fut.set_exception(exception)
        else:
            fut.set_result(result)
