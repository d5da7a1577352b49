"""Billing banners on every page a practice member sees, from local state only (no Stripe call)."""

from __future__ import annotations

from email.utils import parseaddr

import sqlalchemy as sa
from flask import current_app

from portal.extensions import db
from portal.practices.models import Practice, PracticeInvoice, PracticeMember
from portal.practices.notifications import stripe_retries
from portal.practices.status import BillingStatus
from portal.practices.unpaid_invoices import payable
from portal.text import N_
from portal.users.models import User

TEMPLATE = "practices/partials/_banner_{}.html"

_practices = Practice.__table__.c
_members = PracticeMember.__table__.c
_open = PracticeInvoice.__table__.alias("open_invoice")
#: Only what someone may pay counts: not what an ended subscription left (``unpaid_invoices``).
_OPEN_OF_PRACTICE = (_open.c.practice_id == _practices.id) & payable(_open.c, _practices)
#: Every page draws the banners: one query of plain rows holding just what a banner shows.
_BANNER_FACTS = (
    sa.select(
        _practices.id,
        _practices.name,
        _practices.billing_status,
        _practices.deactivated,
        _practices.closed_reason,
        _practices.cancel_at_period_end,
        _practices.cancel_at,
        _practices.current_period_end,
        _practices.last_payment_error,
        _practices.action_required_invoice_id,
        _practices.pause_behavior,
        _practices.pause_resumes_at,
        _practices.billing_version,  # its Pay now and Resume buttons act only on the state they show
        _members.role,
        sa.select(sa.func.count()).where(_OPEN_OF_PRACTICE).scalar_subquery().label("open_count"),
        sa.select(sa.func.coalesce(sa.func.sum(_open.c.amount_due), 0))
        .where(_OPEN_OF_PRACTICE)
        .scalar_subquery()
        .label("open_total"),
        sa.select(sa.func.min(_open.c.currency))
        .where(_OPEN_OF_PRACTICE)
        .scalar_subquery()
        .label("open_currency"),
    )
    .join(PracticeMember.__table__, _members.practice_id == _practices.id)
    .where(_members.user_id == sa.bindparam("user_id"))
    .order_by(_practices.name, _practices.id)
)


def practice_banners(user: User) -> list[dict]:
    """The practices' banners: one of ``app.extensions["banner_providers"]`` (named in ``create_app``)."""
    banners: list[dict] = []
    for facts in db.session.execute(_BANNER_FACTS, {"user_id": user.id}):
        banner = banner_for(facts)
        if banner is not None:
            banner.update(practice=facts, can_manage=facts.role.manages_billing)
            banners.append(banner)
    return banners


def banner_for(facts: sa.Row) -> dict | None:
    """At most one banner per practice: the one that needs attention first."""
    status = facts.billing_status
    if facts.deactivated:  # closed by the platform: whom to ask, on the practice's own pages
        return _banner("closed", own_pages_only=True, support_email=support_email())
    if facts.action_required_invoice_id and status not in (BillingStatus.CANCELLED, BillingStatus.INACTIVE):
        # "Complete authentication": the bank's check on the portal's page (``bank_check``).
        return _banner("action_required", invoice_id=facts.action_required_invoice_id)
    still_open = (facts.open_count, facts.open_total, facts.open_currency)
    if status == BillingStatus.PAST_DUE:
        reason = facts.last_payment_error or N_("The last payment failed.")
        return _banner(
            "payment_failed", reason=reason, still_open=still_open, stripe_retries=stripe_retries(reason)
        )
    if status in (BillingStatus.CANCELLED, BillingStatus.INACTIVE):
        # Nothing to fix in a hurry: a calm notice on the practice's own pages, not on every page.
        return _banner("cancelled", status=status, own_pages_only=True)
    if status == BillingStatus.REQUIRED:
        return _banner("billing_required")
    if facts.pause_behavior:  # the platform paused collection: nothing to do, on its own pages
        return _banner("collection_paused", own_pages_only=True)
    if facts.open_count:  # paid up on the subscription, older invoices still open
        return _banner("invoices_open", still_open=still_open)
    if facts.cancel_at_period_end or facts.cancel_at:
        return _banner("cancellation_scheduled", ends_on=facts.cancel_at or facts.current_period_end)
    return None


def support_email() -> str | None:
    """Whom the members of a closed practice write to: the address the billing emails come from."""
    return parseaddr(current_app.config.get("MAIL_DEFAULT_SENDER") or "")[1] or None


def _banner(kind: str, own_pages_only: bool = False, **context: object) -> dict:
    return {"kind": kind, "template": TEMPLATE.format(kind), "own_pages_only": own_pages_only, **context}
