"""List requests: filters, ``fields``, sorting, pagination and tag filters from the query string,
and the ``*_links`` Neutron answers with when a page is limited."""
from urllib.parse import urlencode

from trunkline import exceptions as exc
from trunkline.plugins.common import ListQuery

MAX_LIMIT = 2 ** 31 - 1  # no page is larger; past 64 bits the databases refuse the LIMIT
TAG_FILTERS = ("tags", "tags-any", "not-tags", "not-tags-any")


def parse_fields(params):
    return [f for key, value in params if key == "fields" for f in value.split(",") if f]


def parse(resource, params, max_limit=-1):
    """``params`` is the query string as a list of (key, value) pairs. ``max_limit`` > 0 caps
    every page as Neutron's pagination_max_limit does (no limit or 0 means the cap)."""
    q = ListQuery(fields=parse_fields(params))
    sort_keys, sort_dirs, unknown = [], [], []
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
                unknown.append(key)
                continue
            if attr.convert_filter is not None:
                value = attr.convert_filter(value)
            q.filters.setdefault(key, []).append(value)
    if unknown:
        raise exc.HTTPBadRequest("%s is invalid attribute for filtering" % unknown)
    q.sorts = _sorts(resource, sort_keys, sort_dirs)
    if max_limit > 0:
        q.limit = min(q.limit, max_limit) or max_limit
    return q


def _limit(value):
    try:
        limit = int(value)
    except ValueError:
        limit = -1
    if limit < 0:
        raise exc.BadRequest(resource="limit",
                             msg="Limit must be an integer 0 or greater and not '%s'" % value)
    return min(limit, MAX_LIMIT)


def _sorts(resource, keys, dirs):
    """Neutron lists every bad key (then every bad direction) in one message."""
    if len(keys) != len(dirs):
        raise exc.HTTPBadRequest("The number of sort_keys and sort_dirs must be same")
    bad_keys = [k for k in keys if k not in resource.attrs or not resource.attrs[k].sort]
    if bad_keys:
        raise exc.HTTPBadRequest("%s is invalid attribute for sort_keys" % bad_keys)
    bad_dirs = [d for d in dirs if d not in ("asc", "desc")]
    if bad_dirs:
        raise exc.HTTPBadRequest("%s is invalid value for sort_dirs, valid value is 'asc' and "
                                 "'desc'" % bad_dirs)
    return [(key, direction == "asc") for key, direction in zip(keys, dirs)]


def links(base_url, collection, params, items, q):
    """Neutron's pagination links: ``next`` unless a short forward page, ``previous`` unless a
    short reverse page; each keeps the request's other parameters."""
    if not q.limit:
        return None
    kept = [(k, v) for k, v in params if k not in ("marker", "page_reverse")]
    result = []
    # An empty page links back without a marker: to the last page (previous) or the first.
    if not (len(items) < q.limit and not q.page_reverse):
        marker = [("marker", items[-1]["id"])] if items else []
        result.append({"rel": "next", "href": "%s/%s?%s" % (
            base_url, collection, urlencode(kept + marker))})
    if not (len(items) < q.limit and q.page_reverse):
        marker = [("marker", items[0]["id"])] if items else []
        result.append({"rel": "previous", "href": "%s/%s?%s" % (
            base_url, collection, urlencode(kept + marker + [("page_reverse", "True")]))})
    return result
