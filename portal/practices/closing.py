"""Closing a practice (a platform admin's decision) and reopening it.

Closing cancels the live subscription at Stripe now, voids what it left unpaid (nothing is owed
for a service the platform ended), marks the practice deactivated (status ``INACTIVE``), keeps
the reason (its billing managers read it in the email, the banner and the billing page), writes
History and emails the billing managers once. Stripe first: when it does not end the
subscription, nothing changes here and the admin is told so; its answer that the subscription is
already canceled counts as ended. Reopening clears the mark; the practice subscribes again
without a second onboarding fee.

Two admins at once: each action starts its transaction by writing the practice's row (its
billing version moves on, so billing forms drawn before it act not). That write is the lock
(PostgreSQL's row lock, SQLite's one writer) held until the commit, so the second admin's
action waits for the first and then re-checks the state: "already closed by ..." / "already
open", nothing changed, no second History line.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from flask_babel import gettext as _

from portal.extensions import db
from portal.gateway import subscriptions as stripe_subscriptions
from portal.gateway.errors import BillingError, StripeUnavailable
from portal.gateway.gateway import stripe_time
from portal.practices import audit, mirror, unpaid_invoices
from portal.practices.errors import PracticeError
from portal.practices.models import BillingAuditEntry, Practice
from portal.users.models import User

log = logging.getLogger(__name__)

#: The longest reason kept (its billing managers read it); a longer one is refused, not cut.
REASON_MAX = 400
ALREADY_CLOSED = "{name} is already closed{by}. Nothing was changed."
NOT_CLOSED = "Stripe did not end the subscription, so the practice is still open and nothing changed."
ALREADY_OPEN = "{name} is already open{by}. Nothing was changed."
NO_REASON = "Say why the practice is closed; its managers read it."
REASON_TOO_LONG = "Keep the reason to {most} characters (it has {count}); nothing was changed."


def locked_practice(practice_id: int) -> Practice:
    """The row, locked and fresh (see the module's docstring): the write comes first in a fresh
    transaction, so the reads after it see the other admin's committed outcome."""
    db.session.rollback()
    moved = db.session.execute(
        sa.update(Practice)
        .where(Practice.id == practice_id)
        .values(billing_version=Practice.billing_version + 1)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not moved:
        raise PracticeError(_("That practice does not exist."), status=404)
    return db.session.get(Practice, practice_id, with_for_update=True, populate_existing=True)


def admin_name(admin: User) -> str:
    return admin.name or admin.email


def by_whom(practice: Practice, action: str) -> str:
    """ " by Ada Admin": the author of the practice's newest ``action`` line, if a person."""
    entry = db.session.scalar(
        sa.select(BillingAuditEntry)
        .where(BillingAuditEntry.practice_id == practice.id, BillingAuditEntry.action == action)
        .order_by(BillingAuditEntry.id.desc())
        .limit(1)
    )
    return f" by {admin_name(entry.actor)}" if entry is not None and entry.actor is not None else ""


def close_reason_problem(reason: str | None) -> str | None:
    """What is wrong with a close reason (the admin form says it under the field), or None."""
    reason = (reason or "").strip()
    if not reason:
        return NO_REASON
    if len(reason) > REASON_MAX:
        return REASON_TOO_LONG.format(most=REASON_MAX, count=len(reason))
    return None


def _end_at_stripe(practice: Practice, reason: str) -> object:
    """The subscription, ended now at Stripe. Stripe saying it is already canceled is the same
    outcome (it ended meanwhile, or an earlier attempt's answer was lost): read it back."""
    key = ("deactivate", practice.stripe_ref, practice.stripe_subscription_id)
    try:
        return stripe_subscriptions.cancel_subscription_now(
            practice.stripe_subscription_id, key, comment=f"Closed by the platform: {reason}"
        )
    except StripeUnavailable as error:
        raise PracticeError(f"{NOT_CLOSED} {error.message}", status=error.status) from error
    except BillingError as error:
        try:
            current = stripe_subscriptions.retrieve_subscription(practice.stripe_subscription_id)
        except BillingError:
            current = None
        if current is None or current.status not in unpaid_invoices.ENDED_FOR_GOOD:
            raise PracticeError(f"{NOT_CLOSED} {error.message}", status=error.status) from error
        return current


#: What the admin is told: the managers are emailed only when a live subscription ended now.
CLOSED_AND_ENDED = "The practice is closed: its subscription ended and its managers were emailed."
CLOSED_WITHOUT_SUBSCRIPTION = (
    "The practice is closed. It had no live subscription, so nothing ended at Stripe and no email "
    "was sent; its managers see the reason on its pages."
)


def deactivate(practice_id: int, admin: User, reason: str) -> str:
    """Close the practice: its subscription ends at Stripe now; returns what the admin is told.
    Refused (``PracticeError``, nothing changed) without a reason or with one too long, when already
    closed, or when Stripe does not end the subscription."""
    problem = close_reason_problem(reason)
    if problem:
        raise PracticeError(problem, status=422)
    reason = reason.strip()
    practice = locked_practice(practice_id)
    if practice.deactivated:
        by = by_whom(practice, "practice_deactivated")
        raise PracticeError(ALREADY_CLOSED.format(name=practice.name, by=by), status=409)
    ended = _end_at_stripe(practice, reason) if practice.subscription_live else None
    practice.deactivated = True
    practice.closed_reason = reason
    audit.record(practice, "practice_deactivated", f"{admin_name(admin)}: {reason}", actor_id=admin.id)
    if ended is not None:
        mirror.apply_subscription(ended, stripe_time(ended), fresh=True)  # the ended email, once
    unpaid_invoices.settle(practice)  # void what any ended subscription left open
    mirror.rederive_status(practice)
    db.session.commit()
    return CLOSED_AND_ENDED if ended is not None else CLOSED_WITHOUT_SUBSCRIPTION


def reactivate(practice_id: int, admin: User) -> Practice:
    """Reopen the practice: billing required again (or cancelled, its history kept); its managers
    subscribe again, without a second onboarding fee once it was paid."""
    practice = locked_practice(practice_id)
    if not practice.deactivated:
        by = by_whom(practice, "practice_reactivated")
        raise PracticeError(ALREADY_OPEN.format(name=practice.name, by=by), status=409)
    practice.deactivated = False
    practice.closed_reason = None
    audit.record(practice, "practice_reactivated", admin_name(admin), actor_id=admin.id)
    mirror.rederive_status(practice)
    db.session.commit()
    return practice
