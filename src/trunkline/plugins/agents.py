"""Neutron's ``agents`` resource: the agents table as the API shows it (list with filters such
as ``agent_type``, ``host`` and ``alive``, show, update of admin_state_up/description, delete
of a dead agent), and what the rest of the server asks of it (is there a live agent on a host?
which hosts have a live one, which a dead one?).

An agent is alive while its last heartbeat is at most ``down_time`` seconds old: Neutron's
``agent_down_time`` (default 75 s; ``trunkline server --agent-down-time``)."""
from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Iterable, Optional

from sqlalchemy import and_, delete, or_, select, update

from trunkline import constants as k
from trunkline import definitions
from trunkline import exceptions as exc
from trunkline.db import schema
from trunkline.plugins import common

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Row

    from trunkline.db.engine import Txn
    from trunkline.plugins.common import Context, ListQuery

G = schema.agents
DOWN_TIME = 75.0                            # Neutron's agent_down_time default
down_time = DOWN_TIME
RETENTION = 14 * 24 * 3600.0                # rows of agents dead this long are deleted
retention = RETENTION
# ML2's mechanism drivers and the agent each binds ports to; l2population is always on
MECHANISM_AGENTS = {"openvswitch": k.AGENT_OVS, "linuxbridge": k.AGENT_LINUXBRIDGE}
MECHANISM_DRIVERS = tuple(MECHANISM_AGENTS) + ("l2population",)
bind_types = k.L2_AGENT_TYPES              # the L2 agents a port binds to, in this order
ZONES = {k.AGENT_DHCP: "nova"}              # L2 agents have no availability zone


def stamp(when: datetime.datetime) -> str:
    """An agent timestamp as Neutron prints it: ``2017-09-12 19:42:09`` (UTC)."""
    return when.strftime("%Y-%m-%d %H:%M:%S")


def utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def now() -> str:
    return stamp(utcnow())


def configure(agent_down_time: float, mechanism_drivers: Iterable[str] = (),
              agent_retention: float = RETENTION) -> None:
    """Set how long after its last heartbeat an agent counts as dead, how long after it its
    row is deleted (0: never) and, from ML2's ``mechanism_drivers`` (in order; none: both),
    which L2 agents ports are bound to."""
    global down_time, bind_types, retention
    down_time = float(agent_down_time)
    retention = float(agent_retention)
    types = [MECHANISM_AGENTS[d] for d in mechanism_drivers if d in MECHANISM_AGENTS]
    bind_types = tuple(types) or k.L2_AGENT_TYPES


def forget_gone(conn: Connection) -> list:
    """Delete the agents dead for longer than ``retention`` (none when it is 0); returns their
    (agent_type, host). A host back later registers anew."""
    if retention <= 0:
        return []
    cutoff = stamp(utcnow() - datetime.timedelta(seconds=retention))
    return [tuple(r) for r in conn.execute(delete(G).where(G.c.heartbeat_at < cutoff)
                                           .returning(G.c.agent_type, G.c.host))]


def alive_cutoff() -> str:
    """Agents whose last heartbeat is at or after this stamp are alive."""
    return stamp(datetime.datetime.now(datetime.timezone.utc)
                 - datetime.timedelta(seconds=down_time))


def live_agent(conn: Connection, host: str, agent_type: str = k.AGENT_OVS) -> Optional[Row]:
    """The live agent of ``agent_type`` on ``host``, or None (ML2 binds to a live agent
    whatever its admin_state_up)."""
    return conn.execute(select(G).where(
        G.c.host == host, G.c.agent_type == agent_type,
        G.c.heartbeat_at >= alive_cutoff())).first()


def live_l2_agent(conn: Connection, host: str) -> Optional[Row]:
    """The live L2 agent of ``host`` (Open vSwitch first, as ML2 tries its drivers in order)."""
    for agent_type in bind_types:
        agent = live_agent(conn, host, agent_type)
        if agent is not None:
            return agent
    return None


def live_hosts(conn: Connection, agent_types: Iterable[str] = k.L2_AGENT_TYPES) -> set:
    """The hosts whose L2 agent (Open vSwitch or Linux bridge) is alive."""
    return set(conn.execute(select(G.c.host).where(
        G.c.agent_type.in_(agent_types), G.c.heartbeat_at >= alive_cutoff())).scalars())


def dead_hosts(conn: Connection, agent_types: Iterable[str] = k.L2_AGENT_TYPES) -> set:
    """The hosts whose L2 agent has registered and stopped heartbeating."""
    return set(conn.execute(select(G.c.host).where(
        G.c.agent_type.in_(agent_types), G.c.heartbeat_at < alive_cutoff())).scalars())


def _alive_filter(values):
    cutoff = alive_cutoff()
    clauses = [G.c.heartbeat_at >= cutoff if value else G.c.heartbeat_at < cutoff
               for value in set(values)]
    return or_(*clauses) if len(clauses) > 1 else and_(*clauses)


class AgentPlugin(common.ResourcePlugin):
    resource = definitions.agent
    table = G
    custom_filters = {"alive": _alive_filter}

    def list(self, conn: Connection, ctx: Context, q: ListQuery,
             wanted: Optional[set] = None) -> list:
        return super().list(conn, ctx, q)   # a handful of rows: always whole

    def fill(self, conn: Connection, dicts: list, wanted: Optional[set]) -> None:
        cutoff = alive_cutoff()
        for d in dicts:
            d["alive"] = d["heartbeat_timestamp"] >= cutoff
            d["availability_zone"] = ZONES.get(d["agent_type"])
            d["resources_synced"] = None

    def create(self, txn: Txn, ctx: Context, res: dict) -> str:
        raise exc.HTTPMethodNotAllowed()

    def update(self, txn: Txn, ctx: Context, agent_id: str, res: dict,
               if_match: Optional[int] = None) -> str:
        self.get_row(txn.conn, agent_id)
        values = {k: res[k] for k in ("admin_state_up", "description") if res.get(k) is not None}
        if values:
            txn.execute(update(G).where(G.c.id == agent_id).values(**values))
        return agent_id

    def delete(self, txn: Txn, ctx: Context, agent_id: str, if_match: Optional[int] = None) -> None:
        row = self.get_row(txn.conn, agent_id)
        if row.heartbeat_at >= alive_cutoff():
            raise exc.AgentAlive(id=agent_id)
        txn.execute(delete(G).where(G.c.id == agent_id))
