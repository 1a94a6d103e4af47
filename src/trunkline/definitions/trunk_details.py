"""trunk-details: a trunk parent port shows its trunk and subports (``trunk_details``)."""
from trunkline.definitions import base
from trunkline.definitions.base import Attr, Extension

EXTENSIONS = (Extension(
    "trunk-details", "Trunk port details", "Expose trunk port details",
    updated="2016-01-01T10:00:00-00:00", requires=("trunk",),
    attributes={"port": {"trunk_details": Attr(schema=dict(base.OBJECT, nullable=True))}}),)
