"""Billing emails to the people who manage a practice's billing, and decline reasons in plain words."""

from __future__ import annotations

import logging

import sqlalchemy as sa

from portal.extensions import db
from portal.mail.outbox import queue_email
from portal.practices.models import MemberRole, Practice
from portal.users.models import Role, User

log = logging.getLogger(__name__)

#: Stripe decline codes, said the way a practice manager understands them.
DECLINE_REASONS = {
    "insufficient_funds": "The card has insufficient funds.",
    "expired_card": "The card has expired.",
    "incorrect_cvc": "The card's security code was incorrect.",
    "incorrect_number": "The card number was incorrect.",
    "lost_card": "The card was reported lost.",
    "stolen_card": "The card was reported stolen.",
    "do_not_honor": "The bank declined the payment without giving a reason.",
    "generic_decline": "The bank declined the payment.",
    "card_declined": "The bank declined the payment.",
    "card_velocity_exceeded": "The card has reached its spending limit.",
    "processing_error": "The bank could not process the payment. It will be retried.",
    "authentication_required": "The bank needs you to confirm this payment.",
    "no_card_on_file": "No card is on file. Add a card, then pay the invoice.",  # gateway's NO_CARD_ON_FILE
}
DEFAULT_DECLINE = "The card was declined."


def decline_reason(error: dict | None) -> str:
    """Plain words for a Stripe ``last_payment_error`` (decline code first, then code)."""
    error = error or {}
    for code in (error.get("decline_code"), error.get("code")):
        if code in DECLINE_REASONS:
            return DECLINE_REASONS[code]
    return error.get("message") or DEFAULT_DECLINE


def billing_recipients(practice: Practice) -> list[str]:
    return sorted(
        member.user.email
        for member in practice.members
        if member.role in (MemberRole.OWNER, MemberRole.ADMIN) and member.user is not None
    )


def receipt_recipients(practice: Practice) -> str | None:
    """Where a practice's receipts go, one per invoice: its billing email once set, else its owner's."""
    owner = next((m.user for m in practice.members if m.role == MemberRole.OWNER and m.user), None)
    return getattr(practice, "billing_email", None) or (owner.email if owner else None)


def notify(practice: Practice, subject: str, template: str, **context: object) -> None:
    """One email per billing manager, queued in the caller's transaction (see ``portal.mail.outbox``).

    Sent after the commit; inside a webhook handler at most once per event.
    """
    for email in billing_recipients(practice):
        queue_email(email, subject, template, practice=practice, **context)


def alert_admins(subject: str, template: str, **context: object) -> None:
    """Every platform admin, e.g. when Stripe could not finalize an invoice."""
    emails = db.session.scalars(sa.select(User.email).where(User.role == Role.ADMIN).order_by(User.email))
    for email in emails:
        queue_email(email, subject, template, **context)
