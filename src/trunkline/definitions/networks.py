"""The core network resource (neutron-lib's network definition): networks a project owns or
shares, with their subnets' ids and a status."""
from trunkline import exceptions as exc
from trunkline.definitions import base, checks as c
from trunkline.definitions import validators as v
from trunkline.definitions.base import Attr, Resource


class NetworkNotFound(exc.NotFound):
    message = "Network %(net_id)s could not be found."


RESOURCE = Resource(
    "network", "networks", base.standard({
        "admin_state_up": base.admin_state(),
        "status": base.status(),
        "subnets": Attr(schema={"type": "array", "items": base.UUID}),
        "shared": Attr(post=True, put=True, default=False, convert=v.to_boolean,
                       **base.BOOL_FILTER),
    }),
    not_found=lambda i: NetworkNotFound(net_id=i),
    plugin="trunkline.plugins.networks:NetworkPlugin",
    network="id",
    quota="network",
    scope=(base.OWN_PROJECT, base.SHARED),
    policies=(
        ("create_network", c.ADMIN_OR_PROJECT_MEMBER),
        ("create_network:shared", c.ADMIN),
        ("get_network", c.any_of(c.ADMIN_OR_SERVICE, c.PROJECT_READER, c.SHARED, c.EXTERNAL)),
        ("update_network", c.ADMIN_OR_PROJECT_MEMBER),
        ("update_network:shared", c.ADMIN),
        ("delete_network", c.ADMIN_OR_PROJECT_MEMBER),
    ))
