"""What the security group service does when the core changes networks and ports, subscribed
to the core's events (plugins/events.py) the way Neutron's securitygroups_db and ML2's port
security processing take part in a port's create and update:

- a project's first network or port creates its default group (after create; a port update
  does too, as Neutron's BEFORE_UPDATE handler does);
- a port created without ``security_groups`` gets its project's default group, unless its
  owner is the network itself (``network:*``, which gets none) or it has no port security;
- ``security_groups`` on create or update name groups the caller may use (404 otherwise),
  never with port security off (400 ``PortSecurityAndIPRequiredForSecurityGroups``; turning
  port security off under bound groups is 409 ``PortSecurityPortHasSecurityGroup``);
- ports' answers carry ``security_groups`` (one query per list) and lists filter on it.

Only the API's own port writes (the change carries their request) are judged here: the core's
and other services' port updates (status reports, subports following their parent) never
create groups or touch bindings."""
from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from sqlalchemy import select

from trunkline import constants as k
from trunkline import exceptions as exc
from trunkline.db import schema
from trunkline.definitions import UNSPECIFIED
from trunkline.plugins import common, events
from trunkline.services.security_group import groups

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from trunkline.db.engine import Txn
    from trunkline.plugins.events import Change

P, B = schema.ports, schema.securitygroupportbindings
ATTR = "security_groups"


def subscribe() -> None:
    events.subscribe(events.AFTER, "network", events.CREATE, network_created)
    events.subscribe(events.AFTER, "port", events.CREATE, port_created)
    events.subscribe(events.AFTER, "port", events.UPDATE, port_updated)
    events.extend_dicts("port", port_groups)
    events.filter_by("port", ATTR, _ports_in_groups)


def _ports_in_groups(values):
    return P.c.id.in_(select(B.c.port_id).where(B.c.security_group_id.in_(values)))


def network_created(txn: Txn, change: Change) -> None:
    for network_id in change.ids:
        groups.ensure_default(txn, change.value(network_id, "project_id"))


def _trusted(device_owner) -> bool:
    return bool(device_owner) and k.is_network_owned(device_owner)


def port_created(txn: Txn, change: Change) -> None:
    if change.request is None:
        return
    res, ctx = change.request, change.context
    port_id = change.ids[0]
    project_id = change.value(port_id, "project_id")
    default_id = groups.ensure_default(txn, project_id)
    requested = res.get(ATTR, UNSPECIFIED)
    trusted = _trusted(change.value(port_id, "device_owner"))
    if change.value(port_id, "port_security_enabled"):
        if requested is UNSPECIFIED and not trusted and default_id is not None:
            requested = [default_id]
    elif requested is not UNSPECIFIED and requested:
        raise exc.PortSecurityAndIPRequiredForSecurityGroups()
    if trusted or requested is UNSPECIFIED or not requested:
        return
    groups.bind(txn, port_id, groups.visible(txn.conn, ctx, requested, project_id))


def port_updated(txn: Txn, change: Change) -> None:
    if change.request is None:
        return
    res, ctx = change.request, change.context
    for port_id in change.ids:
        old = change.old[port_id]
        groups.ensure_default(txn, old.project_id)
        current = groups.bound(txn.conn, [port_id]).get(port_id, [])
        requested = res.get(ATTR, UNSPECIFIED)
        if not change.value(port_id, "port_security_enabled"):
            if requested is not UNSPECIFIED and requested:
                raise exc.PortSecurityAndIPRequiredForSecurityGroups()
            if requested is UNSPECIFIED and current:
                raise exc.PortSecurityPortHasSecurityGroup()
        if requested is UNSPECIFIED or set(requested) == set(current):
            continue
        chosen = [] if _trusted(res.get("device_owner")) else \
            groups.visible(txn.conn, ctx, requested, res.get("project_id"))
        groups.bind(txn, port_id, chosen)


def port_groups(conn: Connection, dicts: list, wanted: Optional[set]) -> None:
    """``security_groups`` of the ports (one query)."""
    if not common.wants(wanted, ATTR) or not dicts:
        return
    bound = groups.bound(conn, [d["id"] for d in dicts])
    for d in dicts:
        d[ATTR] = bound.get(d["id"], [])
