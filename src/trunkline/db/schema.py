"""The relational schema, as SQLAlchemy Core tables: the single description the code queries and
the migrations must produce (a test compares the two).

Invariants live in constraints, so concurrent requests cannot break them: one MAC per network,
one IP per subnet, one trunk per parent port, a port in at most one trunk as subport, one
(segmentation type, id) per trunk, one segment (type, physnet, id) per network.
Timestamps are stored as Neutron prints them (``2016-11-15T01:58:13Z``), which also sorts.
"""
from sqlalchemy import (JSON, BigInteger, Boolean, Column, Float, ForeignKey, Index, Integer,
                        MetaData, String, Table, UniqueConstraint)

metadata = MetaData(naming_convention={
    "ix": "ix_%(table_name)s_%(column_0_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
})


def _standard_attributes(named=True):
    """Columns every Neutron resource has (standard-attr-* extensions); ``named=False`` for
    the resources without a name (security group rules)."""
    return [
        Column("project_id", String(255), nullable=False, index=True),
        *([Column("name", String(255), nullable=False, server_default="")] if named else []),
        Column("description", String(255), nullable=False, server_default=""),
        Column("revision_number", BigInteger, nullable=False, server_default="0"),
        Column("created_at", String(20), nullable=False),
        Column("updated_at", String(20), nullable=False),
    ]


networks = Table(
    "networks", metadata,
    Column("id", String(36), primary_key=True),
    *_standard_attributes(),
    Column("admin_state_up", Boolean, nullable=False),
    Column("status", String(16), nullable=False),
    Column("shared", Boolean, nullable=False),
    Column("router_external", Boolean, nullable=False),
    Column("port_security_enabled", Boolean, nullable=False),
    Column("mtu", Integer, nullable=False),
    # The network's one segment. physical_network '' and segmentation_id 0 stand for "none"
    # so the unique constraint also covers flat networks (SQL treats NULLs as distinct).
    Column("network_type", String(32), nullable=False),
    Column("physical_network", String(64), nullable=False),
    Column("segmentation_id", Integer, nullable=False),
    UniqueConstraint("network_type", "physical_network", "segmentation_id"),
)

subnets = Table(
    "subnets", metadata,
    Column("id", String(36), primary_key=True),
    *_standard_attributes(),
    Column("network_id", String(36), ForeignKey("networks.id", ondelete="CASCADE"),
           nullable=False, index=True),
    Column("ip_version", Integer, nullable=False),
    Column("cidr", String(64), nullable=False),
    Column("gateway_ip", String(64)),
    Column("enable_dhcp", Boolean, nullable=False),
    Column("ipv6_ra_mode", String(16)),
    Column("ipv6_address_mode", String(16)),
    Column("allocation_pools", JSON, nullable=False),
    Column("dns_nameservers", JSON, nullable=False),
    Column("host_routes", JSON, nullable=False),
)

ports = Table(
    "ports", metadata,
    Column("id", String(36), primary_key=True),
    *_standard_attributes(),
    Column("network_id", String(36), ForeignKey("networks.id"), nullable=False, index=True),
    Column("mac_address", String(32), nullable=False, index=True),
    Column("admin_state_up", Boolean, nullable=False),
    Column("status", String(16), nullable=False),
    Column("device_id", String(255), nullable=False, index=True),
    Column("device_owner", String(255), nullable=False),
    Column("host", String(255), nullable=False, server_default="", index=True),
    Column("vif_type", String(64), nullable=False),
    Column("vif_details", JSON, nullable=False),
    Column("vnic_type", String(64), nullable=False),
    Column("profile", JSON, nullable=False),
    Column("allowed_address_pairs", JSON, nullable=False),
    Column("port_security_enabled", Boolean, nullable=False),
    UniqueConstraint("network_id", "mac_address"),
)

ipallocations = Table(
    "ipallocations", metadata,
    Column("subnet_id", String(36), ForeignKey("subnets.id"), primary_key=True),
    Column("ip_address", String(64), primary_key=True),
    Column("port_id", String(36), ForeignKey("ports.id", ondelete="CASCADE"),
           nullable=False, index=True),
    Column("network_id", String(36), nullable=False, index=True),
    Index("ix_ipallocations_ip_address", "ip_address"),
)

# The addresses of a subnet's allocation pools that no port holds, as ranges [first, last]
# (plugins/ipam.py): keys are the addresses in fixed-width hex (8 digits for IPv4, 32 for IPv6),
# so text order is address order and the range holding an address is one index lookup.
ipfreeranges = Table(
    "ipfreeranges", metadata,
    Column("subnet_id", String(36), ForeignKey("subnets.id", ondelete="CASCADE"),
           primary_key=True),
    Column("first", String(32), primary_key=True),
    Column("last", String(32), nullable=False),
)

trunks = Table(
    "trunks", metadata,
    Column("id", String(36), primary_key=True),
    *_standard_attributes(),
    Column("admin_state_up", Boolean, nullable=False),
    Column("status", String(16), nullable=False),
    Column("port_id", String(36), ForeignKey("ports.id"), nullable=False, unique=True),
)

subports = Table(
    "subports", metadata,
    Column("port_id", String(36), ForeignKey("ports.id"), primary_key=True),
    Column("trunk_id", String(36), ForeignKey("trunks.id", ondelete="CASCADE"), nullable=False),
    Column("segmentation_type", String(32), nullable=False),
    Column("segmentation_id", Integer, nullable=False),
    Column("position", BigInteger, nullable=False),
    UniqueConstraint("trunk_id", "segmentation_type", "segmentation_id"),
)

# A port's inactive bindings (binding-extended: Nova's live migration binds the destination
# before it activates it); the active binding is the port's own host/vif columns. Rows go with
# their port.
portbindings = Table(
    "portbindings", metadata,
    Column("port_id", String(36), ForeignKey("ports.id", ondelete="CASCADE"), primary_key=True),
    Column("host", String(255), primary_key=True),
    Column("vif_type", String(64), nullable=False),
    Column("vif_details", JSON, nullable=False),
    Column("vnic_type", String(64), nullable=False),
    Column("profile", JSON, nullable=False),
)

# A port's extra DHCP options (extra_dhcp_opt extension): one value per (option, IP version);
# an option's rows go with its port.
extradhcpopts = Table(
    "extradhcpopts", metadata,
    Column("port_id", String(36), ForeignKey("ports.id", ondelete="CASCADE"), primary_key=True),
    Column("opt_name", String(64), primary_key=True),
    Column("ip_version", Integer, primary_key=True),
    Column("opt_value", String(255), nullable=False),
)

# Per-project quota limits (Neutron's quotas table): a row only where a limit differs from the
# server's default; -1 is unlimited.
quotas = Table(
    "quotas", metadata,
    Column("project_id", String(255), primary_key=True),
    Column("resource", String(255), primary_key=True),
    Column("limit", Integer, nullable=False),
)

# Security groups (the security-group extension and the ones built on it). A group's rules go
# with it, and so do the rules of other groups that name it as their remote group; a group a
# port uses cannot be deleted (the plugin refuses), so bindings only go with their port.
securitygroups = Table(
    "securitygroups", metadata,
    Column("id", String(36), primary_key=True),
    *_standard_attributes(),
    Column("stateful", Boolean, nullable=False),
)

securitygrouprules = Table(
    "securitygrouprules", metadata,
    Column("id", String(36), primary_key=True),
    *_standard_attributes(named=False),
    Column("security_group_id", String(36), ForeignKey("securitygroups.id", ondelete="CASCADE"),
           nullable=False, index=True),
    Column("remote_group_id", String(36), ForeignKey("securitygroups.id", ondelete="CASCADE"),
           index=True),
    Column("remote_address_group_id", String(36)),
    Column("direction", String(16), nullable=False),
    Column("ethertype", String(40), nullable=False),
    Column("protocol", String(40)),
    Column("port_range_min", Integer),
    Column("port_range_max", Integer),
    Column("remote_ip_prefix", String(255)),
    Column("normalized_cidr", String(255)),
)

securitygroupportbindings = Table(
    "securitygroupportbindings", metadata,
    Column("port_id", String(36), ForeignKey("ports.id", ondelete="CASCADE"), primary_key=True),
    Column("security_group_id", String(36), ForeignKey("securitygroups.id"), primary_key=True,
           index=True),
)

# Each project's one default group ("default", created lazily).
default_security_group = Table(
    "default_security_group", metadata,
    Column("project_id", String(255), primary_key=True),
    Column("security_group_id", String(36), ForeignKey("securitygroups.id", ondelete="CASCADE"),
           nullable=False, unique=True),
)

# The rules every new group starts with (/v2.0/default-security-group-rules); remote_group_id
# "PARENT" stands for the new group itself.
securitygroupdefaultrules = Table(
    "securitygroupdefaultrules", metadata,
    Column("id", String(36), primary_key=True),
    Column("direction", String(16), nullable=False),
    Column("ethertype", String(40), nullable=False),
    Column("protocol", String(40)),
    Column("port_range_min", Integer),
    Column("port_range_max", Integer),
    Column("remote_ip_prefix", String(255)),
    Column("remote_group_id", String(36)),
    Column("remote_address_group_id", String(36)),
    Column("description", String(255), nullable=False, server_default=""),
    Column("used_in_default_sg", Boolean, nullable=False),
    Column("used_in_non_default_sg", Boolean, nullable=False),
)

tags = Table(
    "tags", metadata,
    Column("resource_id", String(36), primary_key=True),
    Column("tag", String(255), primary_key=True),
    Index("ix_tags_tag", "tag"),
)

# The global revision: every write transaction takes the next value first, which also
# serialises writers, so revisions are committed in order (watchers never skip one).
# Row 1 holds the current revision; row 2, once the change log has been pruned, the revision
# up to which rows may be gone (db/changelog.py).
revision = Table(
    "revision", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("value", BigInteger, nullable=False),
)

# The change log (outbox): what changed at which revision, for agents that watch.
changes = Table(
    "changes", metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("revision", BigInteger, nullable=False, index=True),
    Column("kind", String(32), nullable=False),
    Column("resource_id", String(36), nullable=False),
    Column("op", String(16), nullable=False),
    Column("hosts", JSON, nullable=False),
    Column("at", String(20), nullable=False),
)

# Host agents (Neutron's agents resource), registered and kept alive over the agent channel.
# Times are stored as Neutron prints an agent's (``2017-09-12 19:42:09``), which also sorts.
agents = Table(
    "agents", metadata,
    Column("id", String(36), primary_key=True),
    Column("agent_type", String(255), nullable=False),
    Column("binary", String(255), nullable=False),
    Column("host", String(255), nullable=False, index=True),
    Column("topic", String(255), nullable=False),
    Column("configurations", JSON, nullable=False),
    Column("admin_state_up", Boolean, nullable=False),
    Column("created_at", String(20), nullable=False),
    Column("started_at", String(20), nullable=False),
    Column("heartbeat_at", String(20), nullable=False),
    Column("description", String(255), nullable=False, server_default=""),
    Column("pass_seconds", Float),      # the agent's last pass, as its heartbeat reports it
    UniqueConstraint("agent_type", "host"),
)
