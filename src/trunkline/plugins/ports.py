"""Ports: MAC and fixed-IP allocation, binding (plugins/binding.py), allowed address pairs,
port security and extra DHCP options. Services take part through events (plugins/events.py):
a trunk guards its ports against deletion and takes its subports along when its parent moves;
they are not called from here."""
from __future__ import annotations

from typing import TYPE_CHECKING, Optional

import ipaddress
import random

from sqlalchemy import and_, delete, insert, or_, select

from trunkline import constants as k
from trunkline import definitions
from trunkline import exceptions as exc
from trunkline.db import schema
from trunkline.plugins import binding, common, dhcp_opts, events, ipam

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from trunkline.db.engine import Txn
    from trunkline.plugins.common import Context

P = schema.ports
A = schema.ipallocations
SIMPLE = ("name", "description", "admin_state_up", "device_id", "device_owner",
          "port_security_enabled")
_rand = random.SystemRandom()
_FIXED_IPS = common.ByIds(select(A.c.port_id, A.c.subnet_id, A.c.ip_address), A.c.port_id)


def _fixed_ips_filter(values):
    """``fixed_ips=ip_address=X`` / ``fixed_ips=subnet_id=Y`` (what the CLI sends)."""
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


class PortPlugin(common.ResourcePlugin):
    resource = definitions.port
    table = P
    custom_filters = {"fixed_ips": _fixed_ips_filter}

    @property
    def networks(self):
        return self.plugins["networks"]

    # -- reading

    def fill(self, conn: Connection, dicts: list, wanted: Optional[set]) -> None:
        ids = [d["id"] for d in dicts]
        if common.wants(wanted, "fixed_ips"):
            ips = {}
            if ids:
                for pid, sid, ip in _FIXED_IPS.raw(conn, ids):
                    ips.setdefault(pid, []).append({"subnet_id": sid, "ip_address": ip})
            for d in dicts:
                d["fixed_ips"] = ips.get(d["id"], [])
        if common.wants(wanted, "extra_dhcp_opts"):
            opts = dhcp_opts.load(conn, ids)
            for d in dicts:
                d["extra_dhcp_opts"] = opts.get(d["id"], [])

    # -- writing

    def create(self, txn: Txn, ctx: Context, res: dict) -> str:
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
            self.shape.values(res, SIMPLE), network_id=network.id, mac_address=mac,
            status=k.DOWN, host=host, vnic_type=res["binding:vnic_type"],
            profile=res.get("binding:profile") or {},
            allowed_address_pairs=_pairs(res.get("allowed_address_pairs")),
            port_security_enabled=(network.port_security_enabled
                                   if res.get("port_security_enabled") is None
                                   else res["port_security_enabled"]))
        _check_pairs_need_port_security(values)
        values["vif_type"], values["vif_details"] = binding.bind(txn.conn, host, port_id)
        txn.execute(insert(P).values(**values))
        self._allocate(txn, network, port_id, mac, res["device_owner"], res.get("fixed_ips"))
        dhcp_opts.create(txn, port_id, res.get("extra_dhcp_opts"))
        events.publish(txn, "port", events.CREATE, [port_id], new={port_id: values},
                       request=res, context=ctx)
        return port_id

    def update(self, txn: Txn, ctx: Context, port_id: str, res: dict,
               if_match: Optional[int] = None) -> str:
        row = self.get_row(txn.conn, port_id)
        common.check_revision(row, if_match)
        values = {col: v for col, v in self.shape.values(res, SIMPLE).items() if v is not None}
        if "mac_address" in res and res["mac_address"] != row.mac_address:
            mac = res["mac_address"]
            if mac is None:
                raise exc.InvalidInput(error_message="mac_address cannot be null")
            if row.vif_type not in (k.VIF_TYPE_UNBOUND, k.VIF_TYPE_BINDING_FAILED):
                raise exc.PortBound(port_id=port_id, vif_type=row.vif_type,
                                    old_mac=row.mac_address, new_mac=mac)
            if self._mac_taken(txn.conn, row.network_id, mac):
                raise exc.MacAddressInUse(net_id=row.network_id, mac=mac)
            values["mac_address"] = mac
        if "allowed_address_pairs" in res:
            values["allowed_address_pairs"] = _pairs(res["allowed_address_pairs"])
        _check_pairs_need_port_security(dict(row._mapping, **values))
        if "binding:vnic_type" in res:
            values["vnic_type"] = res["binding:vnic_type"]
        if "binding:profile" in res:
            values["profile"] = res["binding:profile"] or {}
        if "binding:host_id" in res:
            host = res["binding:host_id"] or ""
            values["host"] = host
            values["vif_type"], values["vif_details"] = binding.bind(txn.conn, host, port_id)
            if host != row.host:
                values["status"] = k.DOWN
        changed = set(values)
        if "fixed_ips" in res and res["fixed_ips"] is not None:
            network = self.networks.get_row(txn.conn, row.network_id)
            self._reallocate(txn, network, row, res["fixed_ips"],
                             values.get("device_owner", row.device_owner))
            changed.add("fixed_ips")
        if res.get("extra_dhcp_opts"):
            dhcp_opts.merge(txn, port_id, res["extra_dhcp_opts"])
            changed.add("extra_dhcp_opts")
        common.bump(txn, P, port_id, values)
        events.publish(txn, "port", events.UPDATE, [port_id], old={port_id: row},
                       new={port_id: values}, changed=changed, request=res, context=ctx)
        return port_id

    def delete(self, txn: Txn, ctx: Context, port_id: str, if_match: Optional[int] = None) -> None:
        row = self.get_row(txn.conn, port_id)
        common.check_revision(row, if_match)
        events.before(txn, events.Change("port", events.DELETE, [port_id], old={port_id: row}))
        ipam.release_port(txn, port_id)
        dhcp_opts.delete_ports(txn, [port_id])
        txn.execute(delete(P).where(P.c.id == port_id))
        common.delete_tags(txn, [port_id])
        events.publish(txn, "port", events.DELETE, [port_id], old={port_id: row})

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

    # -- fixed IPs

    def _subnets(self, conn, network_id):
        s = schema.subnets
        return conn.execute(select(s).where(s.c.network_id == network_id)).all()

    def _allocate(self, txn, network, port_id, mac, owner, fixed_ips):
        subnets = self._subnets(txn.conn, network.id)
        wanted = self._requested(txn.conn, network, subnets, fixed_ips, mac, owner)
        ipam.allocate(txn, port_id, network.id, wanted, {s.id: s for s in subnets})

    def _requested(self, conn, network, subnets, fixed_ips, mac, owner, keep=()):
        """(subnet_id, ip) pairs for a port: explicit requests validated, the rest allocated."""
        by_id = {s.id: s for s in subnets}
        first_free = owner == k.OWNER_DHCP
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
                        ip in taken.get(subnet.id, ()) or ipam.is_allocated(conn, subnet.id, ip)):
                    raise exc.IpAddressAlreadyAllocated(ip=ip, subnet_id=subnet.id)
            taken.setdefault(subnet.id, set()).add(ip)
            result.append((subnet.id, ip))
        return result

    @staticmethod
    def _subnet_exists(conn, subnet_id):
        s = schema.subnets
        if conn.execute(select(s.c.id).where(s.c.id == subnet_id)).first() is None:
            raise definitions.subnet.not_found(subnet_id)

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
        by_id = {s.id: s for s in subnets}
        ipam.release(txn, sorted(current - set(wanted)), by_id)
        ipam.allocate(txn, row.id, network.id, [w for w in wanted if w not in current], by_id)


def _pairs(pairs):
    return [dict(p) for p in (pairs or [])]


def _check_pairs_need_port_security(port):
    """Neutron refuses allowed address pairs on a port without port security (409), whether
    the request sets the pairs or turns port security off under them."""
    if port["allowed_address_pairs"] and not port["port_security_enabled"]:
        raise exc.AddressPairAndPortSecurityRequired()
