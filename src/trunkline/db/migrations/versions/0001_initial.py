"""Initial schema: networks, subnets, ports, IP allocations, trunks, subports, tags, the global
revision and the change log.

Revision ID: 0001
Revises:
"""
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _standard():
    return [
        sa.Column("project_id", sa.String(255), nullable=False),
        sa.Column("name", sa.String(255), nullable=False, server_default=""),
        sa.Column("description", sa.String(255), nullable=False, server_default=""),
        sa.Column("revision_number", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("created_at", sa.String(20), nullable=False),
        sa.Column("updated_at", sa.String(20), nullable=False),
    ]


def upgrade():
    op.create_table(
        "networks",
        sa.Column("id", sa.String(36), nullable=False),
        *_standard(),
        sa.Column("admin_state_up", sa.Boolean, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("shared", sa.Boolean, nullable=False),
        sa.Column("router_external", sa.Boolean, nullable=False),
        sa.Column("port_security_enabled", sa.Boolean, nullable=False),
        sa.Column("mtu", sa.Integer, nullable=False),
        sa.Column("network_type", sa.String(32), nullable=False),
        sa.Column("physical_network", sa.String(64), nullable=False),
        sa.Column("segmentation_id", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_networks"),
        sa.UniqueConstraint("network_type", "physical_network", "segmentation_id",
                            name="uq_networks_network_type_physical_network_segmentation_id"),
    )
    op.create_index("ix_networks_project_id", "networks", ["project_id"])

    op.create_table(
        "subnets",
        sa.Column("id", sa.String(36), nullable=False),
        *_standard(),
        sa.Column("network_id", sa.String(36), nullable=False),
        sa.Column("ip_version", sa.Integer, nullable=False),
        sa.Column("cidr", sa.String(64), nullable=False),
        sa.Column("gateway_ip", sa.String(64)),
        sa.Column("enable_dhcp", sa.Boolean, nullable=False),
        sa.Column("ipv6_ra_mode", sa.String(16)),
        sa.Column("ipv6_address_mode", sa.String(16)),
        sa.Column("allocation_pools", sa.JSON, nullable=False),
        sa.Column("dns_nameservers", sa.JSON, nullable=False),
        sa.Column("host_routes", sa.JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_subnets"),
        sa.ForeignKeyConstraint(["network_id"], ["networks.id"], ondelete="CASCADE",
                                name="fk_subnets_network_id_networks"),
    )
    op.create_index("ix_subnets_project_id", "subnets", ["project_id"])
    op.create_index("ix_subnets_network_id", "subnets", ["network_id"])

    op.create_table(
        "ports",
        sa.Column("id", sa.String(36), nullable=False),
        *_standard(),
        sa.Column("network_id", sa.String(36), nullable=False),
        sa.Column("mac_address", sa.String(32), nullable=False),
        sa.Column("admin_state_up", sa.Boolean, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("device_id", sa.String(255), nullable=False),
        sa.Column("device_owner", sa.String(255), nullable=False),
        sa.Column("host", sa.String(255), nullable=False, server_default=""),
        sa.Column("vif_type", sa.String(64), nullable=False),
        sa.Column("vif_details", sa.JSON, nullable=False),
        sa.Column("vnic_type", sa.String(64), nullable=False),
        sa.Column("profile", sa.JSON, nullable=False),
        sa.Column("allowed_address_pairs", sa.JSON, nullable=False),
        sa.Column("port_security_enabled", sa.Boolean, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_ports"),
        sa.ForeignKeyConstraint(["network_id"], ["networks.id"], name="fk_ports_network_id_networks"),
        sa.UniqueConstraint("network_id", "mac_address", name="uq_ports_network_id_mac_address"),
    )
    op.create_index("ix_ports_project_id", "ports", ["project_id"])
    op.create_index("ix_ports_network_id", "ports", ["network_id"])
    op.create_index("ix_ports_device_id", "ports", ["device_id"])
    op.create_index("ix_ports_host", "ports", ["host"])

    op.create_table(
        "ipallocations",
        sa.Column("subnet_id", sa.String(36), nullable=False),
        sa.Column("ip_address", sa.String(64), nullable=False),
        sa.Column("port_id", sa.String(36), nullable=False),
        sa.Column("network_id", sa.String(36), nullable=False),
        sa.PrimaryKeyConstraint("subnet_id", "ip_address", name="pk_ipallocations"),
        sa.ForeignKeyConstraint(["subnet_id"], ["subnets.id"], name="fk_ipallocations_subnet_id_subnets"),
        sa.ForeignKeyConstraint(["port_id"], ["ports.id"], ondelete="CASCADE",
                                name="fk_ipallocations_port_id_ports"),
    )
    op.create_index("ix_ipallocations_port_id", "ipallocations", ["port_id"])
    op.create_index("ix_ipallocations_network_id", "ipallocations", ["network_id"])

    op.create_table(
        "trunks",
        sa.Column("id", sa.String(36), nullable=False),
        *_standard(),
        sa.Column("admin_state_up", sa.Boolean, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("port_id", sa.String(36), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_trunks"),
        sa.ForeignKeyConstraint(["port_id"], ["ports.id"], name="fk_trunks_port_id_ports"),
        sa.UniqueConstraint("port_id", name="uq_trunks_port_id"),
    )
    op.create_index("ix_trunks_project_id", "trunks", ["project_id"])

    op.create_table(
        "subports",
        sa.Column("port_id", sa.String(36), nullable=False),
        sa.Column("trunk_id", sa.String(36), nullable=False),
        sa.Column("segmentation_type", sa.String(32), nullable=False),
        sa.Column("segmentation_id", sa.Integer, nullable=False),
        sa.Column("position", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("port_id", name="pk_subports"),
        sa.ForeignKeyConstraint(["port_id"], ["ports.id"], name="fk_subports_port_id_ports"),
        sa.ForeignKeyConstraint(["trunk_id"], ["trunks.id"], ondelete="CASCADE",
                                name="fk_subports_trunk_id_trunks"),
        sa.UniqueConstraint("trunk_id", "segmentation_type", "segmentation_id",
                            name="uq_subports_trunk_id_segmentation_type_segmentation_id"),
    )

    op.create_table(
        "tags",
        sa.Column("resource_id", sa.String(36), nullable=False),
        sa.Column("tag", sa.String(255), nullable=False),
        sa.PrimaryKeyConstraint("resource_id", "tag", name="pk_tags"),
    )
    op.create_index("ix_tags_tag", "tags", ["tag"])

    revision_table = op.create_table(
        "revision",
        sa.Column("id", sa.Integer, nullable=False, autoincrement=False),
        sa.Column("value", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_revision"),
    )
    op.bulk_insert(revision_table, [{"id": 1, "value": 0}])

    op.create_table(
        "changes",
        sa.Column("seq", sa.Integer, nullable=False, autoincrement=True),
        sa.Column("revision", sa.BigInteger, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("resource_id", sa.String(36), nullable=False),
        sa.Column("op", sa.String(16), nullable=False),
        sa.Column("hosts", sa.JSON, nullable=False),
        sa.Column("at", sa.String(20), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_changes"),
    )
    op.create_index("ix_changes_revision", "changes", ["revision"])
