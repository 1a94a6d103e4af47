"""Port binding as ML2 with the Open vSwitch mechanism driver does it: a port whose host runs a
live Open vSwitch agent is bound ``ovs`` (a trunk parent onto its trunk bridge ``tbr-*``, any
other port onto ``br-int``); a host without one gives ``binding_failed``; no host ``unbound``.
When an agent (re)registers, the ports of its host that failed to bind are bound again."""
from sqlalchemy import select, update

from trunkline.channel import agents
from trunkline.db import schema
from trunkline.plugins.ports import BINDING_FAILED, UNBOUND

P, T = schema.ports, schema.trunks
VIF_OVS = "ovs"


def bind(conn, host, values):
    """PortPlugin's binder: (vif_type, vif_details) for a port with ``values`` on ``host``."""
    if not host:
        return UNBOUND, {}
    agent = agents.live_agent(conn, host)
    if agent is None:
        return BINDING_FAILED, {}
    trunk_id = conn.execute(select(T.c.id).where(T.c.port_id == values["id"])).scalar()
    return VIF_OVS, vif_details(agent, trunk_id)


def vif_details(agent, trunk_id=None):
    return {"port_filter": True, "connectivity": "l2", "ovs_hybrid_plug": False,
            "datapath_type": (agent.configurations or {}).get("datapath_type", "system"),
            "bridge_name": trunk_bridge(trunk_id) if trunk_id else "br-int"}


def trunk_bridge(trunk_id):
    return "tbr-" + trunk_id[:10]


def rebind_host(txn, host):
    """Bind the ports of ``host`` that failed to bind, now that its OVS agent is alive."""
    agent = agents.live_agent(txn.conn, host)
    if agent is None:
        return
    failed = list(txn.execute(select(P.c.id).where(P.c.host == host,
                                                   P.c.vif_type == BINDING_FAILED)).scalars())
    if not failed:
        return
    trunks = dict(txn.execute(select(T.c.port_id, T.c.id).where(T.c.port_id.in_(failed))).all())
    for port_id in failed:
        txn.execute(update(P).where(P.c.id == port_id).values(
            vif_type=VIF_OVS, vif_details=vif_details(agent, trunks.get(port_id)),
            revision_number=P.c.revision_number + 1, updated_at=txn.now))
        txn.record("port", port_id, "update", [host])
