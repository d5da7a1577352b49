"""Stripe reads made before a webhook's write transaction, then served to its handler (attack 3 F12).

A handler runs inside the transaction that claimed its event: on SQLite that holds the one write
lock, on PostgreSQL the event's and the practice's rows. A Stripe read made there holds them for as
long as Stripe takes, seconds of retries in an outage, and every other write (a person's request,
another event) waits or fails "database is locked". So the dispatcher first runs the event type's
*read-first* step (``portal.webhooks.handlers.READ_FIRST``) with no transaction open: its reads
through the functions below are kept (``recording``), and the handler then gets the same answers
without calling Stripe (``serving``). Outside those two, each read goes to Stripe as usual; a read
the step did not foresee still goes to Stripe from the handler.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TypeVar

T = TypeVar("T")

_RECORDING: ContextVar[dict | None] = ContextVar("stripe_reads_recording", default=None)
_SERVING: ContextVar[dict | None] = ContextVar("stripe_reads_serving", default=None)


@contextmanager
def recording() -> Iterator[dict]:
    """The reads made inside, kept in the dict yielded (for ``serving``)."""
    reads: dict = {}
    token = _RECORDING.set(reads)
    try:
        yield reads
    finally:
        _RECORDING.reset(token)


@contextmanager
def serving(reads: dict) -> Iterator[None]:
    """Inside, a read recorded in ``reads`` answers from it, without calling Stripe."""
    token = _SERVING.set(reads)
    try:
        yield
    finally:
        _SERVING.reset(token)


class _Failed:
    """A read that raised while recorded: served, it raises the same error again (no second try
    inside the transaction)."""

    def __init__(self, error: Exception) -> None:
        self.error = error


def remembered(operation: str, object_id: str, read: Callable[[], T]) -> T:
    """``read()`` (one Stripe read of ``object_id``), kept or served as the context says; a read
    that failed is served as its failure."""
    key = (operation, object_id)
    served = _SERVING.get()
    if served is not None and key in served:
        answer = served[key]
        if isinstance(answer, _Failed):
            raise answer.error
        return answer
    recorded = _RECORDING.get()
    try:
        result = read()
    except Exception as error:
        if recorded is not None:
            recorded[key] = _Failed(error)
        raise
    if recorded is not None:
        recorded[key] = result
    return result
