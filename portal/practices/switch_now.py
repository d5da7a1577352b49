"""A plan switch made now, at most once per ``PLAN_SWITCH_NOW_EVERY_DAYS`` per practice (issue 17).

An immediate switch invoices the prorated difference at once. The credit of a switch down is the
unused time at the list price, while a discount (an amount off, forever) is taken off the switch-up's
invoice as off any invoice: so Monthly -> every 6 months -> Monthly, now, and again, would turn the
discount into credit each round trip. One switch-now per window (either direction) stops that;
a switch at the period's end (a schedule, nothing invoiced now) stays available.

Nor is a switch now made for a period nobody paid for: while the renewal failed (past due), collection
is paused (the renewal voided) or the period's payment was refunded, the unused time of that period
is no one's money, so its credit would be made out of nothing (``unsettled``).

The last switch-now is the newest ``subscription_update`` invoice of the practice, dated by Stripe,
and the window is measured on Stripe's clock.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _
from flask_babel import ngettext

from portal.extensions import db
from portal.formatting import format_date
from portal.practices.errors import PracticeError
from portal.practices.history import REFUND_COUNTED
from portal.practices.models import InvoiceRefund, Practice, PracticeInvoice

DAY = 86_400


def window_seconds() -> int:
    return int(current_app.config.get("PLAN_SWITCH_NOW_EVERY_DAYS", 30)) * DAY


def next_possible(practice: Practice, stripe_now: int) -> int | None:
    """When the next switch-now is possible (Stripe's clock, seconds), or None: now."""
    last = db.session.scalar(
        sa.select(sa.func.max(PracticeInvoice.created)).where(
            PracticeInvoice.practice_id == practice.id,
            PracticeInvoice.billing_reason == "subscription_update",
        )
    )
    if last is None:
        return None
    allowed = int(last) + window_seconds()
    return allowed if allowed > stripe_now else None


def refusal(allowed_at: int, period_end: object) -> str:
    days, day = window_seconds() // DAY, format_date(allowed_at)
    if period_end:
        return ngettext(
            "The plan was switched now less than %(num)d day ago, so the next switch now is possible from "
            "%(day)s. You can switch on %(end)s instead; nothing is charged now.",
            "The plan was switched now less than %(num)d days ago, so the next switch now is possible from "
            "%(day)s. You can switch on %(end)s instead; nothing is charged now.",
            days,
            day=day,
            end=format_date(period_end),
        )
    return ngettext(
        "The plan was switched now less than %(num)d day ago, so the next switch now is possible from "
        "%(day)s. You can switch at the end of the paid period instead; nothing is charged now.",
        "The plan was switched now less than %(num)d days ago, so the next switch now is possible from "
        "%(day)s. You can switch at the end of the paid period instead; nothing is charged now.",
        days,
        day=day,
    )


def require_allowed(practice: Practice, stripe_now: int) -> None:
    """Refuse a switch-now inside the window, saying when and offering the period's end."""
    allowed_at = next_possible(practice, stripe_now)
    if allowed_at is not None:
        raise PracticeError(refusal(allowed_at, practice.current_period_end), status=409)


def unsettled(practice: Practice) -> str | None:
    """Why the current period is not paid for (a switch now would prorate time nobody paid), or
    None: ``paused`` (the platform paused collection), ``open`` (an invoice waits for payment),
    ``void`` (the period's invoice was voided or not collected), ``refunded``."""
    if practice.pause_behavior:
        return "paused"
    if practice.subscription_status != "active":
        return "open"
    latest = practice.latest_invoice_id
    status = db.session.scalar(sa.select(PracticeInvoice.status).where(PracticeInvoice.stripe_id == latest))
    if status in ("open", "draft"):
        return "open"
    if status in ("void", "uncollectible"):
        return "void"
    refunded = db.session.scalar(
        sa.select(sa.func.count()).where(
            InvoiceRefund.invoice_id == latest, InvoiceRefund.status.in_(REFUND_COUNTED)
        )
    )
    return "refunded" if refunded else None


def unsettled_words(practice: Practice, reason: str) -> str:
    """What is true in each case (third attack F7: a paused or refunded period was told it "was not
    paid" and to "pay what is open first" when nothing was open)."""
    if reason == "paused":
        if practice.pause_resumes_at:
            return _(
                "Payment collection is paused by the platform, so the plan cannot be switched now. It can "
                "be once collection resumes on %(day)s.",
                day=format_date(practice.pause_resumes_at),
            )
        return _(
            "Payment collection is paused by the platform, so the plan cannot be switched now. It can "
            "be once collection resumes."
        )
    if reason == "open":
        return _(
            "The current period's invoice is not paid yet, so the plan cannot be switched now: a switch "
            "now would count time nobody paid for. Pay the open invoice first."
        )
    if reason == "void":
        return _(
            "The current period's invoice was not collected, so the plan cannot be switched now. It can "
            "be once the next renewal is paid."
        )
    return _(
        "The current period's payment was refunded, so the plan cannot be switched now. It can be once "
        "the next renewal is paid."
    )


def unsettled_message(practice: Practice) -> str | None:
    """What the preview and a refusal say when the period is not paid for; None: it is."""
    reason = unsettled(practice)
    return unsettled_words(practice, reason) if reason is not None else None


def require_settled(practice: Practice) -> None:
    """Refuse a switch-now for a period nobody paid for (past due, paused, refunded)."""
    message = unsettled_message(practice)
    if message is not None:
        raise PracticeError(message, status=409)
