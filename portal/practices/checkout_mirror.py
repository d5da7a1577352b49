"""Apply a completed Checkout session to its practice (``checkout.session.completed``, and the
success page with the session retrieved from Stripe). Never commits; the rules of
``portal.practices.mirror`` hold.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa

from portal.extensions import db
from portal.gateway.shapes import (
    as_dict,
    object_id,
)
from portal.practices import audit, billing_details
from portal.practices.invoice_mirror import apply_invoice
from portal.practices.mirror import (
    adopt_subscription,
    apply_subscription,
    find_practice,
    record_onboarding_paid,
    rederive_status,
)
from portal.practices.models import BillingAuditEntry, Practice

log = logging.getLogger(__name__)


@audit.dated_by_event
def fulfil_checkout_session(obj: object, event_created: int, *, fresh: bool = False) -> Practice | None:
    """checkout.session.completed, and the success page (with the session retrieved from Stripe).

    Idempotent: running it again with the same session changes nothing. When the
    session carries its subscription and invoice expanded, those are applied too.
    """
    session = as_dict(obj)
    if session.get("mode") != "subscription":
        return None
    metadata = session.get("metadata") or {}
    if not metadata.get("practiceId") and session.get("client_reference_id"):
        metadata = {"practiceId": session["client_reference_id"]}
    practice = find_practice(metadata, session.get("customer"))
    if practice is None:
        log.info("checkout session %s belongs to no practice", session.get("id"))
        return None
    if session.get("status") != "complete":
        return practice

    subscription = session.get("subscription")
    paid = session.get("payment_status") in ("paid", "no_payment_required")
    record_onboarding_paid(
        practice, paid, metadata.get("onboarding") == "1", event_created, session.get("id")
    )
    if isinstance(subscription, dict) and subscription.get("items"):
        apply_subscription(subscription, event_created, fresh=fresh)
    elif (
        adopt_subscription(practice, object_id(subscription), "active" if paid else "incomplete")
        and paid
        and practice.subscription_status in (None, "incomplete")
    ):
        practice.subscription_status = "active"
    # When the session completed: its event's time, or (retrieved later, expanded) its subscription's.
    completed_at = subscription.get("created") if isinstance(subscription, dict) else None
    billing_details.apply_from_checkout(practice, session, int(completed_at or event_created))
    invoice = session.get("invoice")
    if isinstance(invoice, dict):
        apply_invoice(invoice, event_created, fresh=fresh)
    if practice.stripe_subscription_id == object_id(subscription):
        practice.checkout_session_id = session.get("id")
    _code_redeemed(practice, session, metadata.get("promotionCode"))
    rederive_status(practice)
    return practice


def _code_redeemed(practice: Practice, session: dict, code: str | None) -> None:
    """The promotion code a completed Checkout redeemed, in History once per session (the success
    page and the event both get here; an abandoned Checkout never does)."""
    if not code:
        return
    detail = f"{code[:60]} at Checkout, {session.get('id')}"
    said = db.session.scalar(
        sa.select(BillingAuditEntry.id).where(
            BillingAuditEntry.practice_id == practice.id,
            BillingAuditEntry.action == "promotion_code_redeemed",
            BillingAuditEntry.detail == detail,
        )
    )
    if said is None:
        audit.record(practice, "promotion_code_redeemed", detail)
