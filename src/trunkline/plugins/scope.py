"""Which rows a caller who does not see everything may see, as SQL (what Neutron's query hooks
do before its policy engine looks at each row), from the rules each resource declares
(``Resource.scope``): its own project's rows, shared and external networks, the rows on shared
or external networks, the rows on networks the caller owns. The policy engine still checks
every row it is given; this only keeps other projects' rows out of the query, so pages stay
full and nothing is read that would be thrown away."""
from typing import Optional

from sqlalchemy import Table, or_, select

from trunkline.db import schema
from trunkline.definitions import base

N = schema.networks


def _open_networks():
    return select(N.c.id).where(or_(N.c.shared.is_(True), N.c.router_external.is_(True)))


def _own_networks(project_id):
    return select(N.c.id).where(N.c.project_id == project_id)


RULES = {
    base.OWN_PROJECT: lambda t, project_id: t.c.project_id == project_id,
    base.SHARED: lambda t, project_id: or_(t.c.shared.is_(True), t.c.router_external.is_(True)),
    base.ON_SHARED_NETWORK: lambda t, project_id: t.c.network_id.in_(_open_networks()),
    base.ON_OWN_NETWORK: lambda t, project_id: t.c.network_id.in_(_own_networks(project_id)),
}


def _own_parent(resource, table, parent_table, project_id):
    """The rows whose parent (``resource.parent``, stored in ``parent_table``) the project
    owns."""
    parents = select(parent_table.c.id).where(parent_table.c.project_id == project_id)
    return table.c[resource.parent.attr].in_(parents)


def clauses(resource: base.Resource, table: Table, project_id: str,
            parent_table: Optional[Table] = None) -> list:
    """WHERE clauses for a list of ``resource`` (stored in ``table``) seen from
    ``project_id``; [] when the resource declares no scope (agents: the policy alone
    decides). ``parent_table`` stores the resource's parent, for ``ON_OWN_PARENT``."""
    if not resource.scope:
        return []
    return [or_(*[_own_parent(resource, table, parent_table, project_id)
                  if rule == base.ON_OWN_PARENT else RULES[rule](table, project_id)
                  for rule in resource.scope])]
