"""Ports' extra DHCP options (Neutron's extra_dhcp_opt extension): one row per (port, option
name, IP version), deleted with the port.

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "extradhcpopts",
        sa.Column("port_id", sa.String(36), nullable=False),
        sa.Column("opt_name", sa.String(64), nullable=False),
        sa.Column("ip_version", sa.Integer, nullable=False),
        sa.Column("opt_value", sa.String(255), nullable=False),
        sa.PrimaryKeyConstraint("port_id", "opt_name", "ip_version", name="pk_extradhcpopts"),
        sa.ForeignKeyConstraint(["port_id"], ["ports.id"], ondelete="CASCADE",
                                name="fk_extradhcpopts_port_id_ports"),
    )
