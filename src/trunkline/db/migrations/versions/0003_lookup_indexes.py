"""Indexes for the lookups clients make by value at scale: ports by MAC address (the unique
constraint leads with network_id) and IP allocations by address (the primary key leads with
subnet_id), e.g. ``GET /v2.0/ports?fixed_ips=ip_address=10.0.0.5``.

Revision ID: 0003
Revises: 0002
"""
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_ports_mac_address", "ports", ["mac_address"])
    op.create_index("ix_ipallocations_ip_address", "ipallocations", ["ip_address"])
