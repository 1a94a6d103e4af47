"""Ports: MAC and fixed-IP allocation, binding attributes, trunk_details, and the deletion guard
for ports that are part of a trunk."""
import ipaddress
import random

from sqlalchemy import delete, insert, select

from trunkline import definitions
from trunkline import exceptions as exc
from trunkline.channel import l2pop
from trunkline.db import schema
from trunkline.plugins import common, dhcp_opts, ipam
from trunkline.services.trunk import status as trunk_status
from trunkline.services.trunk.plugin import bind_subports

P = schema.ports
A = schema.ipallocations
UNBOUND = "unbound"
BINDING_FAILED = "binding_failed"
L2POP_ATTRS = {"host", "admin_state_up", "mac_address", "status"}   # what other hosts' L2pop shows
_rand = random.SystemRandom()


class PortPlugin:
    resource = definitions.port
    table = P

    def __init__(self, cfg, networks, binder=None):
        self.cfg = cfg
        self.networks = networks
        # binder(conn, host, port values) -> (vif_type, vif_details); the agent channel
        # provides it (channel/binding.py).
        self.binder = binder or (lambda conn, host, values: (BINDING_FAILED, {}) if host
                                 else (UNBOUND, {}))

    # -- reading

    def dicts(self, conn, rows):
        ids = [r.id for r in rows]
        tags = common.load_tags(conn, ids)
        ips, trunks = {}, {}
        if ids:
            stmt = common.restrict(select(A.c.port_id, A.c.subnet_id, A.c.ip_address),
                                   A.c.port_id, ids)
            for pid, sid, ip in conn.execute(stmt):
                ips.setdefault(pid, []).append({"subnet_id": sid, "ip_address": ip})
            trunks = self._trunk_details(conn, ids)
        opts = dhcp_opts.load(conn, ids)
        out = []
        for r in rows:
            d = common.standard_dict(r, tags)
            d.update({
                "network_id": r.network_id, "admin_state_up": r.admin_state_up,
                "mac_address": r.mac_address, "fixed_ips": ips.get(r.id, []),
                "device_id": r.device_id, "device_owner": r.device_owner, "status": r.status,
                "binding:host_id": r.host, "binding:vif_type": r.vif_type,
                "binding:vif_details": r.vif_details, "binding:vnic_type": r.vnic_type,
                "binding:profile": r.profile,
                "allowed_address_pairs": r.allowed_address_pairs,
                "port_security_enabled": r.port_security_enabled,
                "extra_dhcp_opts": opts.get(r.id, []),
            })
            if r.id in trunks:
                d["trunk_details"] = trunks[r.id]
            out.append(d)
        return out

    @staticmethod
    def _trunk_details(conn, ids):
        t, s = schema.trunks, schema.subports
        stmt = common.restrict(select(t.c.id, t.c.port_id), t.c.port_id, ids)
        listed = set(ids)
        wanted = {pid: tid for tid, pid in conn.execute(stmt) if pid in listed}
        if not wanted:
            return {}
        details = {pid: {"trunk_id": tid, "sub_ports": []} for pid, tid in wanted.items()}
        by_trunk = {tid: pid for pid, tid in wanted.items()}
        rows = conn.execute(
            select(s.c.trunk_id, s.c.port_id, s.c.segmentation_type, s.c.segmentation_id,
                   P.c.mac_address).join(P, P.c.id == s.c.port_id)
            .where(s.c.trunk_id.in_(list(by_trunk))).order_by(s.c.position))
        for tid, pid, stype, sid, mac in rows:
            details[by_trunk[tid]]["sub_ports"].append({
                "segmentation_id": sid, "segmentation_type": stype, "port_id": pid,
                "mac_address": mac})
        return details

    def list(self, conn, ctx, q):
        custom = {"fixed_ips": self._fixed_ips_filter}
        return self.dicts(conn, common.select_rows(conn, P, self.resource, q,
                                                   custom_filters=custom))

    @staticmethod
    def _fixed_ips_filter(values):
        """``fixed_ips=ip_address=X`` / ``fixed_ips=subnet_id=Y`` (what the CLI sends)."""
        from sqlalchemy import and_, or_
        clauses = []
        for value in values:
            key, _, val = value.partition("=")
            if key not in ("ip_address", "subnet_id", "ip_address_substr") or not val:
                raise exc.HTTPBadRequest("Invalid fixed_ips filter '%s'" % value)
            if key == "ip_address_substr":
                cond = A.c.ip_address.contains(val, autoescape=True)
            else:
                cond = A.c[key] == val
            clauses.append(P.c.id.in_(select(A.c.port_id).where(cond)))
        return and_(*clauses) if clauses else or_()

    def get_row(self, conn, port_id):
        return common.get_row(conn, P, port_id, exc.PortNotFound(port_id=port_id))

    def get(self, conn, ctx, port_id):
        return self.dicts(conn, [self.get_row(conn, port_id)])[0]

    # -- writing

    def create(self, txn, ctx, res):
        network = self.networks.get_row(txn.conn, res["network_id"])
        port_id = common.new_id()
        mac = res.get("mac_address")
        if mac is None:
            mac = self._new_mac(txn.conn, network.id)
        elif self._mac_taken(txn.conn, network.id, mac):
            raise exc.MacAddressInUse(net_id=network.id, mac=mac)
        host = res.get("binding:host_id") or ""
        values = common.standard_values(txn, ctx, res, port_id)
        values.update(
            network_id=network.id, mac_address=mac, admin_state_up=res["admin_state_up"],
            status="DOWN", device_id=res["device_id"], device_owner=res["device_owner"],
            host=host, vnic_type=res["binding:vnic_type"], profile=res.get("binding:profile") or {},
            allowed_address_pairs=self._pairs(res.get("allowed_address_pairs")),
            port_security_enabled=(network.port_security_enabled
                                   if res.get("port_security_enabled") is None
                                   else res["port_security_enabled"]))
        _check_pairs_need_port_security(values)
        values["vif_type"], values["vif_details"] = self.binder(txn.conn, host, values)
        txn.execute(insert(P).values(**values))
        self._allocate(txn, network, port_id, mac, res["device_owner"], res.get("fixed_ips"))
        dhcp_opts.create(txn, port_id, res.get("extra_dhcp_opts"))
        # a new port is DOWN: other hosts only learn of it when it makes this host a VTEP
        # of the network (later, going ACTIVE, it is announced through its status report)
        txn.record("port", port_id, "create",
                   l2pop.network_hosts(txn.conn, [network.id], [host])
                   if host and l2pop.first_on_host(txn.conn, network.id, host, port_id)
                   else [host])
        return port_id

    def update(self, txn, ctx, port_id, res, if_match=None):
        row = self.get_row(txn.conn, port_id)
        common.check_revision(row, if_match)
        values = {}
        for attr in ("name", "description", "admin_state_up", "device_id", "device_owner",
                     "port_security_enabled"):
            if attr in res and res[attr] is not None:
                values[attr] = res[attr]
        if "mac_address" in res and res["mac_address"] != row.mac_address:
            mac = res["mac_address"]
            if mac is None:
                raise exc.InvalidInput(error_message="mac_address cannot be null")
            if row.vif_type not in (UNBOUND, BINDING_FAILED):
                raise exc.PortBound(port_id=port_id, vif_type=row.vif_type,
                                    old_mac=row.mac_address, new_mac=mac)
            if self._mac_taken(txn.conn, row.network_id, mac):
                raise exc.MacAddressInUse(net_id=row.network_id, mac=mac)
            values["mac_address"] = mac
        if "allowed_address_pairs" in res:
            values["allowed_address_pairs"] = self._pairs(res["allowed_address_pairs"])
        _check_pairs_need_port_security(dict(row._mapping, **values))
        if "binding:vnic_type" in res:
            values["vnic_type"] = res["binding:vnic_type"]
        if "binding:profile" in res:
            values["profile"] = res["binding:profile"] or {}
        hosts = [row.host]
        if "binding:host_id" in res:
            host = res["binding:host_id"] or ""
            values["host"] = host
            values["vif_type"], values["vif_details"] = self.binder(txn.conn, host,
                                                                    dict(row._mapping, **values))
            if host != row.host:
                values["status"] = "DOWN"
                trunk_status.parent_moved(txn, port_id, [row.host, host])
                if host:
                    self._subports_follow(txn, port_id, row.host, host)
            hosts.append(host)
        if "fixed_ips" in res and res["fixed_ips"] is not None:
            network = self.networks.get_row(txn.conn, row.network_id)
            self._reallocate(txn, network, row, res["fixed_ips"],
                             values.get("device_owner", row.device_owner))
        dhcp_opts.merge(txn, port_id, res.get("extra_dhcp_opts"))
        common.bump(txn, P, port_id, values)
        if set(values) & L2POP_ATTRS or "fixed_ips" in res:
            # where the port is, its MAC, IPs or state: other hosts' L2 population changes
            hosts = l2pop.network_hosts(txn.conn, [row.network_id], hosts)
        txn.record("port", port_id, "update", hosts)
        return port_id

    def delete(self, txn, ctx, port_id, if_match=None):
        row = self.get_row(txn.conn, port_id)
        common.check_revision(row, if_match)
        self.check_not_in_trunk(txn.conn, port_id)
        txn.execute(delete(A).where(A.c.port_id == port_id))
        dhcp_opts.delete_ports(txn, [port_id])
        txn.execute(delete(P).where(P.c.id == port_id))
        common.delete_tags(txn, [port_id])
        announced = row.status == "ACTIVE" and row.admin_state_up
        txn.record("port", port_id, "delete",
                   l2pop.network_hosts(txn.conn, [row.network_id], [row.host])
                   if row.host and (announced or l2pop.first_on_host(
                       txn.conn, row.network_id, row.host, port_id)) else [row.host])

    @staticmethod
    def _subports_follow(txn, parent_id, old_host, host):
        """A trunk parent bound to a host takes its subports along (what Neutron's trunk
        driver does once the agent wires the parent; trunkline does it at once)."""
        t, s = schema.trunks, schema.subports
        ids = list(txn.execute(select(s.c.port_id).join(t, t.c.id == s.c.trunk_id)
                               .where(t.c.port_id == parent_id)).scalars())
        bind_subports(txn, ids, host)
        hosts = l2pop.port_hosts(txn.conn, ids, [old_host, host])
        for pid in ids:
            txn.record("port", pid, "update", hosts)

    @staticmethod
    def check_not_in_trunk(conn, port_id):
        t, s = schema.trunks, schema.subports
        trunk_id = conn.execute(select(t.c.id).where(t.c.port_id == port_id)).scalar()
        if trunk_id:
            raise exc.PortInUseAsTrunkParent(port_id=port_id, trunk_id=trunk_id)
        trunk_id = conn.execute(select(s.c.trunk_id).where(s.c.port_id == port_id)).scalar()
        if trunk_id:
            raise exc.PortInUseAsSubPort(port_id=port_id, trunk_id=trunk_id)

    # -- MACs

    def _new_mac(self, conn, network_id):
        prefix = self.cfg.base_mac.split(":")[:3]
        for _ in range(16):
            mac = ":".join(prefix + ["%02x" % _rand.randrange(256) for _ in range(3)])
            if not self._mac_taken(conn, network_id, mac):
                return mac
        raise exc.Conflict("Unable to generate a unique mac on network %s." % network_id)

    @staticmethod
    def _mac_taken(conn, network_id, mac):
        return conn.execute(select(P.c.id).where(P.c.network_id == network_id,
                                                 P.c.mac_address == mac)).first() is not None

    @staticmethod
    def _pairs(pairs):
        return [dict(p) for p in (pairs or [])]

    # -- fixed IPs

    def _subnets(self, conn, network_id):
        s = schema.subnets
        return conn.execute(select(s).where(s.c.network_id == network_id)).all()

    def _allocate(self, txn, network, port_id, mac, owner, fixed_ips):
        subnets = self._subnets(txn.conn, network.id)
        wanted = self._requested(txn.conn, network, subnets, fixed_ips, mac, owner)
        rows = [{"subnet_id": sid, "ip_address": ip, "port_id": port_id,
                 "network_id": network.id} for sid, ip in wanted]
        if rows:
            txn.execute(insert(A), rows)

    def _requested(self, conn, network, subnets, fixed_ips, mac, owner, keep=()):
        """(subnet_id, ip) pairs for a port: explicit requests validated, the rest allocated."""
        by_id = {s.id: s for s in subnets}
        first_free = owner == "network:dhcp"
        result = []
        if fixed_ips is None:
            v4 = [s for s in subnets if s.ip_version == 4]
            v6 = [s for s in subnets if s.ip_version == 6 and not ipam.is_auto_address(s)]
            for group in (v4, v6):
                for s in group:
                    ip = ipam.pick(conn, s, first_free)
                    if ip:
                        result.append((s.id, ip))
                        break
                else:
                    if group:
                        raise exc.IpAddressGenerationFailure(net_id=network.id)
            result += [(s.id, ipam.eui64(s, mac)) for s in subnets if ipam.is_auto_address(s)]
            return result
        if len(fixed_ips) > self.cfg.max_fixed_ips_per_port:
            raise exc.InvalidInput(error_message="Exceeded maximum amount of fixed ips per port.")
        taken = {}
        for fixed in fixed_ips:
            sid, ip = fixed.get("subnet_id"), fixed.get("ip_address")
            if sid is None and ip is None:
                raise exc.InvalidInput(
                    error_message="IP allocation requires subnet_id or ip_address")
            if sid is not None:
                subnet = by_id.get(sid)
                if subnet is None:
                    self._subnet_exists(conn, sid)
                    raise exc.InvalidInput(
                        error_message="Failed to create port on network %s, because fixed_ips "
                                      "included invalid subnet %s" % (network.id, sid))
            else:
                subnet = next((s for s in subnets if ipam.usable(s, ip)), None) if ip else None
                if subnet is None:
                    raise exc.InvalidIpForNetwork(ip_address=ip)
            if ip is None:
                if ipam.is_auto_address(subnet):
                    ip = ipam.eui64(subnet, mac)
                else:
                    ip = ipam.pick(conn, subnet, first_free, taken.get(subnet.id, ()))
                    if ip is None:
                        raise exc.IpAddressGenerationFailure(net_id=network.id)
            else:
                ip = str(ipaddress.ip_address(ip))
                if not ipam.usable(subnet, ip):
                    raise exc.InvalidIpForSubnet(ip_address=ip)
                if (subnet.id, ip) not in keep and (
                        ip in taken.get(subnet.id, ()) or ip in ipam.allocated(conn, subnet.id)):
                    raise exc.IpAddressAlreadyAllocated(ip=ip, subnet_id=subnet.id)
            taken.setdefault(subnet.id, set()).add(ip)
            result.append((subnet.id, ip))
        return result

    @staticmethod
    def _subnet_exists(conn, subnet_id):
        s = schema.subnets
        if conn.execute(select(s.c.id).where(s.c.id == subnet_id)).first() is None:
            raise exc.SubnetNotFound(subnet_id=subnet_id)

    def _reallocate(self, txn, network, row, fixed_ips, owner):
        current = {(sid, ip) for sid, ip in txn.execute(
            select(A.c.subnet_id, A.c.ip_address).where(A.c.port_id == row.id))}
        subnets = self._subnets(txn.conn, network.id)
        # A bare {"subnet_id"} keeps the address the port already holds there (as Neutron does);
        # addresses the port already holds are not refused as taken.
        explicit = {f.get("ip_address") for f in fixed_ips if f.get("ip_address")}
        spare = {}
        for sid, ip in sorted(current):
            if ip not in explicit:
                spare.setdefault(sid, []).append(ip)
        requested = []
        for fixed in fixed_ips:
            sid = fixed.get("subnet_id")
            if sid and not fixed.get("ip_address") and spare.get(sid):
                fixed = {"subnet_id": sid, "ip_address": spare[sid].pop(0)}
            requested.append(fixed)
        wanted = self._requested(txn.conn, network, subnets, requested, row.mac_address, owner,
                                 keep=current)
        wanted_set = set(wanted)
        for sid, ip in current - wanted_set:
            txn.execute(delete(A).where(A.c.subnet_id == sid, A.c.ip_address == ip))
        new = [{"subnet_id": sid, "ip_address": ip, "port_id": row.id, "network_id": network.id}
               for sid, ip in wanted if (sid, ip) not in current]
        if new:
            txn.execute(insert(A), new)


def _check_pairs_need_port_security(port):
    """Neutron refuses allowed address pairs on a port without port security (409), whether
    the request sets the pairs or turns port security off under them."""
    if port["allowed_address_pairs"] and not port["port_security_enabled"]:
        raise exc.AddressPairAndPortSecurityRequired()
