"""Port binding as ML2 with the Open vSwitch and Linux bridge mechanism drivers does it: a port
whose host runs a live Open vSwitch agent is bound ``ovs`` (a trunk parent onto its trunk bridge
``tbr-*``, any other port onto ``br-int``); one whose host runs a live Linux bridge agent is
bound ``bridge`` (Nova plugs the tap, the agent puts it into ``brq<net>``); a host without a
live L2 agent gives ``binding_failed``; no host ``unbound``. When an L2 agent (re)registers, the
ports of its host that failed to bind are bound again."""
from sqlalchemy import select, update

from trunkline.channel import agents
from trunkline.db import schema
from trunkline.plugins.ports import BINDING_FAILED, UNBOUND

P, T = schema.ports, schema.trunks
VIF_OVS = "ovs"
VIF_BRIDGE = "bridge"


def bind(conn, host, values):
    """PortPlugin's binder: (vif_type, vif_details) for a port with ``values`` on ``host``."""
    if not host:
        return UNBOUND, {}
    agent = l2_agent(conn, host)
    if agent is None:
        return BINDING_FAILED, {}
    trunk_id = None
    if agent.agent_type == agents.OVS:
        trunk_id = conn.execute(select(T.c.id).where(T.c.port_id == values["id"])).scalar()
    return vif(agent, trunk_id)


def l2_agent(conn, host):
    """The live L2 agent of ``host`` (Open vSwitch first, as ML2 tries its drivers in order)."""
    for agent_type in agents.L2_AGENT_TYPES:
        agent = agents.live_agent(conn, host, agent_type)
        if agent is not None:
            return agent
    return None


def vif(agent, trunk_id=None):
    """(vif_type, vif_details) on ``agent``'s host."""
    if agent.agent_type == agents.LINUXBRIDGE:
        return VIF_BRIDGE, {"port_filter": True, "connectivity": "l2"}
    return VIF_OVS, vif_details(agent, trunk_id)


def vif_details(agent, trunk_id=None):
    return {"port_filter": True, "connectivity": "l2", "ovs_hybrid_plug": False,
            "datapath_type": (agent.configurations or {}).get("datapath_type", "system"),
            "bridge_name": trunk_bridge(trunk_id) if trunk_id else "br-int"}


def trunk_bridge(trunk_id):
    return "tbr-" + trunk_id[:10]


def rebind_host(txn, host):
    """Bind the ports of ``host`` that failed to bind, now that its L2 agent is alive."""
    agent = l2_agent(txn.conn, host)
    if agent is None:
        return
    failed = list(txn.execute(select(P.c.id).where(P.c.host == host,
                                                   P.c.vif_type == BINDING_FAILED)).scalars())
    if not failed:
        return
    trunks = dict(txn.execute(select(T.c.port_id, T.c.id).where(T.c.port_id.in_(failed))).all())
    for port_id in failed:
        vif_type, details = vif(agent, trunks.get(port_id))
        txn.execute(update(P).where(P.c.id == port_id).values(
            vif_type=vif_type, vif_details=details,
            revision_number=P.c.revision_number + 1, updated_at=txn.now))
        txn.record("port", port_id, "update", [host])
