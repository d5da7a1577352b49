"""Invoices an ended subscription left unpaid: nobody is asked to pay them.

When a subscription ends (a cancellation took effect, Stripe gave up on a renewal, or the
platform closed the practice), Stripe stops retrying its open invoice but leaves it open, and
an open invoice is payable: the page would offer "Pay", the banners would count it, and a
practice that subscribes again would still owe it. So the portal settles each at Stripe:
marked uncollectible (void when the platform closed the practice: nothing is owed for a service
the platform ended). It runs from the webhook handlers that apply a subscription's or an
invoice's state (whichever shows the end last), from closing, and from ``flask billing retry``
for what an outage left open. Each run acts only on what the mirror still shows open, and the
Stripe call carries the invoice's own Idempotency-Key, so duplicate events settle it once.
Until it is settled the pages already treat it as not payable (``PAYABLE``, ``Practice.collects``).
"""

from __future__ import annotations

import logging

import sqlalchemy as sa

from portal.extensions import db
from portal.gateway import invoices as stripe_invoices
from portal.gateway import subscriptions as stripe_subscriptions
from portal.gateway.errors import BillingError, StripeUnavailable
from portal.gateway.gateway import stripe_time
from portal.gateway.shapes import as_dict
from portal.practices import invoice_mirror
from portal.practices.models import Practice, PracticeInvoice
from portal.practices.status import CANCELLED_STATES, COLLECTING_STATES

log = logging.getLogger(__name__)

#: Subscription statuses that never bill again.
ENDED_FOR_GOOD = CANCELLED_STATES | {"incomplete_expired"}


def payable(invoices: sa.ColumnCollection, practices: sa.ColumnCollection) -> sa.ColumnElement[bool]:
    """An open invoice someone may pay: one of no subscription, or of the practice's current
    subscription while that one still collects (an SQL condition on invoices and their practice)."""
    return sa.and_(
        invoices.status == "open",
        sa.or_(
            invoices.subscription_id.is_(None),
            sa.and_(
                invoices.subscription_id == practices.stripe_subscription_id,
                practices.subscription_status.in_(sorted(COLLECTING_STATES)),
            ),
        ),
    )


PAYABLE = payable(PracticeInvoice.__table__.c, Practice.__table__.c)


def _left_unpaid(practice: Practice) -> list[PracticeInvoice]:
    return list(
        db.session.scalars(
            sa.select(PracticeInvoice)
            .join(Practice, Practice.id == PracticeInvoice.practice_id)
            .where(PracticeInvoice.practice_id == practice.id, PracticeInvoice.subscription_id.is_not(None))
            .where(PracticeInvoice.status == "open", sa.not_(PAYABLE))
            .order_by(PracticeInvoice.created, PracticeInvoice.id)
        )
    )


def _has_ended(practice: Practice, subscription_id: str) -> bool:
    """The current subscription by the mirror; an earlier one as Stripe holds it (it may be a
    newer one not adopted yet, whose invoice must not be touched)."""
    if subscription_id == practice.stripe_subscription_id:
        return practice.subscription_status in ENDED_FOR_GOOD
    return stripe_subscriptions.retrieve_subscription(subscription_id).status in ENDED_FOR_GOOD


def _settle_one(practice: Practice, invoice: PracticeInvoice) -> object:
    """Void (a closed practice) or mark uncollectible; one Stripe refuses (paid or settled
    meanwhile) is read back as it is."""
    try:
        if practice.deactivated:
            return stripe_invoices.void_invoice(invoice.stripe_id)
        return stripe_invoices.mark_uncollectible(invoice.stripe_id)
    except StripeUnavailable:
        raise
    except BillingError as error:
        log.info("invoice %s not settled (%s); reading it back", invoice.stripe_id, error.message)
        return stripe_invoices.retrieve_invoice(invoice.stripe_id)


def settle(practice: Practice) -> int:
    """Settle at Stripe and mirror every open invoice the practice's ended subscriptions left;
    how many are still open (Stripe did not answer: ``flask billing retry`` finishes). Never commits."""
    still_open = 0
    for invoice in _left_unpaid(practice):
        try:
            if not _has_ended(practice, invoice.subscription_id):
                continue
            settled = _settle_one(practice, invoice)
        except BillingError as error:
            log.warning("invoice %s left open practice_id=%s: %s", invoice.stripe_id, practice.id, error)
            still_open += 1
            continue
        invoice_mirror.mirror_invoice(practice, as_dict(settled), stripe_time(settled))
    return still_open


def settle_all() -> tuple[int, int]:
    """``flask billing retry``: every practice with such invoices, each committed on its own;
    (practices settled, practices with invoices still open)."""
    practice_ids = db.session.scalars(
        sa.select(PracticeInvoice.practice_id)
        .join(Practice, Practice.id == PracticeInvoice.practice_id)
        .where(PracticeInvoice.subscription_id.is_not(None), PracticeInvoice.status == "open")
        .where(sa.not_(PAYABLE))
        .distinct()
    ).all()
    settled = pending = 0
    for practice_id in practice_ids:
        practice = db.session.get(Practice, practice_id, with_for_update=True, populate_existing=True)
        if settle(practice):
            pending += 1
        else:
            settled += 1
        db.session.commit()
    return settled, pending
