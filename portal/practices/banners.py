"""Billing banners on every page a practice member sees, from local state only (no Stripe call)."""

from __future__ import annotations

import sqlalchemy as sa

from portal.extensions import db
from portal.practices.access import memberships
from portal.practices.models import Practice, PracticeInvoice
from portal.practices.status import BillingStatus

TEMPLATE = "practices/partials/_banner_{}.html"


def practice_banners(user) -> list[dict]:
    """The banner provider registered in ``app.extensions["banner_providers"]``."""
    banners: list[dict] = []
    for practice, member in memberships(user):
        banner = banner_for(practice)
        if banner is not None:
            banner.update(practice=practice, can_manage=member.manages_billing)
            banners.append(banner)
    return banners


def banner_for(practice: Practice) -> dict | None:
    """At most one banner per practice: the one that needs attention first."""
    status = practice.billing_status
    if practice.action_required_invoice_id and status not in (
        BillingStatus.CANCELLED,
        BillingStatus.INACTIVE,
    ):
        invoice = db.session.scalar(
            sa.select(PracticeInvoice).where(PracticeInvoice.stripe_id == practice.action_required_invoice_id)
        )
        return _banner(
            "action_required", hosted_invoice_url=invoice.hosted_invoice_url if invoice is not None else None
        )
    if status == BillingStatus.PAST_DUE:
        return _banner("payment_failed", reason=practice.last_payment_error or "The last payment failed.")
    if status in (BillingStatus.CANCELLED, BillingStatus.INACTIVE):
        return _banner("cancelled", status=status)
    if status == BillingStatus.REQUIRED:
        return _banner("billing_required")
    if practice.cancel_at_period_end or practice.cancel_at:
        return _banner("cancellation_scheduled", ends_on=practice.cancel_at or practice.current_period_end)
    return None


def _banner(kind: str, **context: object) -> dict:
    return {"kind": kind, "template": TEMPLATE.format(kind), **context}
