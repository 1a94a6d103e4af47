"""Port binding (the binding extension): the host a port is bound to and what the mechanism
driver answers for it (vif_type, vif_details), as Nova reads them."""
from trunkline.definitions import base, checks as c
from trunkline.definitions import validators as v
from trunkline.definitions.base import Attr, Extension

VNIC_TYPES = ("normal", "direct", "macvtap", "baremetal", "direct-physical", "virtio-forwarder",
              "smart-nic", "remote-managed", "vdpa", "accelerator-direct",
              "accelerator-direct-physical")

EXTENSIONS = (Extension(
    "binding", "Port Binding",
    "Expose port bindings of a virtual port to external application",
    attributes={"port": {
        "binding:host_id": Attr(post=True, put=True, default="", validate=v.string_or_none(255),
                                filter=True, column="host"),
        "binding:vif_type": Attr(filter=True, column="vif_type", schema=base.TEXT),
        "binding:vif_details": Attr(column="vif_details", schema=base.OBJECT),
        "binding:vnic_type": Attr(post=True, put=True, default="normal",
                                  validate=v.values(VNIC_TYPES), filter=True,
                                  column="vnic_type"),
        "binding:profile": Attr(post=True, put=True, default=None, validate=v.dict_or_empty,
                                column="profile"),
    }},
    policies=(
        ("create_port:binding:host_id", c.ADMIN_OR_SERVICE),
        ("create_port:binding:profile", c.ADMIN_OR_SERVICE),
        ("create_port:binding:vnic_type", c.any_of(c.ADMIN_OR_SERVICE, c.PROJECT_MEMBER)),
        ("get_port:binding:vif_type", c.ADMIN_OR_SERVICE),
        ("get_port:binding:vif_details", c.ADMIN_OR_SERVICE),
        ("get_port:binding:host_id", c.ADMIN_OR_SERVICE),
        ("get_port:binding:profile", c.ADMIN_OR_SERVICE),
        ("update_port:binding:host_id", c.ADMIN_OR_SERVICE),
        ("update_port:binding:profile", c.ADMIN_OR_SERVICE),
        ("update_port:binding:vnic_type", c.any_of(c.ADMIN_OR_SERVICE, c.PROJECT_MEMBER)),
    )),)
