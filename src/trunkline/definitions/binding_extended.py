"""Port bindings extended (binding-extended): a compute port's bindings as a sub-resource,
``/v2.0/ports/{id}/bindings[/{host}[/activate]]``, one ACTIVE (the port's own binding) and any
number of INACTIVE ones, one per host: what Nova's live migration uses to bind the destination
before the move and activate it after. Served by plugins/port_bindings.py; the binding itself
is not a collection of its own."""
from trunkline import exceptions as exc
from trunkline.definitions import base, checks as c
from trunkline.definitions import validators as v
from trunkline.definitions.base import Attr, Extension, Resource
from trunkline.definitions.binding import VNIC_TYPES

# the body of POST .../bindings and PUT .../bindings/{host} ({"binding": {...}})
BINDING = Resource(
    member="binding", collection="bindings",
    attrs={
        "host": Attr(post=True, validate=v.string(255), filter=True),
        "vnic_type": Attr(post=True, put=True, default="normal", validate=v.values(VNIC_TYPES),
                          filter=True),
        "profile": Attr(post=True, put=True, default=None, validate=v.dict_or_empty),
        "vif_type": Attr(filter=True, schema=base.TEXT),
        "vif_details": Attr(schema=base.OBJECT),
        "status": Attr(filter=True, schema=base.TEXT),
    },
    not_found=lambda host: exc.HTTPNotFound(),
    plugin="trunkline.plugins.port_bindings", tags=False, scope=None)

# the policy rules of the sub-resource, Neutron's names
RULES = {"GET": "get_port_binding", "POST": "create_port_binding",
         "PUT": "update_port_binding", "DELETE": "delete_port_binding", "activate": "activate"}

EXTENSIONS = (Extension(
    "binding-extended", "Port Bindings Extended",
    "Expose port bindings of a virtual port to external application",
    requires=("binding",),
    policies=tuple((rule, c.ADMIN_OR_SERVICE) for rule in RULES.values())),)
