"""The billing audit log (the History tab): one line per change, written in the caller's transaction.

Two clocks, on purpose: a line a person caused carries the portal's time; a line written because
of a Stripe event carries the event's ``created`` (Stripe's clock, the clock its invoices are dated
by), so "Payment failed" sits beside the invoice it failed, even when the clocks differ.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import wraps
from typing import TypeVar

from portal.extensions import db
from portal.practices.models import BillingAuditEntry, Practice

_event_time: ContextVar[dt.datetime | None] = ContextVar("audit_event_time", default=None)
Applied = TypeVar("Applied", bound=Callable)


def record(practice: Practice, action: str, detail: str | None = None, actor_id: int | None = None) -> None:
    entry = BillingAuditEntry(
        practice_id=practice.id, actor_id=actor_id, action=action, detail=(detail or "")[:500]
    )
    if (at := _event_time.get()) is not None and actor_id is None:
        entry.created_at = at
    db.session.add(entry)


@contextmanager
def written_for_event(created: int | None) -> Iterator[None]:
    """Lines recorded inside are dated ``created`` (a Stripe event's time, seconds); None: ours."""
    at = dt.datetime.fromtimestamp(int(created), dt.UTC).replace(tzinfo=None) if created else None
    token = _event_time.set(at)
    try:
        yield
    finally:
        _event_time.reset(token)


def dated_by_event(apply: Applied) -> Applied:
    """For a mirror's ``apply(obj, event_created, ..., fresh=False)``: its lines carry the event's
    time, unless ``fresh`` (an object a person's action just fetched: the portal's time, like the
    action's own line)."""

    @wraps(apply)
    def applied(obj, event_created, *args, **kwargs):
        with written_for_event(None if kwargs.get("fresh") else event_created):
            return apply(obj, event_created, *args, **kwargs)

    return applied  # type: ignore[return-value]
