"""``POST /agent/v1/status``: an agent reports what it achieved on its host. Port statuses
(ACTIVE, DOWN, BUILD, ERROR: it could not wire the port) apply to ports bound to that host only;
an admin-down port stays DOWN. Trunk statuses go through services/trunk/status.py. Every status
that changes bumps the resource's revision and is published as an update (plugins/events.py)."""
from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update

from trunkline import constants as k
from trunkline import exceptions as exc
from trunkline.db import schema
from trunkline.plugins import events
from trunkline.services.trunk import status as trunk_status

if TYPE_CHECKING:
    from trunkline.db.engine import Txn

P = schema.ports


def parse(body: Any) -> tuple:
    if not isinstance(body, dict) or not isinstance(body.get("host"), str) or not body["host"]:
        raise exc.InvalidInput(error_message="a status report needs a 'host'")
    ports, trunks = body.get("ports") or {}, body.get("trunks") or {}
    _check(ports, k.PORT_STATUSES, "ports")
    _check(trunks, trunk_status.REPORTABLE, "trunks")
    return body["host"], ports, trunks


def _check(statuses, allowed, key):
    if not isinstance(statuses, dict):
        raise exc.InvalidInput(error_message="'%s' must map ids to statuses" % key)
    bad = sorted(str(s) for s in statuses.values() if s not in allowed)
    if bad:
        raise exc.InvalidInput(error_message="invalid %s status %s (allowed: %s)"
                               % (key, bad[0], ", ".join(allowed)))


def apply(txn: Txn, host: str, ports: dict, trunks: dict) -> None:
    _apply_ports(txn, host, ports)
    trunk_status.apply_reports(txn, host, trunks)


def _apply_ports(txn, host, statuses):
    if not statuses:
        return
    rows = txn.execute(select(P).where(P.c.id.in_(list(statuses)), P.c.host == host)).all()
    by_status = defaultdict(list)
    for row in rows:
        new = statuses[row.id] if row.admin_state_up else k.DOWN
        if new != row.status:
            by_status[new].append(row)
    for new, changed in by_status.items():
        ids = [r.id for r in changed]
        txn.execute(update(P).where(P.c.id.in_(ids)).values(
            status=new, revision_number=P.c.revision_number + 1, updated_at=txn.now))
        events.publish(txn, "port", events.UPDATE, ids, old={r.id: r for r in changed},
                       new={pid: {"status": new} for pid in ids}, changed={"status"})
