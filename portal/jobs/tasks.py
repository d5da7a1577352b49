"""The jobs: each a thin call into the feature that owns the work, each safe to run twice.

``register_tasks`` names them on the Celery app (nothing registers itself on import). A job that
raises is retried with backoff (``queue.FlaskTask``); the work under each is idempotent on its own:
an event is claimed before it is applied, an email before it is sent, a pending customer or order
is settled from its state, and the nightly report is one row per day.
"""

from __future__ import annotations

import datetime as dt
import logging

from celery import Celery

from portal.customers.users import retry_pending_customers
from portal.jobs import nightly
from portal.jobs import schedule as names
from portal.mail.outbox import send_queued, send_unsent
from portal.metrics import record_webhook_event
from portal.practices.customers import retry_pending_practices
from portal.practices.unconfirmed import confirm_all
from portal.practices.unpaid_invoices import settle_all
from portal.shop import orders
from portal.webhooks import services

log = logging.getLogger("portal.jobs")


class EventNotApplied(Exception):
    """The event's handler failed (recorded on the event); raised so the queue retries it."""


def process_webhook_event(row_id: int) -> str:
    """Apply one stored event (the inbox row's claim makes a second run, or a second worker, a no-op)."""
    outcome = services.process_event(row_id)
    row = services.event_row(row_id)
    record_webhook_event(row.type if row else "unknown", outcome)
    if outcome is services.Outcome.FAILED:
        raise EventNotApplied(f"event row {row_id}: {row.last_error if row else 'failed'}")
    return outcome.value


def send_emails(ids: list[int] | None = None, min_age: int = 0) -> int:
    """Send the given outbox rows, or every unsent one at least ``min_age`` seconds old."""
    if ids:
        return send_queued(list(ids))
    sent, _ = send_unsent(min_age_seconds=min_age)
    return sent


def retry_pending() -> dict[str, int]:
    """``flask billing retry``'s work: pending customers, unconfirmed billing changes, open invoices,
    and webhook events stored but never applied (lost on their way to a worker)."""
    summary = retry_pending_customers()
    practices_synced, practices_pending = retry_pending_practices()
    confirmed, unknown = confirm_all()
    settled, left_open = settle_all()
    stranded = services.resend_stranded()
    return {
        "customers": summary.created_or_synced + summary.deleted,
        "customers_pending": summary.still_pending,
        "practices": practices_synced,
        "practices_pending": practices_pending,
        "confirmed": confirmed,
        "unconfirmed": unknown,
        "settled": settled,
        "left_open": left_open,
        "stranded_events": stranded,
    }


def release_stale_orders(minutes: int = 30) -> dict[str, int]:
    """``flask shop release-stale``'s work: abandoned orders give their stock back."""
    summary = orders.release_stale_orders(dt.timedelta(minutes=minutes))
    return {"released": summary.released, "paid": summary.paid, "skipped": summary.skipped}


def nightly_reconcile() -> int:
    """Compare with Stripe; the drift goes to ``/admin/jobs`` and, if any, to the platform admins."""
    return nightly.run().drift_count


#: (name, function): the jobs ``register_tasks`` puts on the Celery app.
JOBS = (
    (names.PROCESS_WEBHOOK_EVENT, process_webhook_event),
    (names.SEND_EMAILS, send_emails),
    (names.RETRY_PENDING, retry_pending),
    (names.RELEASE_STALE_ORDERS, release_stale_orders),
    (names.NIGHTLY_RECONCILE, nightly_reconcile),
)


def register_tasks(celery: Celery) -> None:
    for name, function in JOBS:
        celery.task(name=name)(function)
