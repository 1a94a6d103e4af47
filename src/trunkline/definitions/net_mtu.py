"""net-mtu and net-mtu-writable: a network's MTU, set on create or update."""
from trunkline.definitions import validators as v
from trunkline.definitions.base import Attr, Extension

EXTENSIONS = (
    Extension("net-mtu", "Network MTU", "Provides MTU attribute for a network resource."),
    Extension("net-mtu-writable", "Network MTU (writable)",
              "Provides a writable MTU attribute for a network resource.", requires=("net-mtu",),
              attributes={"network": {"mtu": Attr(
                  post=True, put=True, default=None, convert=v.to_int_or_none,
                  validate=v.non_negative_or_none, filter=True, sort=True,
                  convert_filter=v.to_filter_int32)}}),
)
