"""The core port resource (neutron-lib's port definition): a network's ports with their MAC,
fixed IPs, device and status."""
from trunkline import exceptions as exc
from trunkline.definitions import base, checks as c
from trunkline.definitions import validators as v
from trunkline.definitions.base import Attr, Resource


class PortNotFound(exc.NotFound):
    message = "Port %(port_id)s could not be found."


RESOURCE = Resource(
    "port", "ports", base.standard({
        "network_id": Attr(post=True, validate=v.uuid_, filter=True, sort=True),
        "admin_state_up": base.admin_state(),
        "mac_address": Attr(post=True, put=True, default=None, convert=v.to_lower_mac,
                            validate=v.mac_address_or_none, filter=True, sort=True),
        "fixed_ips": Attr(post=True, put=True, default=None, convert=v.to_list,
                          validate=v.fixed_ips, filter=True),
        "device_id": Attr(post=True, put=True, default="", validate=v.string(255), filter=True,
                          sort=True),
        "device_owner": Attr(post=True, put=True, default="", validate=v.string(255),
                             filter=True, sort=True),
        "status": base.status(),
    }),
    not_found=lambda i: PortNotFound(port_id=i),
    plugin="trunkline.plugins.ports:PortPlugin",
    quota="port",
    network="network_id",
    scope=(base.OWN_PROJECT, base.ON_OWN_NETWORK),
    policies=(
        ("create_port", c.any_of(c.ADMIN_OR_SERVICE, c.NET_OWNER_MEMBER, c.SHARED)),
        ("create_port:device_owner", c.any_of("not " + c.NETWORK_DEVICE, c.ADMIN_OR_SERVICE,
                                              c.NET_OWNER_MEMBER)),
        ("create_port:mac_address", c.any_of(c.ADMIN_OR_SERVICE, c.NET_OWNER_MEMBER)),
        ("create_port:fixed_ips", c.any_of(c.ADMIN_OR_SERVICE, c.NET_OWNER_MEMBER, c.SHARED)),
        ("create_port:fixed_ips:ip_address", c.any_of(c.ADMIN_OR_SERVICE, c.NET_OWNER_MEMBER)),
        ("create_port:fixed_ips:subnet_id", c.any_of(c.ADMIN_OR_SERVICE, c.NET_OWNER_MEMBER,
                                                     c.SHARED)),
        ("get_port", c.any_of(c.ADMIN_OR_SERVICE, c.PROJECT_READER, c.NET_OWNER_READER)),
        ("update_port", c.any_of(c.ADMIN_OR_SERVICE, c.PROJECT_MEMBER)),
        ("update_port:device_owner", c.any_of("not " + c.NETWORK_DEVICE, c.ADMIN_OR_SERVICE,
                                              c.NET_OWNER_MEMBER)),
        ("update_port:mac_address", c.ADMIN_OR_SERVICE),
        ("update_port:fixed_ips", c.any_of(c.ADMIN_OR_SERVICE, c.NET_OWNER_MEMBER)),
        ("update_port:fixed_ips:ip_address", c.any_of(c.ADMIN_OR_SERVICE, c.NET_OWNER_MEMBER)),
        ("update_port:fixed_ips:subnet_id", c.any_of(c.ADMIN_OR_SERVICE, c.NET_OWNER_MEMBER,
                                                     c.SHARED)),
        ("delete_port", c.any_of(c.ADMIN_OR_SERVICE, c.PROJECT_MEMBER, c.NET_OWNER_MEMBER)),
    ))
