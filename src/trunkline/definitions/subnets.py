"""The core subnet resource (neutron-lib's subnet definition): IPv4 and IPv6 subnets of a
network, their pools, gateway, DNS servers and host routes."""
from trunkline import exceptions as exc
from trunkline.definitions import base, checks as c
from trunkline.definitions import validators as v
from trunkline.definitions.base import Attr, Resource

IPV6_MODES = ("dhcpv6-stateful", "dhcpv6-stateless", "slaac")


class SubnetNotFound(exc.NotFound):
    message = "Subnet %(subnet_id)s could not be found."


RESOURCE = Resource(
    "subnet", "subnets", base.standard({
        "network_id": Attr(post=True, validate=v.uuid_, filter=True, sort=True),
        "ip_version": Attr(post=True, convert=v.to_int, validate=v.values((4, 6)), filter=True,
                           sort=True, convert_filter=v.to_filter_int32),
        "cidr": Attr(post=True, default=None, convert=v.to_cidr_or_none, filter=True,
                     sort=True),
        "gateway_ip": Attr(post=True, put=True, default=base.UNSPECIFIED,
                           validate=v.ip_address_or_none, filter=True, sort=True),
        "allocation_pools": Attr(post=True, put=True, default=None, convert=v.to_pool_list,
                                 validate=v.allocation_pools_or_none),
        "dns_nameservers": Attr(post=True, put=True, default=None, convert=v.to_list,
                                validate=v.nameservers),
        "host_routes": Attr(post=True, put=True, default=None, convert=v.to_list,
                            validate=v.hostroutes),
        "enable_dhcp": Attr(post=True, put=True, default=True, convert=v.to_boolean,
                            **base.BOOL_FILTER),
        "ipv6_ra_mode": Attr(post=True, default=None, validate=v.values_or_none(IPV6_MODES),
                             filter=True, sort=True),
        "ipv6_address_mode": Attr(post=True, default=None,
                                  validate=v.values_or_none(IPV6_MODES), filter=True,
                                  sort=True),
        # there are no subnet pools: always null, and a pool filter matches nothing
        "subnetpool_id": Attr(post=True, default=None, validate=v.values_or_none((None,)),
                              filter=True),
        # the network's `shared`, a filter only (never in a subnet's body), as in neutron-lib
        "shared": Attr(filter=True, convert_filter=v.to_boolean, schema={"type": "boolean"},
                       visible=False),
        "prefixlen": Attr(post=True, default=None, validate=v.values_or_none((None,)),
                          visible=False),
        "use_default_subnetpool": Attr(post=True, default=False, convert=v.to_boolean,
                                       validate=v.values((False,)), visible=False),
    }),
    not_found=lambda i: SubnetNotFound(subnet_id=i),
    plugin="trunkline.plugins.subnets:SubnetPlugin",
    quota="subnet",
    network="network_id",
    scope=(base.OWN_PROJECT, base.ON_SHARED_NETWORK, base.ON_OWN_NETWORK),
    policies=(
        ("create_subnet", c.any_of(c.ADMIN_OR_PROJECT_MEMBER, c.NET_OWNER_MEMBER)),
        ("get_subnet", c.any_of(c.ADMIN_OR_SERVICE, c.PROJECT_READER, c.NET_OWNER_READER,
                                c.SHARED, c.EXTERNAL_SUBNET)),
        ("update_subnet", c.any_of(c.ADMIN_OR_PROJECT_MEMBER, c.NET_OWNER_MEMBER)),
        ("delete_subnet", c.any_of(c.ADMIN_OR_PROJECT_MEMBER, c.NET_OWNER_MEMBER)),
    ))
