"""IPAM by free ranges: per subnet, the pool addresses no port holds, as [first, last] ranges
keyed by the address in fixed-width hex; filled for existing subnets from their pools and
allocations.

Revision ID: 0005
Revises: 0004
"""
import ipaddress

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def _key(value, version):
    return "%0*x" % (8 if version == 4 else 32, value)


def upgrade():
    table = op.create_table(
        "ipfreeranges",
        sa.Column("subnet_id", sa.String(36), nullable=False),
        sa.Column("first", sa.String(32), nullable=False),
        sa.Column("last", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("subnet_id", "first", name="pk_ipfreeranges"),
        sa.ForeignKeyConstraint(["subnet_id"], ["subnets.id"], ondelete="CASCADE",
                                name="fk_ipfreeranges_subnet_id_subnets"),
    )
    conn = op.get_bind()
    subnets = sa.table("subnets", sa.column("id"), sa.column("ip_version"),
                       sa.column("allocation_pools", sa.JSON))
    allocations = sa.table("ipallocations", sa.column("subnet_id"), sa.column("ip_address"))
    used = {}
    for subnet_id, ip in conn.execute(sa.select(allocations.c.subnet_id,
                                                allocations.c.ip_address)):
        used.setdefault(subnet_id, set()).add(int(ipaddress.ip_address(ip)))
    rows = []
    for subnet_id, version, pools in conn.execute(
            sa.select(subnets.c.id, subnets.c.ip_version, subnets.c.allocation_pools)):
        taken = sorted(used.get(subnet_id, ()))
        for pool in pools or ():
            lo, hi = (int(ipaddress.ip_address(pool[k])) for k in ("start", "end"))
            for ip in [t for t in taken if lo <= t <= hi] + [hi + 1]:
                if lo <= ip - 1:
                    rows.append({"subnet_id": subnet_id, "first": _key(lo, version),
                                 "last": _key(ip - 1, version)})
                lo = ip + 1
    if rows:
        op.bulk_insert(table, rows)
