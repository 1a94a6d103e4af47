"""Security groups: groups, their rules, port bindings, each project's default group, and the
rule templates new groups start with, seeded with Neutron's four legacy templates (egress IPv4
and IPv6 to anywhere in every group; ingress IPv4 and IPv6 from the group itself in a project's
default group only).

Revision ID: 0007
Revises: 0006
"""
import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

PARENT = "PARENT"
TEMPLATES = [
    # id, direction, ethertype, remote_group_id, used_in_default_sg, used_in_non_default_sg
    ("1b4c0c3e-8d2a-4b5e-9f10-7a0e6c1d2b01", "egress", "IPv4", None, True, True),
    ("1b4c0c3e-8d2a-4b5e-9f10-7a0e6c1d2b02", "egress", "IPv6", None, True, True),
    ("1b4c0c3e-8d2a-4b5e-9f10-7a0e6c1d2b03", "ingress", "IPv4", PARENT, True, False),
    ("1b4c0c3e-8d2a-4b5e-9f10-7a0e6c1d2b04", "ingress", "IPv6", PARENT, True, False),
]


def _standard():
    return [
        sa.Column("project_id", sa.String(255), nullable=False),
        sa.Column("name", sa.String(255), nullable=False, server_default=""),
        sa.Column("description", sa.String(255), nullable=False, server_default=""),
        sa.Column("revision_number", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("created_at", sa.String(20), nullable=False),
        sa.Column("updated_at", sa.String(20), nullable=False),
    ]


def _rule_columns():
    return [
        sa.Column("direction", sa.String(16), nullable=False),
        sa.Column("ethertype", sa.String(40), nullable=False),
        sa.Column("protocol", sa.String(40)),
        sa.Column("port_range_min", sa.Integer),
        sa.Column("port_range_max", sa.Integer),
        sa.Column("remote_ip_prefix", sa.String(255)),
    ]


def upgrade():
    op.create_table(
        "securitygroups",
        sa.Column("id", sa.String(36), nullable=False),
        *_standard(),
        sa.Column("stateful", sa.Boolean, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_securitygroups"),
    )
    op.create_index("ix_securitygroups_project_id", "securitygroups", ["project_id"])
    op.create_table(
        "securitygrouprules",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("project_id", sa.String(255), nullable=False),
        sa.Column("security_group_id", sa.String(36), nullable=False),
        sa.Column("remote_group_id", sa.String(36)),
        sa.Column("remote_address_group_id", sa.String(36)),
        *_rule_columns(),
        sa.Column("normalized_cidr", sa.String(255)),
        sa.Column("description", sa.String(255), nullable=False, server_default=""),
        sa.Column("revision_number", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("created_at", sa.String(20), nullable=False),
        sa.Column("updated_at", sa.String(20), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_securitygrouprules"),
        sa.ForeignKeyConstraint(["security_group_id"], ["securitygroups.id"], ondelete="CASCADE",
                                name="fk_securitygrouprules_security_group_id_securitygroups"),
        sa.ForeignKeyConstraint(["remote_group_id"], ["securitygroups.id"], ondelete="CASCADE",
                                name="fk_securitygrouprules_remote_group_id_securitygroups"),
    )
    op.create_index("ix_securitygrouprules_project_id", "securitygrouprules", ["project_id"])
    op.create_index("ix_securitygrouprules_security_group_id", "securitygrouprules",
                    ["security_group_id"])
    op.create_index("ix_securitygrouprules_remote_group_id", "securitygrouprules",
                    ["remote_group_id"])
    op.create_table(
        "securitygroupportbindings",
        sa.Column("port_id", sa.String(36), nullable=False),
        sa.Column("security_group_id", sa.String(36), nullable=False),
        sa.PrimaryKeyConstraint("port_id", "security_group_id",
                                name="pk_securitygroupportbindings"),
        sa.ForeignKeyConstraint(["port_id"], ["ports.id"], ondelete="CASCADE",
                                name="fk_securitygroupportbindings_port_id_ports"),
        sa.ForeignKeyConstraint(
            ["security_group_id"], ["securitygroups.id"],
            name="fk_securitygroupportbindings_security_group_id_securitygroups"),
    )
    op.create_index("ix_securitygroupportbindings_security_group_id",
                    "securitygroupportbindings", ["security_group_id"])
    op.create_table(
        "default_security_group",
        sa.Column("project_id", sa.String(255), nullable=False),
        sa.Column("security_group_id", sa.String(36), nullable=False),
        sa.PrimaryKeyConstraint("project_id", name="pk_default_security_group"),
        sa.ForeignKeyConstraint(["security_group_id"], ["securitygroups.id"], ondelete="CASCADE",
                                name="fk_default_security_group_security_group_id_securitygroups"),
        sa.UniqueConstraint("security_group_id",
                            name="uq_default_security_group_security_group_id"),
    )
    templates = op.create_table(
        "securitygroupdefaultrules",
        sa.Column("id", sa.String(36), nullable=False),
        *_rule_columns(),
        sa.Column("remote_group_id", sa.String(36)),
        sa.Column("remote_address_group_id", sa.String(36)),
        sa.Column("description", sa.String(255), nullable=False, server_default=""),
        sa.Column("used_in_default_sg", sa.Boolean, nullable=False),
        sa.Column("used_in_non_default_sg", sa.Boolean, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_securitygroupdefaultrules"),
    )
    op.bulk_insert(templates, [
        {"id": i, "direction": d, "ethertype": e, "remote_group_id": remote,
         "description": "Legacy default SG rule for %s traffic" % d,
         "used_in_default_sg": in_default,
         "used_in_non_default_sg": in_other}
        for i, d, e, remote, in_default, in_other in TEMPLATES])
