"""Per-project quota limits (Neutron's quotas): one row per (project, resource) whose limit
differs from the server's default.

Revision ID: 0006
Revises: 0005
"""
import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "quotas",
        sa.Column("project_id", sa.String(255), nullable=False),
        sa.Column("resource", sa.String(255), nullable=False),
        sa.Column("limit", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("project_id", "resource", name="pk_quotas"),
    )
