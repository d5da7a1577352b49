"""Closing a practice (a platform admin's decision) and reopening it.

Closing cancels the live subscription at Stripe now, voids what it left unpaid (nothing is owed
for a service the platform ended), marks the practice deactivated (status ``INACTIVE``), writes
History and emails the billing managers once ("closed by the platform"). Stripe first: when it
does not answer, nothing changes here and the admin is told so. Reopening clears the mark; the
practice subscribes again without a second onboarding fee. Twice is harmless: the second click
finds the practice already closed (or open) and changes nothing.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa

from portal.extensions import db
from portal.gateway import invoices as stripe_invoices
from portal.gateway import subscriptions as stripe_subscriptions
from portal.gateway.errors import BillingError
from portal.gateway.gateway import stripe_time
from portal.gateway.shapes import as_dict
from portal.practices import audit, invoice_mirror, mirror
from portal.practices.errors import PracticeError
from portal.practices.models import Practice, PracticeInvoice
from portal.users.models import User

log = logging.getLogger(__name__)

ALREADY_CLOSED = "{name} is already closed. Nothing was changed."
NOT_CLOSED = "Stripe did not end the subscription, so the practice is still open and nothing changed."
ALREADY_OPEN = "{name} is open. Nothing was changed."


def _locked(practice_id: int) -> Practice:
    """The row, locked and fresh: of two admins' clicks, the second sees the first's outcome."""
    practice = db.session.get(Practice, practice_id, with_for_update=True, populate_existing=True)
    if practice is None:
        raise PracticeError("That practice does not exist.", status=404)
    return practice


def _admin_name(admin: User) -> str:
    return admin.name or admin.email


def deactivate(practice_id: int, admin: User, reason: str) -> Practice:
    """Close the practice: its subscription ends at Stripe now. Refused (``PracticeError``, nothing
    changed) without a reason, when already closed, or when Stripe does not end the subscription."""
    reason = (reason or "").strip()[:400]
    if not reason:
        raise PracticeError("Say why the practice is closed; its managers read it.", status=422)
    practice = _locked(practice_id)
    if practice.deactivated:
        raise PracticeError(ALREADY_CLOSED.format(name=practice.name), status=409)
    ended = None
    if practice.subscription_live:
        key = ("deactivate", practice.stripe_ref, practice.stripe_subscription_id)
        try:
            ended = stripe_subscriptions.cancel_subscription_now(
                practice.stripe_subscription_id, key, comment=f"Closed by the platform: {reason}"
            )
        except BillingError as error:
            raise PracticeError(f"{NOT_CLOSED} {error.message}", status=error.status) from error
    practice.deactivated = True
    audit.record(practice, "practice_deactivated", f"{_admin_name(admin)}: {reason}", actor_id=admin.id)
    if ended is not None:
        mirror.apply_subscription(ended, stripe_time(ended), fresh=True)  # the ended email, once
        _void_left_unpaid(practice, ended.id)
    mirror.rederive_status(practice)
    db.session.commit()
    return practice


def _void_left_unpaid(practice: Practice, subscription_id: str) -> None:
    """The ended subscription's open invoices: void at Stripe (its events say so too). One Stripe
    refuses (paid meanwhile) stays as it is, and the next event shows it as it is."""
    left_open = sa.select(PracticeInvoice).where(
        PracticeInvoice.practice_id == practice.id,
        PracticeInvoice.subscription_id == subscription_id,
        PracticeInvoice.status == "open",
    )
    for invoice in db.session.scalars(left_open).all():
        try:
            voided = stripe_invoices.void_invoice(invoice.stripe_id)
        except BillingError as error:
            log.warning("could not void invoice %s practice_id=%s: %s", invoice.stripe_id, practice.id, error)
            continue
        invoice_mirror.mirror_invoice(practice, as_dict(voided), stripe_time(voided))


def reactivate(practice_id: int, admin: User) -> Practice:
    """Reopen the practice: billing required again (or cancelled, its history kept); its managers
    subscribe again, without a second onboarding fee once it was paid."""
    practice = _locked(practice_id)
    if not practice.deactivated:
        raise PracticeError(ALREADY_OPEN.format(name=practice.name), status=409)
    practice.deactivated = False
    audit.record(practice, "practice_reactivated", _admin_name(admin), actor_id=admin.id)
    mirror.rederive_status(practice)
    db.session.commit()
    return practice
