"""Networks: create with a segment (tenant VXLAN by default, provider VLAN/flat for admins),
MTU as Neutron computes it (and no lower than its subnets' IP versions need), update, and delete (refused while non-network ports remain)."""
from sqlalchemy import delete, insert, select

from trunkline import definitions
from trunkline import exceptions as exc
from trunkline.db import schema
from trunkline.plugins import common, segments

N = schema.networks
# the smallest MTU a subnet of each IP version works on (RFC 791, RFC 8200)
MIN_MTU = {4: 68, 6: 1280}


class NetworkPlugin:
    resource = definitions.network
    table = N

    def __init__(self, cfg):
        self.cfg = cfg

    # -- reading

    def dicts(self, conn, rows):
        ids = [r.id for r in rows]
        tags = common.load_tags(conn, ids)
        subnets = {}
        if ids:
            s = schema.subnets
            stmt = common.restrict(select(s.c.network_id, s.c.id), s.c.network_id, ids)
            for net_id, sub_id in conn.execute(stmt):
                subnets.setdefault(net_id, []).append(sub_id)
        return [self._dict(r, tags, subnets.get(r.id, [])) for r in rows]

    def _dict(self, r, tags, subnet_ids):
        d = common.standard_dict(r, tags)
        d.update({
            "admin_state_up": r.admin_state_up, "status": r.status, "subnets": subnet_ids,
            "shared": r.shared, "router:external": r.router_external,
            "port_security_enabled": r.port_security_enabled, "mtu": r.mtu,
            "provider:network_type": r.network_type,
            "provider:physical_network": r.physical_network or None,
            "provider:segmentation_id": r.segmentation_id or None,
        })
        return d

    def list(self, conn, ctx, q):
        return self.dicts(conn, common.select_rows(conn, N, self.resource, q))

    def get_row(self, conn, network_id):
        return common.get_row(conn, N, network_id, exc.NetworkNotFound(net_id=network_id))

    def get(self, conn, ctx, network_id):
        return self.dicts(conn, [self.get_row(conn, network_id)])[0]

    @staticmethod
    def owners(conn, network_ids):
        """``{id: (project_id, shared, router:external)}`` for the networks that exist: what
        the policy engine knows about the network a subnet or port lives on."""
        ids = [i for i in network_ids if isinstance(i, str)]
        if not ids:
            return {}
        stmt = common.restrict(select(N.c.id, N.c.project_id, N.c.shared, N.c.router_external),
                               N.c.id, ids)
        wanted = set(ids)
        return {nid: (project, shared, external)
                for nid, project, shared, external in conn.execute(stmt) if nid in wanted}

    # -- writing

    def create(self, txn, ctx, res):
        ntype, physnet, seg_id = segments.segment_for(txn.conn, self.cfg, res)
        top = segments.max_mtu(self.cfg, ntype)
        mtu = res.get("mtu")
        if mtu is None:
            mtu = top
        elif mtu > top:
            raise exc.InvalidInput(error_message="Requested MTU is too big, maximum is %d" % top)
        net_id = common.new_id()
        values = common.standard_values(txn, ctx, res, net_id)
        values.update(admin_state_up=res["admin_state_up"], status="ACTIVE",
                      shared=res["shared"], router_external=res["router:external"],
                      port_security_enabled=res["port_security_enabled"], mtu=mtu,
                      network_type=ntype, physical_network=physnet, segmentation_id=seg_id)
        txn.execute(insert(N).values(**values))
        txn.record("network", net_id, "create")
        return net_id

    def update(self, txn, ctx, network_id, res, if_match=None):
        row = common.get_row(txn.conn, N, network_id, exc.NetworkNotFound(net_id=network_id))
        common.check_revision(row, if_match)
        values = {}
        for attr in ("name", "description", "admin_state_up", "shared", "port_security_enabled"):
            if attr in res:
                values[attr] = res[attr]
        if "router:external" in res:
            values["router_external"] = res["router:external"]
        if "mtu" in res:
            top = segments.max_mtu(self.cfg, row.network_type)
            mtu = res["mtu"] if res["mtu"] is not None else top
            if mtu > top:
                raise exc.InvalidInput(
                    error_message="Requested MTU is too big, maximum is %d" % top)
            versions = txn.execute(select(schema.subnets.c.ip_version).distinct().where(
                schema.subnets.c.network_id == network_id)).scalars()
            needed = max((MIN_MTU[v] for v in versions), default=0)
            if mtu < needed:
                raise exc.NetworkMTUSubnetConflict(net_id=network_id, mtu=needed)
            values["mtu"] = mtu
        common.bump(txn, N, network_id, values)
        txn.record("network", network_id, "update", self.hosts(txn.conn, network_id))
        return network_id

    def delete(self, txn, ctx, network_id, if_match=None):
        row = common.get_row(txn.conn, N, network_id, exc.NetworkNotFound(net_id=network_id))
        common.check_revision(row, if_match)
        p = schema.ports
        ports = txn.execute(select(p.c.id, p.c.device_owner, p.c.host).where(
            p.c.network_id == network_id)).all()
        if any(not owner.startswith("network:") for _, owner, _ in ports):
            raise exc.NetworkInUse(net_id=network_id, port_ids=", ".join(
                pid for pid, owner, _ in ports if not owner.startswith("network:")))
        port_ids = [pid for pid, _, _ in ports]
        if port_ids:
            txn.execute(delete(p).where(p.c.id.in_(port_ids)))
            for pid, _, host in ports:
                txn.record("port", pid, "delete", [host])
        s = schema.subnets
        subnet_ids = list(txn.execute(select(s.c.id).where(s.c.network_id == network_id))
                          .scalars())
        txn.execute(delete(s).where(s.c.network_id == network_id))
        txn.execute(delete(N).where(N.c.id == network_id))
        common.delete_tags(txn, [network_id] + subnet_ids + port_ids)
        for sid in subnet_ids:
            txn.record("subnet", sid, "delete")
        txn.record("network", network_id, "delete", [h for _, _, h in ports])

    @staticmethod
    def hosts(conn, network_id):
        p = schema.ports
        return list(conn.execute(select(p.c.host).distinct().where(
            p.c.network_id == network_id, p.c.host != "")).scalars())
