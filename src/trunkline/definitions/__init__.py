"""The API's resources and extensions as data, one module per extension (like neutron-lib's
api/definitions): the core resources (``networks``, ``subnets``, ``ports`` modules: their
``RESOURCE``) and every other module's ``EXTENSIONS``, each naming the resources it adds, the
attributes it adds to existing ones and their default policy rules.

This registry reads every module of the package once, in module-name order (as Neutron loads
its extensions), and merges each extension's attributes into the resources they extend. The
API (routes, bodies, lists, policy targets, errors), the OpenAPI document and
``GET /v2.0/extensions`` all iterate what it holds; a new extension is a new module here.
Nothing here touches the database or HTTP.
"""
import importlib
import pkgutil

from trunkline.definitions.base import (  # noqa: F401  (the names definitions are made of)
    DEFAULT_UPDATED, MAX_TAG_LENGTH, MAX_TAGS, NOTSET, UNSPECIFIED, Action, Attr, Extension,
    Resource)

CORE = ("networks", "subnets", "ports")     # the core resources' modules, in the API's order
_HELPERS = ("base", "checks", "validators")


def _load():
    modules = [importlib.import_module(__name__ + "." + m.name)
               for m in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name)
               if m.name not in _HELPERS]
    resources = {}
    for name in CORE:
        res = importlib.import_module(__name__ + "." + name).RESOURCE
        resources[res.member] = res
    extensions = [ext for mod in modules for ext in getattr(mod, "EXTENSIONS", ())]
    for ext in extensions:
        for res in ext.resources:
            resources[res.member] = res
    for ext in extensions:
        for member, attrs in ext.attributes.items():
            resources[member] = resources[member].with_attrs(attrs)
    return resources, sorted(extensions, key=lambda e: e.alias)


RESOURCES, EXTENSIONS = _load()
BY_COLLECTION = {r.collection: r for r in RESOURCES.values()}

# the merged resources by member name, for the plugins and the API
network = RESOURCES["network"]
subnet = RESOURCES["subnet"]
port = RESOURCES["port"]
trunk = RESOURCES["trunk"]
agent = RESOURCES["agent"]
security_group = RESOURCES["security_group"]
security_group_rule = RESOURCES["security_group_rule"]
default_security_group_rule = RESOURCES["default_security_group_rule"]


def resource(collection: str) -> Resource:
    """The resource served at ``/v2.0/<collection>`` (KeyError when none is)."""
    return BY_COLLECTION[collection]


def extension(alias: str):
    """The extension with this alias, or None."""
    return next((e for e in EXTENSIONS if e.alias == alias), None)


def policies() -> list:
    """Every resource's and extension's default rules, (name, check string), in order."""
    rules = []
    for res in RESOURCES.values():
        rules += res.policies
    for ext in EXTENSIONS:
        rules += ext.policies
    return rules
