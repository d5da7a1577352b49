"""Billing emails to the people who manage a practice's billing, and decline reasons in plain words."""

from __future__ import annotations

import logging

import sqlalchemy as sa

from portal.extensions import db
from portal.i18n import default_practice_locale, default_practice_timezone
from portal.mail.outbox import queue_email
from portal.practices.models import MemberRole, Practice
from portal.text import N_
from portal.users.models import Role, User

log = logging.getLogger(__name__)

#: Stripe's decline codes (https://docs.stripe.com/declines/codes), said the way a practice manager
#: understands them, each with what to do. A lost, stolen or fraud-flagged card is not named as such
#: (Stripe asks that these be presented like a generic decline), but the words say the card is done.
#: Kept in English (``practices.last_payment_error``) and said in the reader's language where shown
#: (``portal.words.stored_words``).
GENERIC_DECLINE = N_("Your bank declined the payment. Call the bank or use another card, then press Pay now.")
NEW_CARD_NEEDED = N_("The bank will not accept this card again. Add another card, then press Pay now.")
DECLINE_REASONS = {
    "insufficient_funds": N_(
        "Your bank declined the payment for insufficient funds. "
        "Add funds or use another card, then press Pay now."
    ),
    "expired_card": N_("The card has expired. Add your new card, then press Pay now."),
    "incorrect_cvc": N_(
        "The bank refused the card's security code (CVC). "
        "Add the card again with the right code, or use another card, then press Pay now."
    ),
    "incorrect_number": N_("The card number was incorrect. Add the card again, then press Pay now."),
    "lost_card": NEW_CARD_NEEDED,
    "stolen_card": NEW_CARD_NEEDED,
    "fraudulent": NEW_CARD_NEEDED,
    "do_not_honor": N_(
        "Your bank refused the payment without giving a reason. "
        "Ask the bank to allow it, or use another card, then press Pay now."
    ),
    "generic_decline": GENERIC_DECLINE,
    "card_declined": GENERIC_DECLINE,
    "card_velocity_exceeded": N_(
        "The card has reached its spending limit. "
        "Ask the bank to raise it, or use another card, then press Pay now."
    ),
    "transaction_not_allowed": N_(
        "Your bank does not allow this kind of payment on the card. "
        "Ask the bank to allow online and recurring payments, or use another card, then press Pay now."
    ),
    "processing_error": N_(
        "The bank could not process the payment; nothing was charged. Press Pay now to try again."
    ),
    # The bank wants the payer (3-D Secure); Stripe then asks with ``invoice.payment_action_required``,
    # whose banner and email lead to the portal's page for it ("Complete authentication").
    "authentication_required": N_(
        "Your bank needs you to confirm this payment. "
        "Press “Complete authentication” and confirm it with your bank."
    ),
    # The payer failed (or closed) the bank's check: a retry can pass, whatever Stripe's words say.
    "payment_intent_authentication_failure": N_(
        "Your bank did not confirm the payment, so nothing was charged. "
        "Press “Complete authentication” to try again, or use another card."
    ),
    "no_card_on_file": N_(
        "No card is on file. Add a card, then pay the invoice."
    ),  # gateway's NO_CARD_ON_FILE
}
DEFAULT_DECLINE = N_("The card was declined.")
#: Declines Stripe's Smart Retries never retry: the card will not work again.
NOT_RETRIED = frozenset({NEW_CARD_NEEDED})


def decline_reason(error: dict | None) -> str:
    """Plain words for a Stripe ``last_payment_error`` (decline code first, then code)."""
    error = error or {}
    for code in (error.get("decline_code"), error.get("code")):
        if code in DECLINE_REASONS:
            return DECLINE_REASONS[code]
    return error.get("message") or DEFAULT_DECLINE


def decline_cause(reason: str | None) -> str | None:
    """What happened, without what to do: once the subscription has ended there is nothing to pay
    ("Your bank declined the payment for insufficient funds." of its reason)."""
    if not reason:
        return None
    first, _, rest = reason.partition(". ")
    return f"{first}." if rest else reason


def stripe_retries(reason: str | None) -> bool:
    """Will Stripe retry after a failure said in these words? Not after a hard decline."""
    return reason not in NOT_RETRIED


def billing_recipients(practice: Practice) -> list[str]:
    return sorted(
        member.user.email
        for member in practice.members
        if member.role in (MemberRole.OWNER, MemberRole.ADMIN) and member.user is not None
    )


def receipt_recipients(practice: Practice) -> str | None:
    """Where a practice's receipts go, one per invoice: its billing email once set, else its owner's."""
    return practice.billing_contact_email


def practice_reading(practice: Practice) -> dict[str, str | None]:
    """``queue_email``'s language and zone for a practice's email: its zone (the one its pages read
    in), and its language for an address with no account (Vietnamese for a practice in Vietnam)."""
    zone = practice.timezone or default_practice_timezone(country=practice.address_country)
    return {
        "locale": default_practice_locale(practice.address_country, zone),
        "timezone": zone,
    }


def notify(practice: Practice, subject: str, template: str, **context: object) -> int:
    """One email per billing manager, queued in the caller's transaction (see ``portal.mail.outbox``);
    how many were queued (none when their cause already sent them). ``subject``: a lazy string,
    read in each recipient's language.

    Sent after the commit; inside a webhook handler at most once per event.
    """
    return sum(
        queue_email(email, subject, template, practice=practice, **practice_reading(practice), **context)
        for email in billing_recipients(practice)
    )


def alert_admins(subject: str, template: str, **context: object) -> None:
    """Every platform admin, e.g. when Stripe could not finalize an invoice (each in their language)."""
    emails = db.session.scalars(sa.select(User.email).where(User.role == Role.ADMIN).order_by(User.email))
    for email in emails:
        queue_email(email, subject, template, **context)
