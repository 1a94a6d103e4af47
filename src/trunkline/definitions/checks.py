"""The words Neutron's default policies (secure RBAC: ``enforce_new_defaults`` and
``enforce_scope``) are written in, as oslo.policy check strings; each resource's definition
states its own rules with these, and api/policies.py registers them."""

ADMIN = "rule:admin_only"
SERVICE = "rule:service_api"
PROJECT_MEMBER = "role:member and project_id:%(project_id)s"
PROJECT_READER = "role:reader and project_id:%(project_id)s"
NET_OWNER = "rule:network_owner"
NET_OWNER_MEMBER = "role:member and " + NET_OWNER
NET_OWNER_READER = "role:reader and " + NET_OWNER
SHARED = "rule:shared"
EXTERNAL = "rule:external"
EXTERNAL_SUBNET = "rule:external_network"
NETWORK_DEVICE = "rule:network_device"


def any_of(*checks: str) -> str:
    return " or ".join("(%s)" % c for c in checks)


ADMIN_OR_SERVICE = any_of(ADMIN, SERVICE)
ADMIN_OR_PROJECT_MEMBER = any_of(ADMIN, PROJECT_MEMBER)
ADMIN_OR_PROJECT_READER = any_of(ADMIN, PROJECT_READER)

# the rules the others are built from (not project-scoped)
BASE = (
    ("context_is_admin", "role:admin"),
    ("service_api", "role:service"),
    ("owner", "project_id:%(project_id)s"),
    ("admin_or_owner", "rule:context_is_admin or rule:owner"),
    ("admin_or_network_owner", "rule:context_is_admin or project_id:%(network:project_id)s"),
    ("admin_owner_or_network_owner", "rule:owner or rule:admin_or_network_owner"),
    ("network_owner", "project_id:%(network:project_id)s"),
    ("admin_only", "rule:context_is_admin"),
    ("regular_user", ""),
    ("shared", "field:networks:shared=True"),
    ("external", "field:networks:router:external=True"),
    ("external_network", "field:subnets:router:external=True"),
    ("network_device", "field:port:device_owner=~^network:"),
    ("default", "rule:admin_or_owner"),
)


def project_crud(member: str) -> tuple:
    """create/get/update/delete for a resource only its project sees: readers read, members
    change."""
    return (("create_" + member, ADMIN_OR_PROJECT_MEMBER),
            ("get_" + member, ADMIN_OR_PROJECT_READER),
            ("update_" + member, ADMIN_OR_PROJECT_MEMBER),
            ("delete_" + member, ADMIN_OR_PROJECT_MEMBER))


def tag_rules(collection: str) -> tuple:
    """Tags follow the resource: readers read them, members change them."""
    return (("get_%s_tags" % collection, ADMIN_OR_PROJECT_READER),
            ("create_%s_tags" % collection, ADMIN_OR_PROJECT_MEMBER),
            ("update_%s_tags" % collection, ADMIN_OR_PROJECT_MEMBER),
            ("delete_%s_tags" % collection, ADMIN_OR_PROJECT_MEMBER))
