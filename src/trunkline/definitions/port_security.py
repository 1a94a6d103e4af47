"""port-security: ``port_security_enabled`` on networks (the default of their ports) and ports."""
from trunkline.definitions import base, checks as c
from trunkline.definitions import validators as v
from trunkline.definitions.base import Attr, Extension

EXTENSIONS = (Extension(
    "port-security", "Port Security", "Provides port security",
    attributes={
        "network": {"port_security_enabled": Attr(post=True, put=True, default=True,
                                                  convert=v.to_boolean, **base.BOOL_FILTER)},
        # null on create: the network's setting
        "port": {"port_security_enabled": Attr(post=True, put=True, default=None,
                                               convert=v.to_boolean_or_none,
                                               **base.BOOL_FILTER)},
    },
    policies=(
        ("create_network:port_security_enabled", c.ADMIN_OR_PROJECT_MEMBER),
        ("update_network:port_security_enabled", c.ADMIN_OR_PROJECT_MEMBER),
        ("create_port:port_security_enabled", c.any_of(c.ADMIN_OR_SERVICE, c.NET_OWNER_MEMBER)),
        ("update_port:port_security_enabled", c.any_of(c.ADMIN_OR_SERVICE, c.NET_OWNER_MEMBER)),
    )),)
