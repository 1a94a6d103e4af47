"""provider: a network's segment (type, physical network, segmentation id), set by admins."""
from trunkline.definitions import checks as c
from trunkline.definitions import validators as v
from trunkline.definitions.base import Attr, Extension


def _none_if_unset(value):
    """The segment columns store '' and 0 for "none" (so they can be unique): null on the wire."""
    return value or None


ATTRS = ("provider:network_type", "provider:physical_network", "provider:segmentation_id")

EXTENSIONS = (Extension(
    "provider", "Provider Network", "Expose mapping of virtual networks to physical networks",
    attributes={"network": {
        "provider:network_type": Attr(post=True, default=None, validate=v.string_or_none(32),
                                      filter=True, sort=True, column="network_type"),
        "provider:physical_network": Attr(post=True, default=None,
                                          validate=v.string_or_none(64), filter=True, sort=True,
                                          column="physical_network", to_wire=_none_if_unset),
        "provider:segmentation_id": Attr(post=True, default=None, convert=v.to_int_or_none,
                                         filter=True, sort=True, column="segmentation_id",
                                         convert_filter=v.to_filter_int32,
                                         to_wire=_none_if_unset),
    }},
    policies=tuple(("%s_network:%s" % (verb, attr), c.ADMIN)
                   for verb in ("create", "get", "update") for attr in ATTRS)),)
