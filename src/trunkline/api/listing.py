"""List requests: filters, ``fields``, sorting, pagination and tag filters from the query string,
and the ``*_links`` Neutron answers with when a page is limited."""
from dataclasses import dataclass, field
from urllib.parse import urlencode

from trunkline import exceptions as exc

TAG_FILTERS = ("tags", "tags-any", "not-tags", "not-tags-any")
SPECIAL = {"fields", "sort_key", "sort_dir", "limit", "marker", "page_reverse"} | set(TAG_FILTERS)


@dataclass
class ListQuery:
    filters: dict = field(default_factory=dict)     # attribute -> list of converted values
    fields: list = field(default_factory=list)
    sorts: list = field(default_factory=list)       # [(attribute, ascending)]
    limit: int = 0
    marker: str = None
    page_reverse: bool = False
    tags: dict = field(default_factory=dict)        # tag filter name -> list of tags


def parse_fields(params):
    return [f for key, value in params if key == "fields" for f in value.split(",") if f]


def parse(resource, params):
    """``params`` is the query string as a list of (key, value) pairs."""
    q = ListQuery(fields=parse_fields(params))
    sort_keys, sort_dirs = [], []
    for key, value in params:
        if key == "sort_key":
            sort_keys.append(value)
        elif key == "sort_dir":
            sort_dirs.append(value)
        elif key == "limit":
            q.limit = _limit(value)
        elif key == "marker":
            q.marker = value
        elif key == "page_reverse":
            q.page_reverse = value.lower() in ("true", "1")
        elif key in TAG_FILTERS:
            q.tags.setdefault(key, []).extend(t for t in value.split(",") if t)
        elif key == "fields":
            continue
        else:
            attr = resource.attrs.get(key)
            if attr is None or not attr.filter:
                raise exc.HTTPBadRequest("%s is invalid attribute for filtering" % key)
            if attr.convert_filter is not None and value != "":
                try:
                    value = attr.convert_filter(value)
                except exc.InvalidInput as e:
                    raise exc.HTTPBadRequest(
                        "Invalid input for %s. Reason: %s." % (key, e.kwargs.get("error_message")))
            q.filters.setdefault(key, []).append(value)
    q.sorts = _sorts(resource, sort_keys, sort_dirs)
    return q


def _limit(value):
    try:
        limit = int(value)
    except ValueError:
        raise exc.HTTPBadRequest("Limit must be an integer 0 or greater and not '%s'" % value)
    if limit < 0:
        raise exc.HTTPBadRequest("Limit must be an integer 0 or greater and not '%s'" % value)
    return limit


def _sorts(resource, keys, dirs):
    if len(keys) != len(dirs):
        raise exc.HTTPBadRequest("The number of sort_keys and sort_dirs must be same")
    result = []
    for key, direction in zip(keys, dirs):
        if direction not in ("asc", "desc"):
            raise exc.HTTPBadRequest("%s is invalid value for sort_dirs, valid value is 'asc' and "
                                     "'desc'" % direction)
        attr = resource.attrs.get(key)
        if attr is None or not attr.sort:
            raise exc.HTTPBadRequest("%s is invalid attribute for sort_keys" % key)
        result.append((key, direction == "asc"))
    return result


def links(base_url, collection, params, items, q):
    """Neutron's pagination links: ``next`` unless a short forward page, ``previous`` unless a
    short reverse page; each keeps the request's other parameters."""
    if not q.limit:
        return None
    kept = [(k, v) for k, v in params if k not in ("marker", "page_reverse")]
    result = []
    if items and not (len(items) < q.limit and not q.page_reverse):
        result.append({"rel": "next", "href": "%s/%s?%s" % (
            base_url, collection, urlencode(kept + [("marker", items[-1]["id"])]))})
    if items and not (len(items) < q.limit and q.page_reverse):
        result.append({"rel": "previous", "href": "%s/%s?%s" % (
            base_url, collection, urlencode(kept + [("marker", items[0]["id"]),
                                                    ("page_reverse", "True")]))})
    return result
