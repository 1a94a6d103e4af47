"""Neutron's default policies (secure RBAC, ``enforce_new_defaults`` and ``enforce_scope``) for
what trunkline implements, as data: rule names and check strings are Neutron's, so a Neutron
policy file overrides them the same way. ``create_X:attr`` / ``update_X:attr`` are checked only
when the request sets the attribute; ``get_X:attr`` hides the attribute when it fails."""
from oslo_policy import policy

ADMIN = "rule:admin_only"
SERVICE = "rule:service_api"
PROJECT_MEMBER = "role:member and project_id:%(project_id)s"
PROJECT_READER = "role:reader and project_id:%(project_id)s"
NET_OWNER = "rule:network_owner"
NET_OWNER_MEMBER = "role:member and " + NET_OWNER
NET_OWNER_READER = "role:reader and " + NET_OWNER


def any_of(*checks):
    return " or ".join("(%s)" % c for c in checks)


ADMIN_OR_SERVICE = any_of(ADMIN, SERVICE)
ADMIN_OR_PROJECT_MEMBER = any_of(ADMIN, PROJECT_MEMBER)
ADMIN_OR_PROJECT_READER = any_of(ADMIN, PROJECT_READER)

BASE = [
    ("context_is_admin", "role:admin"),
    ("service_api", "role:service"),
    ("owner", "tenant_id:%(tenant_id)s"),
    ("admin_or_owner", "rule:context_is_admin or rule:owner"),
    ("admin_or_network_owner", "rule:context_is_admin or tenant_id:%(network:tenant_id)s"),
    ("admin_owner_or_network_owner", "rule:owner or rule:admin_or_network_owner"),
    ("network_owner", "tenant_id:%(network:tenant_id)s"),
    ("admin_only", "rule:context_is_admin"),
    ("regular_user", ""),
    ("shared", "field:networks:shared=True"),
    ("external", "field:networks:router:external=True"),
    ("network_device", "field:port:device_owner=~^network:"),
    ("default", "rule:admin_or_owner"),
]

NETWORKS = [
    ("create_network", ADMIN_OR_PROJECT_MEMBER),
    ("create_network:shared", ADMIN),
    ("create_network:router:external", ADMIN),
    ("create_network:port_security_enabled", ADMIN_OR_PROJECT_MEMBER),
    ("create_network:provider:network_type", ADMIN),
    ("create_network:provider:physical_network", ADMIN),
    ("create_network:provider:segmentation_id", ADMIN),
    ("get_network", any_of(ADMIN_OR_SERVICE, PROJECT_READER, "rule:shared", "rule:external")),
    ("get_network:provider:network_type", ADMIN),
    ("get_network:provider:physical_network", ADMIN),
    ("get_network:provider:segmentation_id", ADMIN),
    ("update_network", ADMIN_OR_PROJECT_MEMBER),
    ("update_network:shared", ADMIN),
    ("update_network:router:external", ADMIN),
    ("update_network:port_security_enabled", ADMIN_OR_PROJECT_MEMBER),
    ("update_network:provider:network_type", ADMIN),
    ("update_network:provider:physical_network", ADMIN),
    ("update_network:provider:segmentation_id", ADMIN),
    ("delete_network", ADMIN_OR_PROJECT_MEMBER),
]

SUBNETS = [
    ("create_subnet", any_of(ADMIN_OR_PROJECT_MEMBER, NET_OWNER_MEMBER)),
    ("get_subnet", any_of(ADMIN_OR_SERVICE, PROJECT_READER, NET_OWNER_READER, "rule:shared")),
    ("update_subnet", any_of(ADMIN_OR_PROJECT_MEMBER, NET_OWNER_MEMBER)),
    ("delete_subnet", any_of(ADMIN_OR_PROJECT_MEMBER, NET_OWNER_MEMBER)),
]

PORTS = [
    ("create_port", any_of(ADMIN_OR_SERVICE, PROJECT_MEMBER)),
    ("create_port:device_owner", any_of("not rule:network_device", ADMIN_OR_SERVICE,
                                        NET_OWNER_MEMBER)),
    ("create_port:mac_address", any_of(ADMIN_OR_SERVICE, NET_OWNER_MEMBER)),
    ("create_port:fixed_ips", any_of(ADMIN_OR_SERVICE, NET_OWNER_MEMBER, "rule:shared")),
    ("create_port:fixed_ips:ip_address", any_of(ADMIN_OR_SERVICE, NET_OWNER_MEMBER)),
    ("create_port:fixed_ips:subnet_id", any_of(ADMIN_OR_SERVICE, NET_OWNER_MEMBER,
                                               "rule:shared")),
    ("create_port:port_security_enabled", any_of(ADMIN_OR_SERVICE, NET_OWNER_MEMBER)),
    ("create_port:binding:host_id", ADMIN_OR_SERVICE),
    ("create_port:binding:profile", ADMIN_OR_SERVICE),
    ("create_port:binding:vnic_type", any_of(ADMIN_OR_SERVICE, PROJECT_MEMBER)),
    ("create_port:allowed_address_pairs", any_of(ADMIN, NET_OWNER_MEMBER)),
    ("create_port:allowed_address_pairs:mac_address", any_of(ADMIN, NET_OWNER_MEMBER)),
    ("create_port:allowed_address_pairs:ip_address", any_of(ADMIN, NET_OWNER_MEMBER)),
    ("get_port", any_of(ADMIN_OR_SERVICE, PROJECT_READER, NET_OWNER_READER)),
    ("get_port:binding:vif_type", ADMIN_OR_SERVICE),
    ("get_port:binding:vif_details", ADMIN_OR_SERVICE),
    ("get_port:binding:host_id", ADMIN_OR_SERVICE),
    ("get_port:binding:profile", ADMIN_OR_SERVICE),
    ("update_port", any_of(ADMIN_OR_SERVICE, PROJECT_MEMBER)),
    ("update_port:device_owner", any_of("not rule:network_device", ADMIN_OR_SERVICE,
                                        NET_OWNER_MEMBER)),
    ("update_port:mac_address", ADMIN_OR_SERVICE),
    ("update_port:fixed_ips", any_of(ADMIN_OR_SERVICE, NET_OWNER_MEMBER)),
    ("update_port:fixed_ips:ip_address", any_of(ADMIN_OR_SERVICE, NET_OWNER_MEMBER)),
    ("update_port:fixed_ips:subnet_id", any_of(ADMIN_OR_SERVICE, NET_OWNER_MEMBER,
                                               "rule:shared")),
    ("update_port:port_security_enabled", any_of(ADMIN_OR_SERVICE, NET_OWNER_MEMBER)),
    ("update_port:binding:host_id", ADMIN_OR_SERVICE),
    ("update_port:binding:profile", ADMIN_OR_SERVICE),
    ("update_port:binding:vnic_type", any_of(ADMIN_OR_SERVICE, PROJECT_MEMBER)),
    ("update_port:allowed_address_pairs", any_of(ADMIN, NET_OWNER_MEMBER)),
    ("update_port:allowed_address_pairs:mac_address", any_of(ADMIN, NET_OWNER_MEMBER)),
    ("update_port:allowed_address_pairs:ip_address", any_of(ADMIN, NET_OWNER_MEMBER)),
    ("delete_port", any_of(ADMIN_OR_SERVICE, PROJECT_MEMBER, NET_OWNER_MEMBER)),
]

TRUNKS = [
    ("create_trunk", ADMIN_OR_PROJECT_MEMBER),
    ("get_trunk", ADMIN_OR_PROJECT_READER),
    ("update_trunk", ADMIN_OR_PROJECT_MEMBER),
    ("delete_trunk", ADMIN_OR_PROJECT_MEMBER),
    ("get_subports", ADMIN_OR_PROJECT_READER),
    ("add_subports", ADMIN_OR_PROJECT_MEMBER),
    ("remove_subports", ADMIN_OR_PROJECT_MEMBER),
]

AGENTS = [
    ("get_agent", ADMIN),
    ("update_agent", ADMIN),
    ("delete_agent", ADMIN),
]


def _tag_rules():
    """Tags follow the resource: readers read them, members change them."""
    out = []
    for collection in ("networks", "subnets", "ports", "trunks"):
        out += [("get_%s_tags" % collection, ADMIN_OR_PROJECT_READER),
                ("create_%s_tags" % collection, ADMIN_OR_PROJECT_MEMBER),
                ("update_%s_tags" % collection, ADMIN_OR_PROJECT_MEMBER),
                ("delete_%s_tags" % collection, ADMIN_OR_PROJECT_MEMBER)]
    return out


def defaults():
    """All rules as oslo.policy RuleDefaults; the API's rules are project-scoped."""
    rules = [policy.RuleDefault(name, check) for name, check in BASE]
    for name, check in NETWORKS + SUBNETS + PORTS + TRUNKS + AGENTS + _tag_rules():
        rules.append(policy.RuleDefault(name, check, scope_types=["project"]))
    return rules
