"""Host agents: the agents table (Neutron's agents resource, one row per (agent_type, host)).

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "agents",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("agent_type", sa.String(255), nullable=False),
        sa.Column("binary", sa.String(255), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("topic", sa.String(255), nullable=False),
        sa.Column("configurations", sa.JSON, nullable=False),
        sa.Column("admin_state_up", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.String(20), nullable=False),
        sa.Column("started_at", sa.String(20), nullable=False),
        sa.Column("heartbeat_at", sa.String(20), nullable=False),
        sa.Column("description", sa.String(255), nullable=False, server_default=""),
        sa.PrimaryKeyConstraint("id", name="pk_agents"),
        sa.UniqueConstraint("agent_type", "host", name="uq_agents_agent_type_host"),
    )
    op.create_index("ix_agents_host", "agents", ["host"])
