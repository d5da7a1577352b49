"""List, search and ``created`` filters as Stripe answers them."""

from __future__ import annotations

from typing import Any

from stripe_sandbox.errors import invalid_request
from stripe_sandbox.params import to_int


def paginate(objs: list[dict[str, Any]], params: dict[str, Any], url: str) -> dict[str, Any]:
    """A Stripe list object over ``objs`` (already newest first), honouring limit and cursors."""
    limit = list_limit(params)
    ids = [o["id"] for o in objs]
    start, end = 0, len(objs)
    if params.get("starting_after"):
        cursor = params["starting_after"]
        if cursor not in ids:
            raise invalid_request(
                f"No such object: '{cursor}'", param="starting_after", code="resource_missing"
            )
        start = ids.index(cursor) + 1
        page = objs[start : start + limit]
        has_more = start + limit < end
    elif params.get("ending_before"):
        cursor = params["ending_before"]
        if cursor not in ids:
            raise invalid_request(
                f"No such object: '{cursor}'", param="ending_before", code="resource_missing"
            )
        end = ids.index(cursor)
        page = objs[max(0, end - limit) : end]
        has_more = end - limit > 0
    else:
        page = objs[:limit]
        has_more = len(objs) > limit
    return {"object": "list", "data": page, "has_more": has_more, "url": url}


def list_limit(params: dict[str, Any]) -> int:
    """A list's ``limit`` (1-100, default 10), the cursors checked exclusive."""
    limit = to_int(params.get("limit", 10), "limit")
    if not 1 <= limit <= 100:
        raise invalid_request("Invalid limit: must be between 1 and 100", param="limit")
    if params.get("starting_after") and params.get("ending_before"):
        raise invalid_request(
            "You may only specify one of these parameters: ending_before, starting_after.",
            param="ending_before",
            code="parameters_exclusive",
        )
    return limit


def created_bounds(params: dict[str, Any]) -> list[tuple[str, int]]:
    """``created`` as ``(operator, bound)`` pairs, what ``created_filter`` checks."""
    created = params.get("created")
    if created is None:
        return []
    if not isinstance(created, dict):
        return [("eq", to_int(created, "created"))]
    return [(op, to_int(created[op], f"created[{op}]")) for op in ("gt", "gte", "lt", "lte") if op in created]


#: The parameters a list read a page at a time from the store can answer (``store_page``).
_PAGED = {"limit", "starting_after", "created", "expand"}


def paged_in_store(params: dict[str, Any], *also: str) -> bool:
    """Whether a list's parameters are only a page, a ``created`` range and ``expand`` (and ``also``)."""
    return set(params) <= _PAGED | set(also)


def store_page(sb: Any, object_type: str, params: dict[str, Any], url: str) -> dict[str, Any]:
    """What ``paginate`` answers over every object of a type, newest first, read a page at a time
    from the store's index: a list of 100,000 events or invoices is not decoded for each page."""
    limit = list_limit(params)
    before = None
    cursor = params.get("starting_after")
    if cursor:
        found = sb.get(cursor) if isinstance(cursor, str) else None
        if found is not None and found.get("object") == object_type and created_filter([found], params):
            before = sb.store.seq_of(cursor)
        if before is None:
            raise invalid_request(
                f"No such object: '{cursor}'", param="starting_after", code="resource_missing"
            )
    page = sb.store.page_of(object_type, limit + 1, before_seq=before, created=created_bounds(params))
    return {"object": "list", "data": page[:limit], "has_more": len(page) > limit, "url": url}


def search_result(objs: list[dict[str, Any]], params: dict[str, Any], url: str) -> dict[str, Any]:
    limit = to_int(params.get("limit", 10), "limit")
    offset = 0
    if params.get("page"):
        try:
            offset = int(str(params["page"]).removeprefix("page_"))
        except ValueError:
            raise invalid_request("Invalid page token.", param="page") from None
    page = objs[offset : offset + limit]
    has_more = offset + limit < len(objs)
    return {
        "object": "search_result",
        "data": page,
        "has_more": has_more,
        "next_page": f"page_{offset + limit}" if has_more else None,
        "url": url,
        "total_count": len(objs),
    }


def created_filter(objs: list[dict[str, Any]], params: dict[str, Any]) -> list[dict[str, Any]]:
    created = params.get("created")
    if created is None:
        return objs
    if not isinstance(created, dict):
        value = to_int(created, "created")
        return [o for o in objs if o.get("created") == value]
    ops = {"gt": int.__gt__, "gte": int.__ge__, "lt": int.__lt__, "lte": int.__le__}
    for op, fn in ops.items():
        if op in created:
            bound = to_int(created[op], f"created[{op}]")
            objs = [o for o in objs if fn(int(o.get("created", 0)), bound)]
    return objs
