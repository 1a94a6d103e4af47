"""Which events Nova must hear of when the core changes a port, as Neutron's nova notifier
decides them, and the subscription that queues them once the change has committed.

Only a Nova instance's port counts: ``device_owner`` ``compute:*`` and a UUID ``device_id`` (a
trunk's subport, ``trunk:subport``, never does). Then:

- its status going from DOWN or BUILD to ACTIVE gives ``network-vif-plugged`` ``completed``,
  to ERROR ``network-vif-plugged`` ``failed``; from ACTIVE to DOWN ``network-vif-unplugged``
  ``completed``; every other transition nothing (whoever made it: an agent's report, a dead
  host, an API update that moved the port);
- an API update of it gives ``network-changed`` (Neutron sends it for every ``update_port``
  of such a port, whatever changed, naming the port in ``tag``);
- its deletion gives ``network-vif-deleted``.

Events name the instance (``server_uuid`` = ``device_id``) and the port (``tag``).
"""
from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Callable, Optional

from sqlalchemy import select

from trunkline import constants as k
from trunkline.db import schema
from trunkline.plugins import events

if TYPE_CHECKING:
    from trunkline.db.engine import Txn
    from trunkline.plugins.events import Change

P = schema.ports
VIF_PLUGGED = "network-vif-plugged"
VIF_UNPLUGGED = "network-vif-unplugged"
VIF_DELETED = "network-vif-deleted"
NETWORK_CHANGED = "network-changed"
COMPLETED, FAILED = "completed", "failed"


def is_compute_port(device_id: Optional[str], device_owner: Optional[str]) -> bool:
    return bool(device_id) and (device_owner or "").startswith(k.OWNER_COMPUTE_PREFIX) and \
        uuid_like(device_id)


def uuid_like(value: str) -> bool:
    """oslo.utils' ``is_uuid_like``: what Neutron's notifier and Nova's schema (format
    ``uuid``) both accept, so no event carries a ``server_uuid`` Nova would refuse."""
    try:
        plain = value.replace("urn:", "").replace("uuid:", "").strip("{}").replace("-", "")
        return str(uuid.UUID(value)).replace("-", "") == plain.lower()
    except (TypeError, ValueError, AttributeError):
        return False


def status_event(port_id: str, device_id: str, old: str, new: str) -> Optional[dict]:
    """The event a status transition gives, or None."""
    if old == k.ACTIVE and new == k.DOWN:
        name, status = VIF_UNPLUGGED, COMPLETED
    elif old in (None, k.DOWN, k.BUILD) and new in (k.ACTIVE, k.ERROR):
        name, status = VIF_PLUGGED, COMPLETED if new == k.ACTIVE else FAILED
    else:
        return None
    return {"name": name, "server_uuid": device_id, "status": status, "tag": port_id}


def port_events(txn: Txn, change: Change) -> list:
    """The events for Nova of one port change (read in its transaction)."""
    if change.op == events.DELETE:
        return [{"name": VIF_DELETED, "server_uuid": row.device_id, "tag": port_id}
                for port_id, row in change.old.items()
                if is_compute_port(row.device_id, row.device_owner)]
    if change.op != events.UPDATE:
        return []
    status_ids = [pid for pid in change.ids if "status" in change.changed and pid in change.old]
    api_ids = list(change.ids) if change.request is not None else []
    if not status_ids and not api_ids:
        return []
    # the port as it is now, in this transaction: a change's ``new`` holds only what it set
    now = {r.id: r for r in txn.execute(
        select(P.c.id, P.c.device_id, P.c.device_owner, P.c.status)
        .where(P.c.id.in_(sorted(set(status_ids) | set(api_ids)))))}
    out = []
    for pid in status_ids:
        row = now.get(pid)
        if row is not None and is_compute_port(row.device_id, row.device_owner):
            ev = status_event(pid, row.device_id, change.old[pid].status, row.status)
            if ev:
                out.append(ev)
    for pid in api_ids:
        row = now.get(pid)
        if row is not None and is_compute_port(row.device_id, row.device_owner):
            out.append({"name": NETWORK_CHANGED, "server_uuid": row.device_id, "tag": pid})
    return out


def subscribe(queue: Callable[[list], None]) -> None:
    """From now on, ``queue(events)`` gets what every committed port change must tell Nova
    (one queue per process: subscribing again replaces it)."""
    _queue[:] = [queue]
    for op in (events.UPDATE, events.DELETE):
        events.subscribe(events.AFTER, "port", op, after_port_change)


_queue = []


def after_port_change(txn: Txn, change: Change) -> None:
    found = port_events(txn, change) if _queue else []
    if found:
        queue = _queue[0]
        txn.after_commit(lambda: queue(found))
