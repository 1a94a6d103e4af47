"""Networks: create with a segment (tenant VXLAN by default, provider VLAN/flat for admins),
MTU as Neutron computes it (and no lower than its subnets' IP versions need), update, and
delete (refused while non-network ports remain; the network's own ports and subnets go with
it)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Iterable, Optional

from sqlalchemy import delete, insert, select

from trunkline import constants as k
from trunkline import exceptions as exc
from trunkline import definitions
from trunkline.db import schema
from trunkline.plugins import common, events, segments

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from trunkline.db.engine import Txn
    from trunkline.plugins.common import Context

N = schema.networks
# the smallest MTU a subnet of each IP version works on (RFC 791, RFC 8200)
MIN_MTU = {4: 68, 6: 1280}
SIMPLE = ("name", "description", "admin_state_up", "shared", "router:external",
          "port_security_enabled")
_SUBNETS = common.ByIds(select(schema.subnets.c.network_id, schema.subnets.c.id),
                        schema.subnets.c.network_id)
_OWNERS = common.ByIds(select(N.c.id, N.c.project_id, N.c.shared, N.c.router_external), N.c.id)


class NetworkPlugin(common.ResourcePlugin):
    resource = definitions.network
    table = N

    def fill(self, conn: Connection, dicts: list, wanted: Optional[set]) -> None:
        if not common.wants(wanted, "subnets"):
            return
        ids = [d["id"] for d in dicts]
        subnets = {}
        if ids:
            for net_id, sub_id in _SUBNETS.raw(conn, ids):
                subnets.setdefault(net_id, []).append(sub_id)
        for d in dicts:
            d["subnets"] = subnets.get(d["id"], [])

    @staticmethod
    def owners(conn: Connection, network_ids: Iterable) -> dict:
        """``{id: (project_id, shared, router:external)}`` for the networks that exist: what
        the policy engine knows about the network a subnet or port lives on."""
        ids = [i for i in network_ids if isinstance(i, str)]
        if not ids:
            return {}
        wanted = set(ids)
        return {nid: (project, shared, external)
                for nid, project, shared, external in _OWNERS.execute(conn, ids) if nid in wanted}

    # -- writing

    def create(self, txn: Txn, ctx: Context, res: dict) -> str:
        ntype, physnet, seg_id = segments.segment_for(txn.conn, self.cfg, res)
        top = segments.max_mtu(self.cfg, ntype)
        mtu = res.get("mtu")
        if mtu is None:
            mtu = top
        elif mtu > top:
            raise _mtu_too_big(top)
        net_id = common.new_id()
        values = common.standard_values(txn, ctx, res, net_id)
        values.update(self.shape.values(res, SIMPLE), status=k.ACTIVE, mtu=mtu,
                      network_type=ntype, physical_network=physnet, segmentation_id=seg_id)
        txn.execute(insert(N).values(**values))
        events.publish(txn, "network", events.CREATE, [net_id], new={net_id: values})
        return net_id

    def update(self, txn: Txn, ctx: Context, network_id: str, res: dict,
               if_match: Optional[int] = None) -> str:
        row = self.get_row(txn.conn, network_id)
        common.check_revision(row, if_match)
        values = self.shape.values(res, SIMPLE)
        if "mtu" in res:
            top = segments.max_mtu(self.cfg, row.network_type)
            mtu = res["mtu"] if res["mtu"] is not None else top
            if mtu > top:
                raise _mtu_too_big(top)
            versions = txn.execute(select(schema.subnets.c.ip_version).distinct().where(
                schema.subnets.c.network_id == network_id)).scalars()
            needed = max((MIN_MTU[v] for v in versions), default=0)
            if mtu < needed:
                raise exc.NetworkMTUSubnetConflict(net_id=network_id, mtu=needed)
            values["mtu"] = mtu
        common.bump(txn, N, network_id, values)
        events.publish(txn, "network", events.UPDATE, [network_id], old={network_id: row},
                       new={network_id: values}, changed=values)
        return network_id

    def delete(self, txn: Txn, ctx: Context, network_id: str,
               if_match: Optional[int] = None) -> None:
        row = self.get_row(txn.conn, network_id)
        common.check_revision(row, if_match)
        events.before(txn, events.Change("network", events.DELETE, [network_id],
                                         old={network_id: row}))
        p = schema.ports
        ports = txn.execute(select(p).where(p.c.network_id == network_id)).all()
        in_use = [r.id for r in ports if not k.is_network_owned(r.device_owner)]
        if in_use:
            raise exc.NetworkInUse(net_id=network_id, port_ids=", ".join(in_use))
        port_ids = [r.id for r in ports]
        s = schema.subnets
        subnets = txn.execute(select(s).where(s.c.network_id == network_id)).all()
        if port_ids:
            txn.execute(delete(p).where(p.c.id.in_(port_ids)))
        txn.execute(delete(s).where(s.c.network_id == network_id))
        txn.execute(delete(N).where(N.c.id == network_id))
        common.delete_tags(txn, [network_id] + [r.id for r in subnets] + port_ids)
        if port_ids:
            events.publish(txn, "port", events.DELETE, port_ids, old={r.id: r for r in ports})
        if subnets:
            events.publish(txn, "subnet", events.DELETE, [r.id for r in subnets],
                           old={r.id: r for r in subnets})
        events.publish(txn, "network", events.DELETE, [network_id], old={network_id: row})


def _mtu_too_big(top):
    return exc.InvalidInput(error_message="Requested MTU is too big, maximum is %d" % top)
