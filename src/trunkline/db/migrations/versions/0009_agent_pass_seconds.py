"""How long each agent's last reconcile pass took, as its heartbeats report it (for the metrics;
not an API attribute).

Revision ID: 0009
Revises: 0008
"""
import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("agents", sa.Column("pass_seconds", sa.Float))
