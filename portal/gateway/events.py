"""Stripe's event log (``/v1/events``): what reconciliation compares the webhook inbox with."""

from __future__ import annotations

import decimal
import json

from portal.gateway.gateway import call_stripe, stripe_client, stripe_time
from portal.gateway.shapes import as_dict


def list_events(since: int) -> tuple[list[dict], int]:
    """Every event created at or after ``since`` (Unix seconds), oldest first, as plain dicts;
    and Stripe's clock when it answered."""
    page = call_stripe(
        "event.list", lambda: stripe_client().v1.events.list({"created": {"gte": since}, "limit": 100})
    )
    events = [_wire(as_dict(event)) for event in page.auto_paging_iter()]
    return sorted(events, key=lambda event: (event["created"], event["id"])), stripe_time(page)


def now_at_stripe() -> int:
    """Stripe's clock (the ``Date`` of a cheap call): mirror writes are stamped with it."""
    page = call_stripe("event.list", lambda: stripe_client().v1.events.list({"limit": 1}))
    return stripe_time(page)


def _wire(event: dict) -> dict:
    """Back to the wire format (the SDK turns ``*_decimal`` strings into ``Decimal``)."""

    def encode(value: object) -> str:
        if isinstance(value, decimal.Decimal):
            return str(value)
        raise TypeError(f"{type(value).__name__} is not JSON serializable")

    return json.loads(json.dumps(event, default=encode))
