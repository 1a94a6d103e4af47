"""``POST /agent/v1/dhcp-port``: the DHCP port of (host, network), created on first use and
kept in line with the network's DHCP-enabled subnets (one address on each, the first free one),
as Neutron's DHCP agent sets up its port (device_id ``dhcp<uuid5(host)>-<network id>``)."""
from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from trunkline import constants as k
from trunkline import definitions
from trunkline import exceptions as exc
from trunkline.db import schema
from trunkline.definitions import NOTSET
from trunkline.plugins.common import Context

if TYPE_CHECKING:
    from trunkline.db.engine import Txn

P, A, SN = schema.ports, schema.ipallocations, schema.subnets


def device_id(host: str, network_id: str) -> str:
    return "dhcp%s-%s" % (uuid.uuid5(uuid.NAMESPACE_DNS, host), network_id)


def parse(body: Any) -> tuple:
    if not isinstance(body, dict) or not all(
            isinstance(body.get(k), str) and body[k] for k in ("host", "network_id")):
        raise exc.InvalidInput(error_message="a DHCP port request needs 'host' and "
                                             "'network_id'")
    return body["host"], body["network_id"]


def ensure(txn: Txn, ports: Any, host: str, network_id: str) -> str:
    """The id of the DHCP port of (host, network), created or brought up to date."""
    network = ports.networks.get_row(txn.conn, network_id)
    ctx = Context(project_id=network.project_id)
    wanted = list(txn.execute(select(SN.c.id).where(
        SN.c.network_id == network_id, SN.c.enable_dhcp.is_(True)).order_by(SN.c.id)).scalars())
    dev = device_id(host, network_id)
    port_id = txn.execute(select(P.c.id).where(P.c.device_id == dev,
                                               P.c.network_id == network_id)).scalar()
    if port_id is None:
        res = {name: attr.default for name, attr in definitions.port.attrs.items()
               if attr.post and attr.default is not NOTSET}
        res.update(network_id=network_id, device_id=dev, device_owner=k.OWNER_DHCP,
                   project_id=network.project_id, fixed_ips=[{"subnet_id": s} for s in wanted])
        res["binding:host_id"] = host
        return ports.create(txn, ctx, res)
    held = txn.execute(select(A.c.subnet_id, A.c.ip_address)
                       .where(A.c.port_id == port_id).order_by(A.c.ip_address)).all()
    first = {}
    for sid, ip in held:
        first.setdefault(sid, ip)
    if len(held) != len(wanted) or set(first) != set(wanted):
        fixed = [{"subnet_id": s, "ip_address": first[s]} if s in first else {"subnet_id": s}
                 for s in wanted]
        ports.update(txn, ctx, port_id, {"fixed_ips": fixed})
    return port_id
