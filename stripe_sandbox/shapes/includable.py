"""Includable fields: present in a reply only when the request expanded them, never in an event.

https://docs.stripe.com/api/expanding_objects: "some fields are not included by default (they are
includable); to include them, expand them". For the pinned API version an invoice's ``payments``
and ``confirmation_secret`` are such fields. The sandbox stores them on the object (its own pages
and flows read them) and takes them out of what it sends.
"""

from __future__ import annotations

from typing import Any

#: Object type -> its includable fields.
#: A charge's ``refunds`` are not sent unless expanded since API version 2022-11-15.
INCLUDABLE = {"invoice": ("payments", "confirmation_secret"), "charge": ("refunds",)}


def _wanted(path: str, expand: list[str]) -> bool:
    return any(p == path or p.startswith(path + ".") for p in expand)


def hide_includable(node: Any, expand: list[str], prefix: str = "") -> Any:
    """Drop, in place, every includable field of every object in ``node`` that ``expand`` did not name."""
    if isinstance(node, list):
        for item in node:
            hide_includable(item, expand, prefix)
        return node
    if not isinstance(node, dict):
        return node
    for field in INCLUDABLE.get(str(node.get("object")), ()):
        if field in node and not _wanted(prefix + field, expand):
            del node[field]
    for key, value in node.items():
        if isinstance(value, dict | list):
            hide_includable(value, expand, f"{prefix}{key}.")
    return node


def is_includable(obj: dict[str, Any], field: str) -> bool:
    return field in INCLUDABLE.get(str(obj.get("object")), ())
