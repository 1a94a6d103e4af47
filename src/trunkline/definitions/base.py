"""The shapes an API definition is made of: attributes, resources, actions and extensions, as
data (neutron-lib's attribute maps). Nothing here touches the database or HTTP; the registry
(``definitions/__init__.py``) merges every module's definitions into the resources the API
serves."""
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Optional

from trunkline import exceptions as exc
from trunkline.definitions import validators as v

UUID = {"type": "string", "format": "uuid"}
TEXT = {"type": "string"}
TIME = {"type": "string", "format": "date-time"}
OBJECT = {"type": "object"}

MAX_TAGS = 50         # per resource (Neutron's MAX_TAGS_PER_RESOURCE)
MAX_TAG_LENGTH = 255
NOTSET = object()       # no default: the attribute is required on POST
UNSPECIFIED = object()  # optional, and "not given" differs from null (gateway_ip)
DEFAULT_UPDATED = "2013-01-20T00:00:00-00:00"


@dataclass(frozen=True)
class Attr:
    """One attribute: whether it may be POSTed or PUT, its default, converter and validator,
    whether it is a list filter or sort key, where it is stored and how it is shown.

    ``column`` names the column that stores it (default: a column of the attribute's name,
    when the resource's table has one; otherwise the plugin computes it). ``to_wire`` turns
    the stored value into the answer's (e.g. '' -> null). ``visible=False``: a filter that
    is never part of an answer. ``refers``: the value (or each item's ``refers_key`` in a
    list) names a resource of that collection, which the caller must see in the project of
    the resource being written."""
    post: bool = False
    put: bool = False
    default: Any = NOTSET          # NOTSET + post = required on create
    convert: Optional[Callable] = None
    validate: Optional[Callable] = None
    filter: bool = False
    sort: bool = False
    column: Optional[str] = None
    convert_filter: Optional[Callable] = None  # how query-string values are converted
    schema: Optional[dict] = None  # JSON Schema of the value, when no converter/validator says
    to_wire: Optional[Callable] = None
    visible: bool = True
    refers: Optional[str] = None
    refers_key: Optional[str] = None

    def json_schema(self) -> dict:
        """The JSON Schema of the attribute's wire value (for the OpenAPI document)."""
        schema = self.schema or getattr(self.validate, "schema", None) or \
            getattr(self.convert, "schema", None) or {}
        if self.default is None and not schema.get("nullable"):
            schema = dict(schema, nullable=True)
        return schema

    def referenced(self, value) -> list:
        """The ids of ``refers`` resources ``value`` names (well-formed ones only: the plugin
        judges the rest in its own words)."""
        if self.refers is None:
            return []
        if self.refers_key is None:
            return [value] if isinstance(value, str) else []
        if not isinstance(value, list):
            return []
        return [item[self.refers_key] for item in value if isinstance(item, dict)
                and isinstance(item.get(self.refers_key), str)]


@dataclass(frozen=True)
class Action:
    """A member action (``PUT /v2.0/trunks/{id}/add_subports``): the plugin method of the same
    name, checked against the policy rule of the same name. ``body``: the attribute the
    request body carries (``{"sub_ports": [...]}``), validated by the plugin; the answer is the
    resource after the change, or (``answers_member=False``) what the plugin returns."""
    name: str
    method: str
    summary: str
    body: Optional[str] = None
    answers_member: bool = True
    answer_schema: Optional[dict] = None


# Which rows a list shows to a caller who does not see everything (plugins/scope.py turns these
# into SQL): its own project's, the rows of shared or external networks (a network's own flags),
# the rows on networks that are shared or external, the rows on networks the caller owns, the
# rows whose parent (``Resource.parent``) the caller's project owns.
OWN_PROJECT = "own_project"
SHARED = "shared"
ON_SHARED_NETWORK = "on_shared_network"
ON_OWN_NETWORK = "on_own_network"
ON_OWN_PARENT = "on_own_parent"


@dataclass(frozen=True)
class Parent:
    """The resource another one belongs to (a security group rule's group): ``attr`` names it,
    ``collection`` is where it is served. Its owner joins the child's policy target as
    ``<member>:project_id`` (``security_group:project_id``, what Neutron's ``sg_owner`` rule
    reads), and the ``ON_OWN_PARENT`` list scope shows the children of the caller's parents."""
    attr: str
    collection: str
    member: str


@dataclass(frozen=True)
class Resource:
    """A collection the API serves. ``not_found`` builds the resource's 404 from an id;
    ``network`` is the attribute naming the network the resource lives on (the network's own
    ``id`` for networks): its owner, shared and external flags join the policy target as
    ``network:project_id`` (and ``network:tenant_id``), ``network:shared``,
    ``network:router:external``. ``scope``: the visibility rules of a list (above; None: the
    policy alone decides). ``plugin`` is ``module:Class`` of what implements it; ``policies``
    its default rules (name, check). ``path`` is the URL segment when it differs from the
    collection (``/v2.0/security-groups`` serves ``security_groups``); ``parent`` the resource it
    belongs to (``Parent``). ``quota`` names the quota (``/v2.0/quotas``) an API create of the
    resource counts against, per project (None: not limited)."""
    member: str
    collection: str
    attrs: dict
    not_found: Callable[[str], exc.NeutronError]
    plugin: str
    policies: tuple = ()
    tags: bool = True
    network: Optional[str] = None
    scope: Optional[tuple] = (OWN_PROJECT,)
    actions: tuple = ()
    path: Optional[str] = None
    parent: Optional[Parent] = None
    quota: Optional[str] = None

    @property
    def url(self) -> str:
        """The URL segment of the collection (``/v2.0/<url>``)."""
        return self.path or self.collection

    def column_of(self, name: str) -> str:
        attr = self.attrs[name]
        return attr.column or name

    def action(self, name: str) -> Optional[Action]:
        return next((a for a in self.actions if a.name == name), None)

    def with_attrs(self, extra: dict) -> "Resource":
        return replace(self, attrs=dict(self.attrs, **extra))


@dataclass(frozen=True)
class Extension:
    """An API extension as ``GET /v2.0/extensions`` lists it, with what it adds: new resources,
    attributes of existing ones (``{member: {name: Attr}}``) and the default policy rules of
    those attributes. ``controllers``: (URL segment, ``module:Class``) of collections that are
    not resources of rows (``/v2.0/quotas``): the class, built with the database and the
    plugins, answers ``handle(req, item, sub, rest)`` itself with (status, payload)."""
    alias: str
    name: str
    description: str
    updated: str = DEFAULT_UPDATED
    resources: tuple = ()
    attributes: dict = field(default_factory=dict)
    policies: tuple = ()
    requires: tuple = ()
    controllers: tuple = ()

    def wire(self) -> dict:
        return {"alias": self.alias, "name": self.name, "description": self.description,
                "updated": self.updated, "links": []}


def standard(extra: dict) -> dict:
    """Attributes every resource with standard attributes has: id, project, name,
    description, revision, timestamps, tags (the standard-attr-* extensions)."""
    attrs = {
        "id": Attr(filter=True, sort=True, schema=UUID),
        "project_id": Attr(post=True, default=None, validate=v.string_or_none(255), filter=True,
                           sort=True),
        "tenant_id": Attr(post=True, default=None, validate=v.string_or_none(255), filter=True,
                          sort=True, column="project_id"),
        "name": Attr(post=True, put=True, default="", validate=v.name_string, filter=True,
                     sort=True),
        "description": Attr(post=True, put=True, default="", validate=v.description_string,
                            filter=True, sort=True),
        "revision_number": Attr(filter=True, sort=True, convert_filter=v.to_filter_int,
                                schema={"type": "integer"}),
        "created_at": Attr(sort=True, schema=TIME),
        "updated_at": Attr(sort=True, schema=TIME),
        "tags": Attr(schema={"type": "array", "items": TEXT}),
    }
    attrs.update(extra)
    return attrs


BOOL_FILTER = dict(filter=True, sort=True, convert_filter=v.to_boolean)


def admin_state(default=True) -> Attr:
    return Attr(post=True, put=True, default=default, convert=v.to_boolean, **BOOL_FILTER)


def status() -> Attr:
    return Attr(filter=True, sort=True, schema=TEXT)
