"""allowed-address-pairs: further MAC/IP pairs a port may send from (with port security)."""
from trunkline.definitions import checks as c
from trunkline.definitions import validators as v
from trunkline.definitions.base import Attr, Extension

EXTENSIONS = (Extension(
    "allowed-address-pairs", "Allowed Address Pairs", "Provides allowed address pairs",
    attributes={"port": {
        "allowed_address_pairs": Attr(post=True, put=True, default=None,
                                      convert=v.none_to_empty_list, validate=v.address_pairs),
    }},
    policies=tuple((rule, c.any_of(c.ADMIN, c.NET_OWNER_MEMBER)) for rule in (
        "create_port:allowed_address_pairs", "create_port:allowed_address_pairs:mac_address",
        "create_port:allowed_address_pairs:ip_address", "update_port:allowed_address_pairs",
        "update_port:allowed_address_pairs:mac_address",
        "update_port:allowed_address_pairs:ip_address"))),)
