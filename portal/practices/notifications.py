"""Billing emails to the people who manage a practice's billing, and decline reasons in plain words."""

from __future__ import annotations

import logging

import sqlalchemy as sa
from sqlalchemy.orm import Session

from portal.extensions import db
from portal.mail.services import deliver_email, render_email
from portal.practices.models import MemberRole, Practice

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


#: ``Session.info`` key: emails rendered by ``notify`` and waiting for the transaction to commit.
_PENDING = "practice_emails_pending"


def notify(practice: Practice, subject: str, template: str, **context: object) -> None:
    """One email per billing manager, sent once the billing update is committed.

    The sync functions run inside webhook handlers, whose work is rolled back if
    they fail; an email sent straight away would go out again on the redelivery.
    So the email is rendered now and sent after the commit, and dropped on a rollback.
    """
    pending = db.session.info.setdefault(_PENDING, [])
    for email in billing_recipients(practice):
        text, html = render_email(template, practice=practice, **context)
        pending.append((email, subject, text, html, practice.id, template))


@sa.event.listens_for(Session, "after_commit")
def _send_pending(session: Session) -> None:
    for email, subject, text, html, practice_id, template in session.info.pop(_PENDING, []):
        try:
            deliver_email(email, subject, text, html)
        except Exception:  # the SMTP server's problem must not undo a billing update
            log.exception("billing email failed practice_id=%s template=%s", practice_id, template)


@sa.event.listens_for(Session, "after_rollback")
def _drop_pending(session: Session) -> None:
    session.info.pop(_PENDING, None)
