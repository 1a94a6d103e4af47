"""Port binding as ML2 with the Open vSwitch and Linux bridge mechanism drivers does it: a port
whose host runs a live Open vSwitch agent is bound ``ovs`` onto ``br-int`` (a service may
name another bridge through a binding extender: a trunk parent's is its trunk bridge); one
whose host runs a live Linux bridge agent is bound ``bridge`` (Nova plugs the tap, the agent
puts it into ``brq<net>``); a host without a live L2 agent gives ``binding_failed``; no host
``unbound``. When an L2 agent (re)registers, the ports of its host that failed to bind are
bound again."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

from sqlalchemy import select, update

from trunkline import constants as k
from trunkline.db import schema
from trunkline.plugins import agents, events

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from trunkline.db.engine import Txn

P = schema.ports


def bind(conn: Connection, host: str, port_id: str) -> tuple:
    """(vif_type, vif_details) for port ``port_id`` bound to ``host``."""
    if not host:
        return k.VIF_TYPE_UNBOUND, {}
    agent = agents.live_l2_agent(conn, host)
    if agent is None:
        return k.VIF_TYPE_BINDING_FAILED, {}
    return vif(agent, events.binding_details(conn, [port_id], agent).get(port_id))


def vif(agent: Any, extra: Optional[dict] = None) -> tuple:
    """(vif_type, vif_details) on ``agent``'s host, with a binding extender's ``extra``."""
    if agent.agent_type == k.AGENT_LINUXBRIDGE:
        return k.VIF_TYPE_BRIDGE, {"port_filter": True, "connectivity": "l2"}
    # Neutron's OVS mechanism driver: port_filter (security groups on) and connectivity are
    # the server's; hybrid plugging, the datapath and the integration bridge are what the
    # host's agent reports (a trunk parent's bridge then comes from the binding extender)
    conf = agent.configurations or {}
    details = {"port_filter": True, "connectivity": "l2",
               "ovs_hybrid_plug": conf.get("ovs_hybrid_plug", False),
               "datapath_type": conf.get("datapath_type", "system")}
    if conf.get("integration_bridge"):
        details["bridge_name"] = conf["integration_bridge"]
    details.update(extra or {})
    return k.VIF_TYPE_OVS, details


def rebind_host(txn: Txn, host: str) -> None:
    """Bind the ports of ``host`` that failed to bind, now that its L2 agent is alive."""
    agent = agents.live_l2_agent(txn.conn, host)
    if agent is None:
        return
    failed = txn.execute(select(P).where(P.c.host == host,
                                         P.c.vif_type == k.VIF_TYPE_BINDING_FAILED)).all()
    if not failed:
        return
    extra = events.binding_details(txn.conn, [r.id for r in failed], agent)
    new = {}
    for row in failed:
        vif_type, details = vif(agent, extra.get(row.id))
        new[row.id] = {"vif_type": vif_type, "vif_details": details}
        txn.execute(update(P).where(P.c.id == row.id).values(
            revision_number=P.c.revision_number + 1, updated_at=txn.now, **new[row.id]))
    events.publish(txn, "port", events.UPDATE, list(new), old={r.id: r for r in failed},
                   new=new, changed={"vif_type", "vif_details"})


def has_unbound(conn: Connection, host: str) -> bool:
    """Does ``host`` have ports that failed to bind (one query)?"""
    return conn.execute(select(P.c.id).where(
        P.c.host == host, P.c.vif_type == k.VIF_TYPE_BINDING_FAILED).limit(1)).first() is not None
