"""``POST /agent/v1/agents``: an agent registers, and then heartbeats, by posting its report
(upsert by (agent_type, host)). ``started_at`` moves when the agent says it (re)started
(``start_flag``) or comes back after it was dead. An Open vSwitch agent's report also binds the
ports of its host that failed to bind while it was away; an L2 agent whose VTEP appears, comes
back or moves is published (channel/wake.py wakes the hosts sharing a tunnel network with it).

Most reports are plain heartbeats of a live agent whose report is unchanged: ``heartbeat``
refreshes the agent row alone, without the revision (``Database.write_unlogged``), so a
thousand agents' heartbeats neither queue on the one serialised lane nor wake a watch;
anything else goes through ``report``, a full write."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

from sqlalchemy import insert, select, update

from trunkline import constants as k
from trunkline import exceptions as exc
from trunkline.db import schema
from trunkline.plugins import agents, binding, common, events

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Row

    from trunkline.db.engine import Txn

G = schema.agents


def parse(body: Any) -> dict:
    """Validate a report: host, agent_type, binary (strings), configurations (an object)."""
    if not isinstance(body, dict):
        raise exc.HTTPBadRequest("Body contains invalid data")
    for key in ("host", "agent_type", "binary"):
        value = body.get(key)
        if not isinstance(value, str) or not value or len(value) > 255:
            raise exc.InvalidInput(error_message="'%s' must be a non-empty string of at most "
                                                 "255 characters" % key)
    configurations = body.get("configurations", {})
    if not isinstance(configurations, dict):
        raise exc.InvalidInput(error_message="'configurations' must be an object")
    seconds = body.get("pass_seconds")
    if seconds is not None and (isinstance(seconds, bool) or not isinstance(seconds, (int, float))
                                or not 0 <= seconds < 1e9):
        raise exc.InvalidInput(error_message="'pass_seconds' must be a number of seconds")
    return {"host": body["host"], "agent_type": body["agent_type"], "binary": body["binary"],
            "configurations": configurations, "start_flag": bool(body.get("start_flag")),
            "pass_seconds": seconds}


def heartbeat(conn: Connection, rep: dict) -> Optional[Row]:
    """The report of a live agent that changes nothing but its heartbeat: one UPDATE of the
    row's ``heartbeat_at``, only while the agent is alive (one that died, its ports set DOWN by
    channel/health.py, comes back through ``report``). Returns the agent's row, or None when
    the report needs the full write (new agent, dead one, start_flag, another binary or
    configurations, ports of its host left to bind)."""
    if rep["start_flag"]:
        return None
    values = {"heartbeat_at": agents.now()}
    if rep.get("pass_seconds") is not None:
        values["pass_seconds"] = rep["pass_seconds"]
    row = conn.execute(update(G).where(
        G.c.agent_type == rep["agent_type"], G.c.host == rep["host"],
        G.c.heartbeat_at >= agents.alive_cutoff()).values(**values)
        .returning(*G.c)).first()
    if row is None or row.binary != rep["binary"] \
            or (row.configurations or {}) != rep["configurations"]:
        return None
    if rep["agent_type"] in k.L2_AGENT_TYPES and binding.has_unbound(conn, rep["host"]):
        return None
    return row


def report(txn: Txn, rep: dict) -> str:
    """Insert or refresh the agent; returns its id."""
    stamp = agents.now()
    row = txn.execute(select(G).where(G.c.agent_type == rep["agent_type"],
                                      G.c.host == rep["host"])).first()
    values = {"binary": rep["binary"], "configurations": rep["configurations"],
              "heartbeat_at": stamp}
    if rep.get("pass_seconds") is not None:
        values["pass_seconds"] = rep["pass_seconds"]
    # a VTEP that appears, comes back or moves: the hosts sharing a tunnel network must know
    announce = rep["agent_type"] in k.L2_AGENT_TYPES and (
        row is None or row.heartbeat_at < agents.alive_cutoff()
        or (row.configurations or {}).get("tunnel_ip") != rep["configurations"].get("tunnel_ip"))
    if row is None:
        agent_id = common.new_id()
        txn.execute(insert(G).values(
            id=agent_id, agent_type=rep["agent_type"], host=rep["host"],
            topic=k.AGENT_TOPICS.get(rep["agent_type"], "N/A"), admin_state_up=True,
            created_at=stamp, started_at=stamp, description="", **values))
    else:
        agent_id = row.id
        if rep["start_flag"] or row.heartbeat_at < agents.alive_cutoff():
            values["started_at"] = stamp
        txn.execute(update(G).where(G.c.id == agent_id).values(**values))
    if announce:
        events.publish(txn, "agent", events.UPDATE, [agent_id], old={agent_id: row},
                       new={agent_id: dict(values, host=rep["host"])}, changed={"tunnel_ip"})
    if rep["agent_type"] in k.L2_AGENT_TYPES:
        binding.rebind_host(txn, rep["host"])
    return agent_id
