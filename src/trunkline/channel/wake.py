"""Which agents a change concerns: the one place that decides, from a change the core or a
service published (plugins/events.py), whose watches it must wake — the ``hosts`` of its
change-log rows (channel/watch.py reads them).

- A port: the hosts it is and was bound to; when that changes what other hosts' L2 population
  shows (its host, state, MAC, addresses or status; its arrival or departure when it is the
  first or last port of its host on its network), every host with a port on its network too,
  if one of its hosts is a VTEP (channel/l2pop.py).
- A network or subnet: the hosts with a port on the network (empty hosts mean nobody for
  these kinds but DHCP agents, which watch every network).
- A trunk: the host of its parent port.
- An agent: the hosts sharing a tunnel network with it, when its VTEP appeared, came back or
  moved; no row at all when there are none.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select

from trunkline import constants as k
from trunkline.channel import l2pop
from trunkline.db import schema
from trunkline.plugins import events

if TYPE_CHECKING:
    from trunkline.db.engine import Txn

P = schema.ports
# what of a port other hosts' L2 population shows
L2POP_ATTRS = frozenset({"host", "admin_state_up", "mac_address", "status", "fixed_ips"})


def subscribe() -> None:
    events.subscribe(events.AFTER, "*", events.CREATE, audience)
    events.subscribe(events.AFTER, "*", events.UPDATE, audience)
    events.subscribe(events.AFTER, "*", events.DELETE, audience)


def audience(txn: Txn, change: events.Change) -> None:
    rule = _RULES.get(change.resource)
    if rule is not None:
        rule(txn.conn, change)


def _ports(conn, change):
    hosts = set()
    networks = set()
    for port_id in change.ids:
        old = change.old.get(port_id)
        if old is not None:
            hosts.add(old.host)
        host = change.value(port_id, "host", "")
        hosts.add(host)
        if change.op == events.UPDATE:
            if change.changed & L2POP_ATTRS:
                networks.add(change.value(port_id, "network_id"))
        elif host and (_announced(old) or l2pop.first_on_host(
                conn, change.value(port_id, "network_id"), host, port_id)):
            # a new port is DOWN: other hosts only learn of it when it makes its host a VTEP
            # of the network (going ACTIVE later, it is announced through its status report)
            networks.add(change.value(port_id, "network_id"))
    change.hosts.update(l2pop.network_hosts(conn, networks, hosts) if networks else
                        (h for h in hosts if h))


def _announced(old):
    """Did other hosts' L2 population show this (deleted) port?"""
    return old is not None and old.status == k.ACTIVE and old.admin_state_up


def _network_ports(conn, change, key):
    nets = {change.value(i, key) for i in change.ids} - {None}
    if nets:
        change.hosts.update(conn.execute(select(P.c.host).distinct().where(
            P.c.network_id.in_(sorted(nets)), P.c.host != "")).scalars())


def _trunks(conn, change):
    parents = {change.value(i, "port_id") for i in change.ids} - {None}
    if not parents:
        parents = set(conn.execute(select(schema.trunks.c.port_id).where(
            schema.trunks.c.id.in_(change.ids))).scalars())
    if parents:
        change.hosts.update(h for h in conn.execute(select(P.c.host).where(
            P.c.id.in_(sorted(parents)))).scalars() if h)


def _agents(conn, change):
    for agent_id in change.ids:
        change.hosts.update(l2pop.neighbour_hosts(conn, change.value(agent_id, "host")))
    change.quiet = not change.hosts


_RULES = {
    "port": _ports,
    "network": lambda conn, change: _network_ports(conn, change, "id")
    if change.op == events.UPDATE else None,
    "subnet": lambda conn, change: _network_ports(conn, change, "network_id"),
    "trunk": _trunks,
    "agent": _agents,
}
