"""A port's inactive bindings (binding-extended): one row per (port, host) besides the port's
active binding.

Revision ID: 0008
Revises: 0007
"""
import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "portbindings",
        sa.Column("port_id", sa.String(36), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("vif_type", sa.String(64), nullable=False),
        sa.Column("vif_details", sa.JSON, nullable=False),
        sa.Column("vnic_type", sa.String(64), nullable=False),
        sa.Column("profile", sa.JSON, nullable=False),
        sa.ForeignKeyConstraint(["port_id"], ["ports.id"], ondelete="CASCADE",
                                name="fk_portbindings_port_id_ports"),
        sa.PrimaryKeyConstraint("port_id", "host", name="pk_portbindings"),
    )
