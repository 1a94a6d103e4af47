"""The security group service: Neutron's API semantics for security groups, their rules and
the rule templates (``/v2.0/default-security-group-rules``), each write in one transaction.
What it does when ports and networks change (default groups, ports' ``security_groups``) is
in callbacks.py; validation of a rule in rules.py; shared writes in groups.py."""
from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from sqlalchemy import delete, false, insert, select, true

from trunkline import definitions
from trunkline import exceptions as exc
from trunkline.definitions import security_groups as d
from trunkline.plugins import common, events
from trunkline.services.security_group import callbacks, groups, rules

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from trunkline.db.engine import Txn
    from trunkline.plugins.common import Context, ListQuery

SG, R, D, TPL = groups.SG, groups.R, groups.D, groups.TPL
_IN_DEFAULT = common.ByIds(select(R.c.id).where(R.c.security_group_id.in_(
    select(D.c.security_group_id))), R.c.id)


def _listed_project(ctx, q):
    """The project a list is about: its project filter's first value, else the caller's."""
    values = q.filters.get("project_id") or q.filters.get("tenant_id")
    return values[0] if values else ctx.project_id


def _shared_filter(values):
    # no RBAC: no group is shared
    return false() if any(values) else true()


def _default_rule_filter(values):
    defaults = select(D.c.security_group_id)
    clauses = [R.c.security_group_id.in_(defaults) if value
               else R.c.security_group_id.not_in(defaults) for value in set(values)]
    return clauses[0] if len(clauses) == 1 else true()


class SecurityGroupPlugin(common.ResourcePlugin):
    resource = definitions.security_group
    table = SG
    custom_filters = {"shared": _shared_filter}

    def __init__(self, plugins):
        super().__init__(plugins)
        callbacks.subscribe()

    @property
    def rule_plugin(self):
        return self.plugins["security_group_rules"]

    def prepare_list(self, db, ctx: Context, q: ListQuery) -> None:
        groups.ensure_default_outside(db, ctx, _listed_project(ctx, q))

    def fill(self, conn: Connection, dicts: list, wanted: Optional[set]) -> None:
        if common.wants(wanted, "shared"):
            for item in dicts:
                item["shared"] = False
        if not common.wants(wanted, "security_group_rules") or not dicts:
            return
        ids = [item["id"] for item in dicts]
        rows = conn.execute(select(R).where(R.c.security_group_id.in_(ids))
                            .order_by(R.c.created_at, R.c.id)).all()
        by_group = {}
        for rule in self.rule_plugin.dicts(conn, rows):
            by_group.setdefault(rule["security_group_id"], []).append(rule)
        for item in dicts:
            item["security_group_rules"] = by_group.get(item["id"], [])

    def create(self, txn: Txn, ctx: Context, res: dict) -> str:
        project_id = res.get("project_id") or ctx.project_id
        groups.ensure_default(txn, project_id)
        return groups.create_group(txn, ctx, dict(res, project_id=project_id),
                                   stateful=res["stateful"])

    def update(self, txn: Txn, ctx: Context, group_id: str, res: dict,
               if_match: Optional[int] = None) -> str:
        row = self.get_row(txn.conn, group_id, for_update=True)
        common.check_revision(row, if_match)
        if "stateful" in res and res["stateful"] != row.stateful and \
                groups.in_use(txn.conn, group_id):
            raise exc.SecurityGroupInUse(id=group_id)
        if row.name == d.DEFAULT_NAME and "name" in res:
            raise exc.SecurityGroupCannotUpdateDefault()
        values = {key: res[key] for key in ("name", "description", "stateful") if key in res}
        common.bump(txn, SG, group_id, values)
        events.publish(txn, "security_group", events.UPDATE, [group_id], old={group_id: row},
                       new={group_id: values}, changed=values)
        return group_id

    def delete(self, txn: Txn, ctx: Context, group_id: str,
               if_match: Optional[int] = None) -> None:
        if groups.in_use(txn.conn, group_id):
            raise exc.SecurityGroupInUse(id=group_id)
        row = self.get_row(txn.conn, group_id, for_update=True)
        common.check_revision(row, if_match)
        if row.name == d.DEFAULT_NAME and not ctx.is_admin:
            raise exc.SecurityGroupCannotRemoveDefault()
        rule_ids = list(txn.execute(select(R.c.id).where(
            (R.c.security_group_id == group_id) | (R.c.remote_group_id == group_id))).scalars())
        txn.execute(delete(SG).where(SG.c.id == group_id))   # rules and default row cascade
        common.delete_tags(txn, [group_id])
        if rule_ids:
            events.publish(txn, "security_group_rule", events.DELETE, rule_ids)
        events.publish(txn, "security_group", events.DELETE, [group_id], old={group_id: row})


class SecurityGroupRulePlugin(common.ResourcePlugin):
    resource = definitions.security_group_rule
    table = R
    custom_filters = {"belongs_to_default_sg": _default_rule_filter}

    def prepare_list(self, db, ctx: Context, q: ListQuery) -> None:
        groups.ensure_default_outside(db, ctx, _listed_project(ctx, q))

    def fill(self, conn: Connection, dicts: list, wanted: Optional[set]) -> None:
        if not common.wants(wanted, "belongs_to_default_sg") or not dicts:
            return
        in_default = {rule_id for rule_id, in _IN_DEFAULT.raw(conn, [i["id"] for i in dicts])}
        for item in dicts:
            item["belongs_to_default_sg"] = item["id"] in in_default

    def create(self, txn: Txn, ctx: Context, res: dict) -> str:
        return self.create_many(txn, ctx, [res])[0]

    def create_many(self, txn: Txn, ctx: Context, items: list) -> list:
        """Neutron's rule create, bulk or not: one group and one project per request, each
        rule valid and naming groups the caller may use, no duplicates within the request or
        with the group's rules; all or nothing."""
        new = [dict(res, project_id=res.get("project_id") or ctx.project_id) for res in items]
        if len(new) > 1:
            if len({r["security_group_id"] for r in new}) > 1:
                raise exc.SecurityGroupNotSingleGroupRules()
            if len({r["project_id"] for r in new}) > 1:
                raise exc.SecurityGroupRulesNotSingleProject()
        for rule in new:
            rules.validate(rule)
            remote = rule.get("remote_group_id")
            if remote is not None:
                _named_group(txn.conn, ctx, remote, rule["project_id"])
            _named_group(txn.conn, ctx, rule["security_group_id"], rule["project_id"])
        group_id = new[0]["security_group_id"]
        existing = txn.execute(select(R).where(R.c.security_group_id == group_id)).all()
        rules.check_duplicates(new, existing, exc.DuplicateSecurityGroupRuleInPost,
                               exc.SecurityGroupRuleExists)
        ids = groups.insert_rules(txn, new)
        _group_changed(txn, group_id)
        return ids

    def update(self, txn: Txn, ctx: Context, rule_id: str, res: dict,
               if_match: Optional[int] = None) -> str:
        row = self.get_row(txn.conn, rule_id, for_update=True)
        common.check_revision(row, if_match)
        values = {"description": res["description"]} if "description" in res else {}
        common.bump(txn, R, rule_id, values)
        events.publish(txn, "security_group_rule", events.UPDATE, [rule_id], old={rule_id: row},
                       new={rule_id: values}, changed=values)
        return rule_id

    def delete(self, txn: Txn, ctx: Context, rule_id: str,
               if_match: Optional[int] = None) -> None:
        row = self.get_row(txn.conn, rule_id, for_update=True)
        common.check_revision(row, if_match)
        txn.execute(delete(R).where(R.c.id == rule_id))
        _group_changed(txn, row.security_group_id)
        events.publish(txn, "security_group_rule", events.DELETE, [rule_id], old={rule_id: row})


def _named_group(conn, ctx, group_id, project_id):
    """A group a rule names (its own or its remote): it exists and the caller may use it for
    the rule's project."""
    if not isinstance(group_id, str) or len(group_id) > 36:
        raise d.SecurityGroupNotFound(id=group_id)
    groups.visible(conn, ctx, [group_id], None if ctx.is_admin else project_id)


def _group_changed(txn, group_id):
    """A rule added or removed moves its group's revision (Neutron's revises_on_change)."""
    row = txn.execute(select(SG).where(SG.c.id == group_id)).first()
    if row is not None:
        common.bump(txn, SG, group_id)
        events.publish(txn, "security_group", events.UPDATE, [group_id], old={group_id: row},
                       changed={"security_group_rules"})


class DefaultRulePlugin(common.ResourcePlugin):
    """The rule templates: admins create and delete them, readers read them."""
    resource = definitions.default_security_group_rule
    table = TPL

    def create(self, txn: Txn, ctx: Context, res: dict) -> str:
        return self.create_many(txn, ctx, [res])[0]

    def create_many(self, txn: Txn, ctx: Context, items: list) -> list:
        new = [dict(res) for res in items]
        for rule in new:
            rules.validate(rule)
        for flag in ("used_in_default_sg", "used_in_non_default_sg"):
            existing = txn.execute(select(TPL).where(TPL.c[flag].is_(True))).all()
            rules.check_duplicates([r for r in new if r.get(flag)], existing,
                                   exc.DuplicateDefaultSgRuleInPost,
                                   exc.DefaultSecurityGroupRuleExists)
        ids = []
        for rule in new:
            rule_id = common.new_id()
            values = {name: rule.get(name) for name in groups.RULE_COLUMNS}
            values.update(id=rule_id, description=rule.get("description") or "",
                          used_in_default_sg=rule["used_in_default_sg"],
                          used_in_non_default_sg=rule["used_in_non_default_sg"])
            txn.execute(insert(TPL).values(**values))
            ids.append(rule_id)
        events.publish(txn, "default_security_group_rule", events.CREATE, ids)
        return ids

    def update(self, txn: Txn, ctx: Context, rule_id: str, res: dict,
               if_match: Optional[int] = None) -> str:
        self.get_row(txn.conn, rule_id)     # nothing of a template can change
        return rule_id

    def delete(self, txn: Txn, ctx: Context, rule_id: str,
               if_match: Optional[int] = None) -> None:
        self.get_row(txn.conn, rule_id)
        txn.execute(delete(TPL).where(TPL.c.id == rule_id))
        events.publish(txn, "default_security_group_rule", events.DELETE, [rule_id])

