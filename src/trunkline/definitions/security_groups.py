"""Security groups (neutron's securitygroup extension and neutron-lib's definitions built on it):
the ``security_groups`` and ``security_group_rules`` resources, the rule templates at
``/v2.0/default-security-group-rules``, the ``security_groups`` of ports, and the extensions
that add ``stateful``, ``shared`` (always false: no RBAC here), ``normalized_cidr`` and
``belongs_to_default_sg``. The converters carry Neutron's own errors (a protocol it does not
know is ``SecurityGroupRuleInvalidProtocol``, not an "Invalid input" text)."""
import ipaddress

from trunkline import exceptions as exc
from trunkline.definitions import base, checks as c
from trunkline.definitions import validators as v
from trunkline.definitions.base import UNSPECIFIED, Attr, Extension, Parent, Resource

INGRESS, EGRESS = "ingress", "egress"
IPV4, IPV6 = "IPv4", "IPv6"
ETHERTYPES = [IPV4, IPV6]
PARENT = "PARENT"       # a template's remote group: the new group itself
DEFAULT_NAME = "default"
PROTOCOL_ANY = "any"
# neutron-lib's IP_PROTOCOL_MAP: the names a rule's protocol may be given by
PROTOCOLS = {"ah": 51, "dccp": 33, "egp": 8, "esp": 50, "gre": 47, "hopopt": 0, "icmp": 1,
             "igmp": 2, "ip": 0, "ipip": 4, "ipv6-encap": 41, "ipv6-frag": 44,
             "ipv6-icmp": 58, "icmpv6": 58, "ipv6-nonxt": 59, "ipv6-opts": 60,
             "ipv6-route": 43, "ospf": 89, "pgm": 113, "rsvp": 46, "sctp": 132, "tcp": 6,
             "udp": 17, "udplite": 136, "vrrp": 112}
SUPPORTED_PROTOCOLS = (None, PROTOCOL_ANY) + tuple(PROTOCOLS)


class SecurityGroupNotFound(exc.NotFound):
    message = "Security group %(id)s does not exist"


class SecurityGroupRuleNotFound(exc.NotFound):
    message = "Security group rule %(id)s does not exist"


class DefaultSecurityGroupRuleNotFound(exc.NotFound):
    message = "Default Security Group rule %(id)s does not exist"


class AddressGroupNotFound(exc.NotFound):
    # no address groups are served, so a template naming one names one that does not exist
    message = "Address group %(address_group_id)s could not be found."


# -- converters and validators (neutron/extensions/securitygroup.py)

def to_protocol(value):
    """A protocol name (any case) or number 0-255 as given; 'any' is none."""
    if value in (None, PROTOCOL_ANY):
        return None
    if not isinstance(value, bool):
        try:
            number = int(value)
        except (ValueError, TypeError, OverflowError):
            number = None
        if number is not None:
            if 0 <= number <= 255 and float(value) == number:
                return value if isinstance(value, str) else str(number)
            raise exc.SecurityGroupRuleInvalidProtocol(protocol=value,
                                                       values=SUPPORTED_PROTOCOLS)
    if isinstance(value, str) and value.lower() in SUPPORTED_PROTOCOLS:
        return value.lower()
    raise exc.SecurityGroupRuleInvalidProtocol(protocol=value, values=SUPPORTED_PROTOCOLS)


to_protocol.schema = {"type": "string", "nullable": True}


def to_port(value):
    """A port (or ICMP type/code) 0-65535, or none."""
    if value is None:
        return None
    try:
        number = int(value)
    except (ValueError, TypeError, OverflowError):
        number = None
    if number is not None and 0 <= number <= 65535:
        return number
    raise exc.SecurityGroupInvalidPortValue(port=value)


to_port.schema = {"type": "integer", "minimum": 0, "maximum": 65535, "nullable": True}


@v.described({"enum": ETHERTYPES})
def to_ethertype(value):
    if isinstance(value, str):
        for ethertype in ETHERTYPES:
            if ethertype.lower() == value.lower():
                return ethertype
    raise exc.SecurityGroupRuleInvalidEtherType(ethertype=value, values=ETHERTYPES)


def to_prefix(value):
    """A CIDR as given, host bits kept; a bare address gets its host mask."""
    if not value:
        return None
    if isinstance(value, str) and "%" not in value and value.strip() == value:
        try:
            return str(ipaddress.ip_interface(value))
        except ValueError:
            pass
    raise exc.InvalidCIDR(input=value)


to_prefix.schema = {"type": "string", "nullable": True}


def normalized_cidr(prefix):
    """The network of a stored ``remote_ip_prefix`` (10.0.0.34/24 -> 10.0.0.0/24)."""
    return None if prefix is None else str(ipaddress.ip_interface(prefix).network)


@v.described({"type": "string", "maxLength": v.NAME_MAX})
def name_not_default(value):
    reason = v.string(v.NAME_MAX)(value)
    if reason:
        return reason
    if value.lower() == DEFAULT_NAME:
        raise exc.SecurityGroupDefaultAlreadyExists()
    return None


@v.described({"type": "array", "uniqueItems": True, "items": {"type": "string",
                                                              "format": "uuid"}})
def uuid_list(value):
    if not isinstance(value, list):
        return "'%s' is not a list" % (value,)
    dups = []
    for i, item in enumerate(value):
        if item in value[:i] and item not in dups:
            dups.append(item)
    if dups:
        return "Duplicate items in the list: '%s'" % ", ".join(str(d) for d in dups)
    for item in value:
        reason = v.uuid_(item)
        if reason:
            return reason
    return None


def _rule_attrs():
    """What a rule and a rule template share."""
    return {
        "direction": Attr(post=True, validate=v.values([INGRESS, EGRESS]), filter=True,
                          sort=True),
        # filters are converted as the values are (Neutron converts both alike)
        "ethertype": Attr(post=True, default=IPV4, convert=to_ethertype, filter=True,
                          sort=True, convert_filter=to_ethertype),
        "protocol": Attr(post=True, default=None, convert=to_protocol, filter=True, sort=True,
                         convert_filter=to_protocol),
        "port_range_min": Attr(post=True, default=None, convert=to_port, filter=True, sort=True,
                               convert_filter=to_port),
        "port_range_max": Attr(post=True, default=None, convert=to_port, filter=True, sort=True,
                               convert_filter=to_port),
        "remote_ip_prefix": Attr(post=True, default=None, convert=to_prefix, filter=True,
                                 sort=True, convert_filter=to_prefix),
        "remote_group_id": Attr(post=True, default=None, filter=True, sort=True,
                                refers="security_groups", schema=dict(base.UUID, nullable=True)),
    }


# -- resources

_group_attrs = base.standard({
    "name": Attr(post=True, put=True, default="", validate=name_not_default, filter=True,
                 sort=True),
    "security_group_rules": Attr(schema={"type": "array", "items": base.OBJECT}),
})
SECURITY_GROUP = Resource(
    "security_group", "security_groups", _group_attrs,
    not_found=lambda i: SecurityGroupNotFound(id=i),
    plugin="trunkline.services.security_group.plugin:SecurityGroupPlugin",
    path="security-groups",
    quota="security_group",
    policies=(
        ("create_security_group", c.ADMIN_OR_PROJECT_MEMBER),
        ("get_security_group", c.ADMIN_OR_PROJECT_READER),
        ("update_security_group", c.ADMIN_OR_PROJECT_MEMBER),
        ("delete_security_group", c.ADMIN_OR_PROJECT_MEMBER),
        ("create_default_security_group", c.any_of(c.ADMIN, c.SERVICE, c.PROJECT_READER)),
    ))

SG_OWNER = "rule:sg_owner"
_rule_resource_attrs = {name: attr for name, attr in base.standard({
    "description": Attr(post=True, put=True, default="", validate=v.description_string,
                        filter=True, sort=True),
    "security_group_id": Attr(post=True, validate=v.string(36), filter=True, sort=True),
    **_rule_attrs(),
}).items() if name not in ("name", "tags")}
SECURITY_GROUP_RULE = Resource(
    "security_group_rule", "security_group_rules", _rule_resource_attrs,
    not_found=lambda i: SecurityGroupRuleNotFound(id=i),
    plugin="trunkline.services.security_group.plugin:SecurityGroupRulePlugin",
    path="security-group-rules", tags=False, quota="security_group_rule",
    parent=Parent("security_group_id", "security_groups", "security_group"),
    scope=(base.ON_OWN_PARENT,),
    policies=(
        ("sg_owner", "project_id:%(security_group:project_id)s"),
        ("create_security_group_rule", c.any_of(c.ADMIN, "role:member and " + SG_OWNER)),
        ("get_security_group_rule", c.any_of(c.ADMIN, "role:reader and " + SG_OWNER)),
        ("update_security_group_rule", c.any_of(c.ADMIN, "role:member and " + SG_OWNER)),
        ("delete_security_group_rule", c.any_of(c.ADMIN, "role:member and " + SG_OWNER)),
    ))

DEFAULT_RULE = Resource(
    "default_security_group_rule", "default_security_group_rules", {
        "id": Attr(filter=True, sort=True, schema=base.UUID),
        "description": Attr(post=True, default="", validate=v.description_string, filter=True),
        **_rule_attrs(),
        "remote_group_id": Attr(post=True, default=None, filter=True, sort=True,
                                validate=v.string_or_none(36),
                                schema={"type": "string", "nullable": True}),
        "remote_address_group_id": Attr(post=True, default=None, filter=True, sort=True,
                                        validate=v.string_or_none(36),
                                        schema=dict(base.UUID, nullable=True)),
        "used_in_default_sg": Attr(post=True, convert=v.to_boolean, filter=True,
                                   convert_filter=v.to_boolean),
        "used_in_non_default_sg": Attr(post=True, convert=v.to_boolean, filter=True,
                                       convert_filter=v.to_boolean),
    },
    not_found=lambda i: DefaultSecurityGroupRuleNotFound(id=i),
    plugin="trunkline.services.security_group.plugin:DefaultRulePlugin",
    path="default-security-group-rules", tags=False, scope=None,
    policies=(
        ("create_default_security_group_rule", c.ADMIN),
        ("get_default_security_group_rule", "role:reader"),
        ("delete_default_security_group_rule", c.ADMIN),
    ))

EXTENSIONS = (
    Extension("security-group", "security-group", "The security groups extension.",
              updated="2012-10-05T10:00:00-00:00",
              resources=(SECURITY_GROUP, SECURITY_GROUP_RULE),
              attributes={"port": {"security_groups": Attr(
                  post=True, put=True, default=UNSPECIFIED, convert=v.none_to_empty_list,
                  validate=uuid_list, filter=True)}}),
    Extension("stateful-security-group", "Stateful security group",
              "Indicates if the security group is stateful or not",
              updated="2019-11-26T09:00:00-00:00", requires=("security-group",),
              attributes={"security_group": {"stateful": Attr(
                  post=True, put=True, default=True, convert=v.to_boolean, filter=True,
                  convert_filter=v.to_boolean)}}),
    Extension("security-groups-shared-filtering",
              "Security group filtering on the shared field",
              "Support filtering security groups on the shared field",
              updated="2021-10-05T09:00:00-00:00", requires=("security-group",),
              attributes={"security_group": {"shared": Attr(
                  filter=True, convert_filter=v.to_boolean, schema={"type": "boolean"})}}),
    Extension("security-groups-normalized-cidr",
              "Normalized CIDR field for security group rules",
              "Add new field with normalized remote_ip_prefix cidr in SG rule",
              updated="2020-07-28T10:00:00-00:00", requires=("security-group",),
              attributes={"security_group_rule": {"normalized_cidr": Attr(
                  filter=True, sort=True, schema={"type": "string", "nullable": True})}}),
    Extension("security-groups-rules-belongs-to-default-sg",
              "Security group rule belongs to the project's default security group",
              "Flag to determine if the security group rule belongs to the project's default "
              "security group", updated="2023-05-23T10:00:00-00:00",
              requires=("security-group",),
              attributes={"security_group_rule": {"belongs_to_default_sg": Attr(
                  filter=True, convert_filter=v.to_boolean, schema={"type": "boolean"})}}),
    # the rules' field, advertised independently of address groups (which are not served: a
    # rule naming one answers AddressGroupNotFound)
    Extension("security-groups-remote-address-group",
              "Remote address group id field for security group rules",
              "Add new field of remote address group id in SG rules",
              updated="2020-08-25T10:00:00-00:00", requires=("security-group",),
              attributes={"security_group_rule": {"remote_address_group_id": Attr(
                  post=True, default=None, filter=True, sort=True,
                  validate=v.string_or_none(36), schema=dict(base.UUID, nullable=True))}}),
    Extension("security-groups-default-rules", "Default rules for security groups",
              "Configure set of security group rules used as default rules for every new "
              "security group", updated="2022-12-19T10:00:00-00:00",
              requires=("security-group",), resources=(DEFAULT_RULE,)),
    Extension("port-security-groups-filtering", "Port filtering on security groups",
              "Provides security groups filtering when listing ports",
              updated="2018-01-09T09:00:00-00:00"),
)
