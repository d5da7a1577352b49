"""The end of a practice's subscription: why it ended, in words, and the one email that says so.

A subscription ends three ways: Stripe gave up on a renewal (its last retry failed, and the
settings cancel it or mark it unpaid), a cancellation a manager asked for took effect, or a
platform admin closed the practice (``portal.practices.closing``). Stripe may send
``customer.subscription.deleted`` twice, late, or replayed by an admin; the email is keyed by the
subscription's id (not the event's), so each ended subscription is announced exactly once.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from flask_babel import LazyString
from flask_babel import lazy_gettext as _l

from portal.extensions import db
from portal.formatting import lazy_date
from portal.mail.outbox import caused_by
from portal.practices import notifications
from portal.practices.models import BillingAuditEntry, Practice
from portal.practices.status import CANCELLED_STATES

#: Stripe's ``cancellation_details.reason`` when the last retry failed.
PAYMENT_FAILED = "payment_failed"


def ended_by_payments(subscription: dict) -> bool:
    """Stripe gave up: cancelled for failed payments, or left ``unpaid`` by the settings."""
    reason = (subscription.get("cancellation_details") or {}).get("reason")
    return subscription.get("status") == "unpaid" or reason == PAYMENT_FAILED


def _who_cancelled(practice: Practice) -> str | None:
    """The person whose cancellation took effect: the newest "cancel asked for" line's author."""
    entry = db.session.scalar(
        sa.select(BillingAuditEntry)
        .where(BillingAuditEntry.practice_id == practice.id, BillingAuditEntry.action == "cancel_requested")
        .order_by(BillingAuditEntry.created_at.desc(), BillingAuditEntry.id.desc())
        .limit(1)
    )
    if entry is None or entry.actor is None:
        return None
    return entry.actor.name or entry.actor.email


def why_it_ended(practice: Practice, subscription: dict) -> str:
    """One sentence a billing manager reads: payments failed, cancelled by someone, or closed."""
    if practice.deactivated:
        said = f" The reason given: “{practice.closed_reason}”." if practice.closed_reason else ""
        return f"The practice was closed by the platform.{said}"
    if ended_by_payments(subscription):
        cause = notifications.decline_cause(practice.last_payment_error)
        decline = f" The last decline: {cause}" if cause else ""
        return f"Its payments failed and Stripe stopped retrying.{decline}"
    comment = (subscription.get("cancellation_details") or {}).get("comment") or practice.cancellation_reason
    who = _who_cancelled(practice)
    said = f" The reason given: “{comment}”." if comment else ""
    return f"It was cancelled by {who}.{said}" if who else f"It was cancelled.{said}"


def announce_end(practice: Practice, subscription: dict, ended_at: dt.datetime | None) -> None:
    """Email the billing managers that the practice's subscription ended; once per subscription.

    Called whenever the practice's current subscription is seen ended; a repeat finds the outbox
    key (the subscription's id) taken and sends nothing.
    """
    if subscription.get("status") not in CANCELLED_STATES or not subscription.get("id"):
        return
    when = lazy_date(ended_at) if ended_at else _l("today")
    with caused_by(f"subscription-ended:{subscription['id']}"):
        notifications.notify(
            practice,
            _l("%(practice)s: the subscription has ended", practice=practice.name),
            "practice_subscription_ended",
            why=LazyString(why_it_ended, practice, subscription),
            ended_on=when,
            closed=practice.deactivated,
        )
