"""Policy enforcement with oslo.policy over Neutron's defaults (api/policies.py), optionally
overridden by an operator's policy file (YAML or JSON) and the files of its policy
directories (``policy.d`` beside the policy file, read in name order as oslo.policy does). As in
Neutron, an admin context is never checked further; everyone else is checked per action, per
attribute they set, and per attribute they may read. ``get_enforcer`` is the
``oslo.policy.enforcer`` entry point for oslo.policy's command-line tools."""
import logging
import os
import re
import sys

from oslo_config import cfg
from oslo_policy import opts as policy_opts
from oslo_policy import policy

from trunkline import exceptions as exc
from trunkline.api import context as context_mod
from trunkline.api import policies

LOG = logging.getLogger(__name__)


@policy.register("field")
class FieldCheck(policy.Check):
    """Neutron's ``field:<resource>:<attr>=<value>`` check (``~`` starts a regular expression).
    ``networks`` fields are read from the target's ``network:<attr>`` keys, which the API fills
    for networks and for the resources that live on one."""

    def __init__(self, kind, match):
        super().__init__(kind, match)
        resource, _, rest = match.partition(":")
        attr, _, value = rest.partition("=")
        self.key = "network:" + attr if resource in ("networks", "network") else attr
        self.regex = re.compile(value[1:]) if value.startswith("~") else None
        self.value = value

    def __call__(self, target, creds, enforcer, current_rule=None):
        actual = target.get(self.key)
        if self.regex is not None:
            return isinstance(actual, str) and self.regex.match(actual) is not None
        return str(actual) == self.value


def policy_paths(policy_file=None, policy_dirs=None):
    """(absolute policy file or None, [absolute policy directories]) for the options given; a
    relative path is taken from the current directory. Raises ValueError, saying what is wrong,
    for a policy file or a named directory that does not exist: a start must not silently fall
    back to the defaults. Without named directories, ``policy.d`` beside the policy file is
    read when it exists (oslo.policy's ``policy_dirs`` default)."""
    if policy_file:
        policy_file = os.path.abspath(policy_file)
        if not os.path.isfile(policy_file):
            raise ValueError("policy file %s does not exist" % policy_file)
    dirs = [os.path.abspath(d) for d in policy_dirs or ()]
    for d in dirs:
        if not os.path.isdir(d):
            raise ValueError("policy directory %s does not exist" % d)
    if not policy_dirs and policy_file:
        beside = os.path.join(os.path.dirname(policy_file), "policy.d")
        dirs = [beside] if os.path.isdir(beside) else []
    return policy_file, dirs


class Policy:
    def __init__(self, policy_file=None, enforce_scope=True, enforce_new_defaults=True,
                 policy_dirs=None):
        policy_file, dirs = policy_paths(policy_file, policy_dirs)
        conf = cfg.ConfigOpts()
        conf([], project="trunkline", default_config_files=[], default_config_dirs=[])
        policy_opts.set_defaults(conf, enforce_scope=enforce_scope,
                                 enforce_new_defaults=enforce_new_defaults, policy_dirs=dirs)
        # Without an operator's file the defaults alone apply: point at no file at all.
        self.enforcer = policy.Enforcer(conf, policy_file=policy_file or "/nonexistent")
        self.enforcer.register_defaults(policies.defaults(scoped=enforce_scope))
        try:
            self.enforcer.load_rules()
        except Exception as e:  # oslo.policy's parse errors have no common base class
            raise ValueError("cannot load the policy file %s: %s" % (policy_file, e))
        if policy_file:
            LOG.info("policy: %s%s", policy_file,
                     "".join(" + %s/*" % d for d in dirs))
        if not policy_file and not dirs:
            self.enforcer.use_conf = False  # no file to look for again on every check
        self.attr_rules = {}  # action -> [attribute names that have a rule]
        keys = set()
        for name, rule in self.enforcer.rules.items():
            action, sep, attr = name.partition(":")
            if sep and action.split("_", 1)[0] in ("create", "update", "get"):
                self.attr_rules.setdefault(action, []).append(attr)
            text = str(rule)
            keys.update(_TARGET_KEY.findall(text))
            for resource, attr in _FIELD.findall(text):
                keys.add("network:" + attr if resource in ("networks", "network") else attr)
        # Every target value a rule can read: two targets equal on these get the same answer.
        self.target_keys = tuple(sorted(keys))

    def checker(self, ctx):
        """The checks for one request's caller."""
        return Checker(self, ctx)

    def is_admin(self, ctx):
        return self.check("context_is_admin", {}, context_mod.creds(ctx))

    def check(self, rule, target, creds):
        try:
            return self.enforcer.enforce(rule, target, creds, do_raise=False)
        except policy.InvalidScope:
            return False


def get_enforcer():
    """The ``oslo.policy.enforcer`` entry point (``oslopolicy-policy-generator --namespace
    trunkline``, ``oslopolicy-list-redundant``): the enforcer the server would use, with the
    ``[oslo_policy]`` options of the ``--config-file`` files on the tool's command line."""
    from trunkline.cli import config
    return Policy(**config.policy_options(config.files_in(sys.argv[1:]))).enforcer


_TARGET_KEY = re.compile(r"%\(([^)]+)\)s")
_FIELD = re.compile(r"field:([^:]+):([^=]+)=")


class Checker:
    """One caller's policy answers. oslo.policy takes about half a millisecond per check, so
    answers are remembered for targets that agree on every value a rule reads (a list of a
    thousand ports in one project needs a handful of checks, not thousands)."""

    def __init__(self, pol, ctx):
        self.policy = pol
        self.ctx = ctx
        self.creds = context_mod.creds(ctx)
        self._memo = {}

    def values(self, target):
        """What of ``target`` the rules can read: the key of the remembered answers."""
        return tuple(_hashable(target.get(k)) for k in self.policy.target_keys)

    def allowed(self, action, target, values=None):
        if self.ctx.is_admin:
            return True
        key = (action, self.values(target) if values is None else values)
        answer = self._memo.get(key)
        if answer is None:
            answer = self._memo[key] = self.policy.check(action, target, self.creds)
        return answer

    def enforce(self, action, target):
        if not self.allowed(action, target):
            raise exc.PolicyNotAuthorized(rule="rule:" + action)

    def enforce_change(self, action, resource, res, target, is_create):
        """A create or update as Neutron checks it: the action and, for every attribute the
        request sets that has a rule, ``action:attr`` (and ``action:attr:key`` for the keys of
        a list of dicts, e.g. ``create_port:fixed_ips:ip_address``), all in one match rule; a
        refusal names that whole rule, as Neutron's message does:
        ``(rule:create_port and rule:create_port:binding:host_id) is disallowed by policy``.
        On create an attribute left at its default is not being set."""
        if self.ctx.is_admin:
            return
        checks, match = [action], "rule:" + action
        for name, keys in self._set_attrs(action, resource, res, is_create):
            rule = "%s:%s" % (action, name)
            checks.append(rule)
            text = "rule:" + rule
            if keys:
                subs = ["%s:%s" % (rule, k) for k in keys]
                checks += subs
                text = "(%s and (%s))" % (text, " and ".join("rule:" + r for r in subs))
            match = "(%s and %s)" % (match, text)
        values = self.values(target)
        if not all(self.allowed(rule, target, values) for rule in checks):
            raise exc.PolicyNotAuthorized(rule=match)

    def _set_attrs(self, action, resource, res, is_create):
        """[(attribute, [its keys that have a rule and are set])] for the attributes with a
        rule the request sets, in the resource's attribute order."""
        ruled = self.policy.attr_rules.get(action, ())
        out = []
        for name, definition in resource.attrs.items():
            if name not in res:
                continue
            value = res[name]
            if is_create and value == definition.default:
                continue
            keys = [r[len(name) + 1:] for r in ruled if r.startswith(name + ":")]
            keys = [k for k in keys if isinstance(value, list) and
                    any(isinstance(v, dict) and k in v for v in value)]
            if name in ruled or keys:
                out.append((name, keys))
        return out

    def hidden(self, member, target, values=None):
        """Attributes of ``target`` (a ``member``) the caller may not read."""
        if self.ctx.is_admin:
            return ()
        action = "get_" + member
        values = self.values(target) if values is None else values
        return [attr for attr in self.policy.attr_rules.get(action, ())
                if attr in target and not self.allowed("%s:%s" % (action, attr), target,
                                                       values)]


def _hashable(value):
    if isinstance(value, (list, dict)):
        return repr(value)
    return value
