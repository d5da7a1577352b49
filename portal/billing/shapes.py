"""Reading Stripe objects the way the pinned API version shapes them, in one place.

Every function takes a plain dict (a webhook payload) or an SDK object
(converted with ``to_dict``), so callers never depend on which they hold.
"""

from __future__ import annotations

from typing import Any


def as_dict(obj: Any) -> dict:
    if obj is None:
        return {}
    if isinstance(obj, dict):
        return obj
    return obj.to_dict()


def object_id(value: Any) -> str | None:
    """An id from an expandable field: the string itself or the expanded object's id."""
    if value is None or isinstance(value, str):
        return value
    return as_dict(value).get("id")


def default_payment_method_id(customer: Any) -> str | None:
    settings = as_dict(customer).get("invoice_settings") or {}
    return object_id(settings.get("default_payment_method"))
