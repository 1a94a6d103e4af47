"""Neutron's agents (the agent extension): registered by the agents themselves over the agent
channel; the API only lists, shows, updates admin_state_up/description and deletes them."""
from trunkline import exceptions as exc
from trunkline.definitions import base, checks as c
from trunkline.definitions import validators as v
from trunkline.definitions.base import Attr, Extension, Resource


class AgentNotFound(exc.NotFound):
    message = "Agent %(id)s could not be found."


AGENT = Resource(
    "agent", "agents", {
        "id": Attr(filter=True, sort=True, schema=base.UUID),
        "agent_type": Attr(filter=True, sort=True, schema=base.TEXT),
        "binary": Attr(filter=True, sort=True, schema=base.TEXT),
        "topic": Attr(filter=True, sort=True, schema=base.TEXT),
        "host": Attr(filter=True, sort=True, schema=base.TEXT),
        "admin_state_up": Attr(put=True, convert=v.to_boolean, **base.BOOL_FILTER),
        "created_at": Attr(sort=True, schema=base.TEXT),
        "started_at": Attr(sort=True, schema=base.TEXT),
        "heartbeat_timestamp": Attr(sort=True, column="heartbeat_at", schema=base.TEXT),
        "alive": Attr(filter=True, convert_filter=v.to_boolean, schema={"type": "boolean"}),
        "configurations": Attr(schema=base.OBJECT),
        "description": Attr(put=True, validate=v.description_string, filter=True, sort=True),
        "availability_zone": Attr(schema=dict(base.TEXT, nullable=True)),
        "resources_synced": Attr(schema={"type": "boolean", "nullable": True}),
    },
    not_found=lambda i: AgentNotFound(id=i),
    plugin="trunkline.plugins.agents:AgentPlugin",
    tags=False,
    scope=None,
    policies=(("get_agent", c.ADMIN), ("update_agent", c.ADMIN), ("delete_agent", c.ADMIN)))

EXTENSIONS = (Extension("agent", "agent", "The agent management extension.",
                        updated="2013-02-03T10:00:00-00:00", resources=(AGENT,)),)
