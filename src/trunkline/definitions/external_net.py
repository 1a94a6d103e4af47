"""external-net: ``router:external`` networks (the outside world routers and floating IPs use);
subnet-external-network: a subnet shows its network's flag (read-only), which the subnet policy
reads."""
from trunkline.definitions import base, checks as c
from trunkline.definitions import validators as v
from trunkline.definitions.base import Attr, Extension

EXTENSIONS = (Extension(
    "external-net", "Neutron external network",
    "Adds external network attribute to network resource.",
    attributes={"network": {"router:external": Attr(
        post=True, put=True, default=False, convert=v.to_boolean, column="router_external",
        **base.BOOL_FILTER)}},
    policies=(("create_network:router:external", c.ADMIN),
              ("update_network:router:external", c.ADMIN))),
    Extension(
        "subnet-external-network", "Subnet belongs to an external network",
        "Informs if the subnet belongs to an external network",
        attributes={"subnet": {"router:external": Attr(
            default=False, filter=True, convert_filter=v.to_boolean,
            schema={"type": "boolean"})}}))
