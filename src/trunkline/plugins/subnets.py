"""Subnets (IPv4 and IPv6): CIDR, gateway and allocation-pool rules, DNS servers and host routes,
overlap checks within a network, and delete refused while ports hold addresses from it
(except IPv6 SLAAC/stateless subnets, whose addresses go with them)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Optional

import ipaddress

from sqlalchemy import delete, false, insert, select

from trunkline import constants as k
from trunkline import definitions
from trunkline import exceptions as exc
from trunkline.db import schema
from trunkline.plugins import common, events, ipam
from trunkline.plugins.networks import MIN_MTU

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from trunkline.db.engine import Txn
    from trunkline.plugins.common import Context

S = schema.subnets


def _invalid(msg):
    return exc.InvalidInput(error_message=msg)


def _on_networks(flag, values):
    """Subnets whose network's ``flag`` column is among ``values`` (a network's filter)."""
    return S.c.network_id.in_(select(schema.networks.c.id).where(flag.in_(values)))


class SubnetPlugin(common.ResourcePlugin):
    resource = definitions.subnet
    table = S
    custom_filters = {
        # no subnet belongs to a subnet pool (there are none): a pool filter matches nothing
        "subnetpool_id": lambda values: false(),
        "shared": lambda values: _on_networks(schema.networks.c.shared, values),
        "router:external": lambda values: _on_networks(schema.networks.c.router_external,
                                                       values),
    }

    def fill(self, conn: Connection, dicts: list, wanted: Optional[set]) -> None:
        if common.wants(wanted, "subnetpool_id"):
            for d in dicts:
                d["subnetpool_id"] = None
        if common.wants(wanted, "router:external") and dicts:
            N = schema.networks
            external = set(conn.execute(
                select(S.c.id).join(N, N.c.id == S.c.network_id)
                .where(N.c.router_external.is_(True), S.c.id.in_([d["id"] for d in dicts])))
                .scalars())
            for d in dicts:
                d["router:external"] = d["id"] in external

    @property
    def networks(self):
        return self.plugins["networks"]

    # -- writing

    def create(self, txn: Txn, ctx: Context, res: dict) -> str:
        if res.get("cidr") is None:
            raise exc.BadRequest(resource="subnets",
                                 msg="a subnetpool must be specified in the absence of a cidr")
        network = self.networks.get_row(txn.conn, res["network_id"])
        net = ipaddress.ip_network(res["cidr"])
        version = res["ip_version"]
        if net.version != version:
            raise _invalid("cidr '%s' does not match the ip_version '%s'" % (res["cidr"], version))
        for mode in ("ipv6_ra_mode", "ipv6_address_mode"):
            if version == 4 and res.get(mode):
                raise _invalid("%s is not valid when ip_version is 4" % mode)
        self._check_v6_modes(res)
        if network.mtu < MIN_MTU[version]:
            raise exc.NetworkMTUSubnetConflict(net_id=network.id, mtu=MIN_MTU[version])
        cidr = str(net)
        self._check_overlap(txn.conn, network.id, net)
        if res["enable_dhcp"] and net.prefixlen >= (31 if version == 4 else 128):
            raise _invalid("Subnet has a prefix length that is incompatible with DHCP service "
                           "enabled.")
        gateway = res.get("gateway_ip")
        if gateway is definitions.UNSPECIFIED:
            gateway = _default_gateway(net)
        self._check_gateway(net, gateway)
        pools = res.get("allocation_pools")
        if pools is None:
            pools = ipam.default_pools(cidr, gateway)
        else:
            ipam.validate_pools(cidr, pools, gateway)
        self._check_lists(res, version)
        subnet_id = common.new_id()
        # Neutron 29 answers revision_number 0 for a new subnet (1 for networks and ports).
        values = common.standard_values(txn, ctx, res, subnet_id, revision_number=0)
        values.update(network_id=network.id, ip_version=version, cidr=cidr, gateway_ip=gateway,
                      enable_dhcp=res["enable_dhcp"], ipv6_ra_mode=res.get("ipv6_ra_mode"),
                      ipv6_address_mode=res.get("ipv6_address_mode"),
                      allocation_pools=[{"start": p["start"], "end": p["end"]} for p in pools],
                      dns_nameservers=res.get("dns_nameservers") or [],
                      host_routes=res.get("host_routes") or [])
        txn.execute(insert(S).values(**values))
        ipam.reset_ranges(txn, subnet_id, version, values["allocation_pools"])
        common.bump(txn, schema.networks, network.id)
        events.publish(txn, "subnet", events.CREATE, [subnet_id], new={subnet_id: values})
        return subnet_id

    def update(self, txn: Txn, ctx: Context, subnet_id: str, res: dict,
               if_match: Optional[int] = None) -> str:
        row = self.get_row(txn.conn, subnet_id)
        common.check_revision(row, if_match)
        net = ipaddress.ip_network(row.cidr)
        values = {k: res[k] for k in ("name", "description", "enable_dhcp", "dns_nameservers",
                                      "host_routes") if k in res}
        gateway = row.gateway_ip
        if "gateway_ip" in res:
            gateway = res["gateway_ip"]
            self._check_gateway(net, gateway)
            values["gateway_ip"] = gateway
        if "allocation_pools" in res:
            pools = res["allocation_pools"]
            pools = ipam.default_pools(row.cidr, gateway) if pools is None else pools
            ipam.validate_pools(row.cidr, pools, gateway)
            values["allocation_pools"] = [{"start": p["start"], "end": p["end"]} for p in pools]
        elif "gateway_ip" in res:
            ipam.validate_pools(row.cidr, row.allocation_pools, gateway)
        self._check_lists(res, row.ip_version)
        for key in ("dns_nameservers", "host_routes"):
            if key in values and values[key] is None:
                values[key] = []
        common.bump(txn, S, subnet_id, values)
        if "allocation_pools" in values:
            ipam.reset_ranges(txn, subnet_id, row.ip_version, values["allocation_pools"])
        events.publish(txn, "subnet", events.UPDATE, [subnet_id], old={subnet_id: row},
                       new={subnet_id: values}, changed=values)
        return subnet_id

    def delete(self, txn: Txn, ctx: Context, subnet_id: str,
               if_match: Optional[int] = None) -> None:
        row = self.get_row(txn.conn, subnet_id)
        common.check_revision(row, if_match)
        events.before(txn, events.Change("subnet", events.DELETE, [subnet_id],
                                         old={subnet_id: row}))
        a, p = schema.ipallocations, schema.ports
        holders = txn.execute(select(p).join(a, a.c.port_id == p.c.id)
                              .where(a.c.subnet_id == subnet_id)).all()
        # An IPv6 SLAAC/stateless subnet's addresses are derived, not handed out: Neutron
        # deletes it under its ports and takes the addresses off them.
        if not ipam.is_auto_address(row) and any(
                not k.is_network_owned(r.device_owner) for r in holders):
            raise exc.SubnetInUse(subnet_id=subnet_id)
        ipam.release_subnet(txn, row)
        for r in holders:
            common.bump(txn, p, r.id)
        if holders:
            events.publish(txn, "port", events.UPDATE, [r.id for r in holders],
                           old={r.id: r for r in holders}, changed={"fixed_ips"})
        txn.execute(delete(S).where(S.c.id == subnet_id))
        common.delete_tags(txn, [subnet_id])
        common.bump(txn, schema.networks, row.network_id)
        events.publish(txn, "subnet", events.DELETE, [subnet_id], old={subnet_id: row})

    # -- checks

    def _check_overlap(self, conn, network_id, net):
        for other in conn.execute(select(S.c.cidr).where(S.c.network_id == network_id)).scalars():
            if ipaddress.ip_network(other).overlaps(net):
                raise _invalid("Requested subnet with cidr: %s for network: %s overlaps with "
                               "another subnet" % (net, network_id))

    @staticmethod
    def _check_gateway(net, gateway):
        if gateway is None:
            return
        gw = ipaddress.ip_address(gateway)
        if gw.version != net.version:
            raise _invalid("gateway_ip '%s' does not match the ip_version '%s'"
                           % (gateway, net.version))
        if gw in net and net.version == 4 and net.prefixlen < 31 and gw in (
                net.network_address, net.broadcast_address):
            raise _invalid("Gateway is not valid on subnet")

    @staticmethod
    def _check_v6_modes(res):
        ra, addr = res.get("ipv6_ra_mode"), res.get("ipv6_address_mode")
        if ra and addr and ra != addr:
            raise _invalid("ipv6_ra_mode set to '%s' with ipv6_address_mode set to '%s' is not "
                           "valid. If both attributes are set, they must be the same value"
                           % (ra, addr))

    def _check_lists(self, res, version):
        servers = res.get("dns_nameservers") or []
        if len(servers) > self.cfg.max_dns_nameservers:
            raise exc.BadRequest(message="Number of DNS nameservers exceeds the limit %d"
                                 % self.cfg.max_dns_nameservers)
        routes = res.get("host_routes") or []
        if len(routes) > self.cfg.max_subnet_host_routes:
            raise exc.BadRequest(message="Number of host routes exceeds the limit %d"
                                 % self.cfg.max_subnet_host_routes)
        for ip in servers:
            if ipaddress.ip_address(ip).version != version:
                raise _invalid("Invalid input for dns_nameservers. Reason: ip_version of %s "
                               "does not match the subnet" % ip)
        for route in routes:
            if ipaddress.ip_network(route["destination"], strict=False).version != version or \
                    ipaddress.ip_address(route["nexthop"]).version != version:
                raise _invalid("Invalid input for host_routes. Reason: ip_version of %s does "
                               "not match the subnet" % (route,))


def _default_gateway(net):
    """Neutron 29's default gateway: the first host of an IPv4 subnet (none when it has no
    room), the subnet-router anycast address (the network address) of an IPv6 one."""
    if net.version == 6:
        return str(net.network_address)
    return str(net.network_address + 1) if net.num_addresses > 2 else None
