"""Trunks (the trunk extension): a parent port and subports told apart by VLAN id, with the
add_subports/remove_subports/get_subports actions."""
from trunkline import exceptions as exc
from trunkline.definitions import base, checks as c
from trunkline.definitions import validators as v
from trunkline.definitions.base import Action, Attr, Extension, Resource

SEGMENTATION_TYPES = ("vlan", "inherit")


class TrunkNotFound(exc.NotFound):
    message = "Trunk %(trunk_id)s could not be found."


TRUNK = Resource(
    "trunk", "trunks", base.standard({
        "admin_state_up": base.admin_state(),
        "status": base.status(),
        "port_id": Attr(post=True, validate=v.uuid_, filter=True, sort=True, refers="ports"),
        "sub_ports": Attr(post=True, default=[], validate=v.subports, refers="ports",
                          refers_key="port_id"),
    }),
    not_found=lambda i: TrunkNotFound(trunk_id=i),
    plugin="trunkline.services.trunk.plugin:TrunkPlugin",
    quota="trunk",
    actions=(
        Action("add_subports", "PUT", "Add subports to a trunk", body="sub_ports"),
        Action("remove_subports", "PUT", "Remove subports from a trunk", body="sub_ports"),
        Action("get_subports", "GET", "A trunk's subports", answers_member=False,
               answer_schema={"sub_ports": {"type": "array"}}),
    ),
    policies=c.project_crud("trunk") + (
        ("get_subports", c.ADMIN_OR_PROJECT_READER),
        ("add_subports", c.ADMIN_OR_PROJECT_MEMBER),
        ("remove_subports", c.ADMIN_OR_PROJECT_MEMBER),
    ))

EXTENSIONS = (Extension("trunk", "Trunk Extension", "Provides support for trunk ports",
                        updated="2016-01-01T10:00:00-00:00", resources=(TRUNK,)),)
