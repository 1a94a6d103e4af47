"""Tags of resources with standard attributes (standard-attr-tag): replace all, add one, remove
one; each moves the resource's revision and is an update of the resource like any other (the
change log sees it)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from trunkline import exceptions as exc
from trunkline.definitions import MAX_TAGS
from trunkline.plugins import common, events

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from trunkline.db.engine import Txn


def get(conn: Connection, plugin: Any, resource_id: str) -> list:
    plugin.get_row(conn, resource_id)
    return common.load_tags(conn, [resource_id]).get(resource_id, [])


def replace(txn: Txn, plugin: Any, resource_id: str, tags: list) -> list:
    """Set exactly ``tags``; returns them sorted."""
    row = plugin.get_row(txn.conn, resource_id)
    new = sorted(set(tags))
    common.set_tags(txn, resource_id, new)
    _changed(txn, plugin, row)
    return new


def add(txn: Txn, plugin: Any, resource_id: str, tag: str) -> None:
    row = plugin.get_row(txn.conn, resource_id)
    current = common.load_tags(txn.conn, [resource_id]).get(resource_id, [])
    if tag in current:
        return
    if len(current) >= MAX_TAGS:
        raise too_many(plugin.resource.collection)
    common.set_tags(txn, resource_id, current + [tag])
    _changed(txn, plugin, row)


def remove(txn: Txn, plugin: Any, resource_id: str, tag: str) -> None:
    row = plugin.get_row(txn.conn, resource_id)
    current = common.load_tags(txn.conn, [resource_id]).get(resource_id, [])
    if tag not in current:
        raise exc.TagNotFound(tag=tag)
    common.set_tags(txn, resource_id, [t for t in current if t != tag])
    _changed(txn, plugin, row)


def too_many(collection: str) -> exc.NeutronError:
    return exc.BadRequest(resource=collection,
                          msg="The number of tags exceed the per-resource limit of %d" % MAX_TAGS)


def _changed(txn, plugin, row):
    common.bump(txn, plugin.table, row.id)
    events.publish(txn, plugin.resource.member, events.UPDATE, [row.id], old={row.id: row},
                   changed={"tags"})
