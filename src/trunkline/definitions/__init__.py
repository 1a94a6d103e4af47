"""The API's resources as data (like neutron-lib's api/definitions): each attribute says whether it
may be POSTed or PUT, its default, converter and validator, whether it is a list filter or a sort
key, which column stores it, and the JSON Schema of its wire value (api/openapi.py builds the API
description from these). The API layer validates and serialises with these; the plugins read
defaults and columns from them. Nothing here touches the database or HTTP.
"""
from dataclasses import dataclass
from typing import Any, Callable, Optional

from trunkline.definitions import validators as v

UUID = {"type": "string", "format": "uuid"}
TEXT = {"type": "string"}
TIME = {"type": "string", "format": "date-time"}
OBJECT = {"type": "object"}

MAX_TAGS = 50         # per resource (Neutron's MAX_TAGS_PER_RESOURCE)
MAX_TAG_LENGTH = 255
NOTSET = object()       # no default: the attribute is required on POST
UNSPECIFIED = object()  # optional, and "not given" differs from null (gateway_ip)


@dataclass(frozen=True)
class Attr:
    post: bool = False
    put: bool = False
    default: Any = NOTSET          # NOTSET + post = required on create
    convert: Optional[Callable] = None
    validate: Optional[Callable] = None
    filter: bool = False
    sort: bool = False
    column: Optional[str] = None   # column for filter/sort, when it is not the attribute's name
    convert_filter: Optional[Callable] = None  # how query-string values are converted
    schema: Optional[dict] = None  # JSON Schema of the value, when no converter/validator says

    def json_schema(self):
        """The JSON Schema of the attribute's wire value (for the OpenAPI document)."""
        schema = self.schema or getattr(self.validate, "schema", None) or \
            getattr(self.convert, "schema", None) or {}
        if self.default is None and not schema.get("nullable"):
            schema = dict(schema, nullable=True)
        return schema


@dataclass(frozen=True)
class Resource:
    member: str
    collection: str
    attrs: dict
    tags: bool = True

    def column_of(self, name):
        attr = self.attrs[name]
        return attr.column or name


def _standard(extra):
    """Attributes every resource has: id, project, description, revision, timestamps, tags."""
    attrs = {
        "id": Attr(filter=True, sort=True, schema=UUID),
        "project_id": Attr(post=True, default=None, validate=v.string_or_none(255), filter=True,
                           sort=True),
        "tenant_id": Attr(post=True, default=None, validate=v.string_or_none(255), filter=True,
                          sort=True, column="project_id"),
        "name": Attr(post=True, put=True, default="", validate=v.name_string, filter=True,
                     sort=True),
        "description": Attr(post=True, put=True, default="", validate=v.description_string,
                            filter=True, sort=True),
        "revision_number": Attr(filter=True, sort=True, convert_filter=v.to_filter_int,
                                schema={"type": "integer"}),
        "created_at": Attr(sort=True, schema=TIME),
        "updated_at": Attr(sort=True, schema=TIME),
        "tags": Attr(schema={"type": "array", "items": TEXT}),
    }
    attrs.update(extra)
    return attrs


_bool_filter = dict(filter=True, sort=True, convert_filter=v.to_boolean)

network = Resource("network", "networks", _standard({
    "admin_state_up": Attr(post=True, put=True, default=True, convert=v.to_boolean, **_bool_filter),
    "status": Attr(filter=True, sort=True, schema=TEXT),
    "subnets": Attr(schema={"type": "array", "items": UUID}),
    "shared": Attr(post=True, put=True, default=False, convert=v.to_boolean, **_bool_filter),
    "router:external": Attr(post=True, put=True, default=False, convert=v.to_boolean,
                            column="router_external", **_bool_filter),
    "port_security_enabled": Attr(post=True, put=True, default=True, convert=v.to_boolean,
                                  **_bool_filter),
    "mtu": Attr(post=True, put=True, default=None, convert=v.to_int_or_none,
                validate=v.non_negative_or_none, filter=True, sort=True,
                convert_filter=v.to_filter_int32),
    "provider:network_type": Attr(post=True, default=None,
                                  validate=v.string_or_none(32), filter=True, sort=True,
                                  column="network_type"),
    "provider:physical_network": Attr(post=True, default=None,
                                      validate=v.string_or_none(64), filter=True, sort=True,
                                      column="physical_network"),
    "provider:segmentation_id": Attr(post=True, default=None, convert=v.to_int_or_none,
                                     filter=True, sort=True, column="segmentation_id",
                                     convert_filter=v.to_filter_int32),
}))

subnet = Resource("subnet", "subnets", _standard({
    "network_id": Attr(post=True, validate=v.uuid_, filter=True, sort=True),
    "ip_version": Attr(post=True, convert=v.to_int, validate=v.values((4, 6)), filter=True,
                       sort=True, convert_filter=v.to_filter_int32),
    "cidr": Attr(post=True, default=None, convert=v.to_cidr_or_none, filter=True, sort=True),
    "gateway_ip": Attr(post=True, put=True, default=UNSPECIFIED, validate=v.ip_address_or_none,
                       filter=True, sort=True),
    "allocation_pools": Attr(post=True, put=True, default=None, convert=v.to_pool_list,
                             validate=v.allocation_pools_or_none),
    "dns_nameservers": Attr(post=True, put=True, default=None, convert=v.to_list,
                            validate=v.nameservers),
    "host_routes": Attr(post=True, put=True, default=None, convert=v.to_list,
                        validate=v.hostroutes),
    "enable_dhcp": Attr(post=True, put=True, default=True, convert=v.to_boolean, **_bool_filter),
    "ipv6_ra_mode": Attr(post=True, default=None, validate=v.values_or_none(
        ("dhcpv6-stateful", "dhcpv6-stateless", "slaac")), filter=True, sort=True),
    "ipv6_address_mode": Attr(post=True, default=None, validate=v.values_or_none(
        ("dhcpv6-stateful", "dhcpv6-stateless", "slaac")), filter=True, sort=True),
    "subnetpool_id": Attr(post=True, default=None, validate=v.values_or_none((None,)),
                          filter=True),
    # the network's `shared`, a filter only (never in a subnet's body), as in neutron-lib
    "shared": Attr(filter=True, convert_filter=v.to_boolean, schema={"type": "boolean"}),
    "prefixlen": Attr(post=True, default=None, validate=v.values_or_none((None,))),
    "use_default_subnetpool": Attr(post=True, default=False, convert=v.to_boolean,
                                   validate=v.values((False,))),
}))

VNIC_TYPES = ("normal", "direct", "macvtap", "baremetal", "direct-physical", "virtio-forwarder",
              "smart-nic", "remote-managed", "vdpa", "accelerator-direct",
              "accelerator-direct-physical")

port = Resource("port", "ports", _standard({
    "network_id": Attr(post=True, validate=v.uuid_, filter=True, sort=True),
    "admin_state_up": Attr(post=True, put=True, default=True, convert=v.to_boolean, **_bool_filter),
    "mac_address": Attr(post=True, put=True, default=None, convert=v.to_lower_mac,
                        validate=v.mac_address_or_none,
                        filter=True, sort=True),
    "fixed_ips": Attr(post=True, put=True, default=None, convert=v.to_list,
                      validate=v.fixed_ips, filter=True),
    "device_id": Attr(post=True, put=True, default="", validate=v.string(255), filter=True,
                      sort=True),
    "device_owner": Attr(post=True, put=True, default="", validate=v.string(255), filter=True,
                         sort=True),
    "status": Attr(filter=True, sort=True, schema=TEXT),
    "binding:host_id": Attr(post=True, put=True, default="", validate=v.string(255),
                            filter=True, column="host"),
    "binding:vif_type": Attr(filter=True, column="vif_type", schema=TEXT),
    "binding:vif_details": Attr(schema=OBJECT),
    "binding:vnic_type": Attr(post=True, put=True, default="normal",
                              validate=v.values(VNIC_TYPES), filter=True, column="vnic_type"),
    "binding:profile": Attr(post=True, put=True, default=None, validate=v.dict_or_empty),
    "allowed_address_pairs": Attr(post=True, put=True, default=None,
                                  convert=v.none_to_empty_list, validate=v.address_pairs),
    "port_security_enabled": Attr(post=True, put=True, default=None,
                                  convert=v.to_boolean_or_none,
                                  **_bool_filter),
    "trunk_details": Attr(schema=dict(OBJECT, nullable=True)),
    # extra_dhcp_opt extension: None on create is no option, on update no change
    "extra_dhcp_opts": Attr(post=True, put=True, default=None, convert=v.to_extra_dhcp_opts),
}))

SEGMENTATION_TYPES = ("vlan", "inherit")

trunk = Resource("trunk", "trunks", _standard({
    "admin_state_up": Attr(post=True, put=True, default=True, convert=v.to_boolean, **_bool_filter),
    "status": Attr(filter=True, sort=True, schema=TEXT),
    "port_id": Attr(post=True, validate=v.uuid_, filter=True, sort=True),
    "sub_ports": Attr(post=True, default=[], validate=v.subports),
}))

# Neutron's agents (agent extension): registered by the agents themselves over the agent
# channel; the API only lists, shows, updates admin_state_up/description and deletes them.
agent = Resource("agent", "agents", {
    "id": Attr(filter=True, sort=True, schema=UUID),
    "agent_type": Attr(filter=True, sort=True, schema=TEXT),
    "binary": Attr(filter=True, sort=True, schema=TEXT),
    "topic": Attr(filter=True, sort=True, schema=TEXT),
    "host": Attr(filter=True, sort=True, schema=TEXT),
    "admin_state_up": Attr(put=True, convert=v.to_boolean, **_bool_filter),
    "created_at": Attr(sort=True, schema=TEXT),
    "started_at": Attr(sort=True, schema=TEXT),
    "heartbeat_timestamp": Attr(sort=True, column="heartbeat_at", schema=TEXT),
    "alive": Attr(filter=True, convert_filter=v.to_boolean, schema={"type": "boolean"}),
    "configurations": Attr(schema=OBJECT),
    "description": Attr(put=True, validate=v.description_string, filter=True, sort=True),
    "availability_zone": Attr(schema=dict(TEXT, nullable=True)),
    "resources_synced": Attr(schema={"type": "boolean", "nullable": True}),
}, tags=False)

