"""Which rows a caller who does not see everything may see, as SQL (what Neutron's query hooks
do before its policy engine looks at each row): own project's resources, shared and external
networks, the subnets of shared networks, and the ports on networks the caller owns. The policy
engine still checks every row it is given; this only keeps other projects' rows out of the query,
so pages stay full and nothing is read that would be thrown away."""
from sqlalchemy import or_, select

from trunkline.db import schema

N = schema.networks


def _shared_networks():
    return select(N.c.id).where(or_(N.c.shared.is_(True), N.c.router_external.is_(True)))


def _own_networks(project_id):
    return select(N.c.id).where(N.c.project_id == project_id)


def clauses(collection, project_id):
    """WHERE clauses for a list of ``collection`` seen from ``project_id``; None when the
    collection has no per-project rows (agents: the policy alone decides)."""
    if collection == "networks":
        return [or_(N.c.project_id == project_id, N.c.shared.is_(True),
                    N.c.router_external.is_(True))]
    if collection == "subnets":
        s = schema.subnets
        return [or_(s.c.project_id == project_id, s.c.network_id.in_(_shared_networks()))]
    if collection == "ports":
        p = schema.ports
        return [or_(p.c.project_id == project_id,
                    p.c.network_id.in_(_own_networks(project_id)))]
    if collection == "trunks":
        return [schema.trunks.c.project_id == project_id]
    return None
