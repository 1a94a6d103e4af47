"""Neutron's default policies (secure RBAC, ``enforce_new_defaults`` and ``enforce_scope``) as
oslo.policy defaults: the base rules and every resource's and extension's own rules, as their
definitions declare them (definitions/), plus the tag rules of every tagged resource. Rule
names and check strings are Neutron's, so a Neutron policy file overrides them the same way.
``create_X:attr`` / ``update_X:attr`` are checked only when the request sets the attribute;
``get_X:attr`` hides the attribute when it fails. ``list_rules`` is the ``oslo.policy.policies``
entry point (``oslopolicy-sample-generator --namespace trunkline``)."""
from oslo_policy import policy

from trunkline import definitions
from trunkline.definitions import checks


def defaults(scoped=True):
    """All rules as oslo.policy RuleDefaults; the API's rules are project-scoped (``scoped``:
    oslo.policy 6 always checks a rule's scope types, so ``enforce_scope = false`` leaves
    them out)."""
    rules = [policy.RuleDefault(name, check) for name, check in checks.BASE]
    api = list(definitions.policies())
    for res in definitions.RESOURCES.values():
        if res.tags:
            api += checks.tag_rules(res.collection)
    rules += [policy.RuleDefault(name, check, scope_types=["project"] if scoped else None)
              for name, check in api]
    return rules


def list_rules():
    """The ``oslo.policy.policies`` entry point: every default rule."""
    return defaults()
