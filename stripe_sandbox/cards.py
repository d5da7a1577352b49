"""Stripe's test cards and what each one does."""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass


class Behaviour(enum.Enum):
    """What a test card does (https://docs.stripe.com/testing#authentication-and-setup)."""

    #: Every setup and charge succeeds.
    OK = "ok"
    #: 4000002500003155: setup and on-session payments need 3-D Secure; once set up for future
    #: use (a SetupIntent, or a payment that saved it), off-session payments go through.
    AUTHENTICATE_UNLESS_SET_UP = "authenticate_unless_set_up"
    #: 4000002760003184, 4000000000003220: every setup and every payment needs 3-D Secure.
    AUTHENTICATE_ALWAYS = "authenticate_always"
    #: 4000003800000446: on-session payments need 3-D Secure; off-session ones go through as if set up.
    AUTHENTICATE_ON_SESSION = "authenticate_on_session"
    #: 4000008260003178: always needs 3-D Secure, then is declined for insufficient funds.
    AUTHENTICATE_THEN_DECLINE = "authenticate_then_decline"
    #: Attaches and sets up fine; every charge is declined (4000000000000341).
    CHARGE_FAILS = "charge_fails"
    #: Declined everywhere: attach, setup and charge (4000000000009995, 0002, ...).
    DECLINED = "declined"


@dataclass(frozen=True)
class TestCard:
    number: str
    brand: str
    behaviour: Behaviour
    decline_code: str | None = None
    #: Stripe's error code; most declines are ``card_declined``, a few have their own.
    code: str = "card_declined"
    funding: str = "credit"
    country: str = "US"
    #: Radar's ``outcome.risk_level`` of its charges (https://docs.stripe.com/testing#fraud-prevention).
    risk_level: str = "normal"


DECLINE_MESSAGES = {
    "generic_decline": "Your card was declined.",
    "do_not_honor": "Your card was declined.",
    "transaction_not_allowed": "Your card was declined.",
    "authentication_required": "Your card was declined. This transaction requires authentication.",
    "insufficient_funds": "Your card has insufficient funds.",
    "lost_card": "Your card was declined.",
    "stolen_card": "Your card was declined.",
    "expired_card": "Your card has expired.",
    "incorrect_cvc": "Your card's security code is incorrect.",
    "processing_error": "An error occurred while processing your card. Try again in a little bit.",
    "fraudulent": "Your card was declined.",
    "card_velocity_exceeded": "Your card was declined for making repeated attempts too frequently or "
    "exceeding its amount limit.",
    "test_mode_live_card": "Your card was declined. Your request was in test mode, but used a non test "
    "(live) card. For a list of valid test cards, visit: https://stripe.com/docs/testing.",
}

#: Declines whose error has its own ``code`` (and the ``param`` Stripe names) instead of
#: ``card_declined`` with a ``decline_code`` (https://docs.stripe.com/error-codes).
OWN_ERROR_CODES = {
    "expired_card": "exp_month",
    "incorrect_cvc": "cvc",
    "processing_error": None,
    "authentication_required": None,
}

_CARDS = [
    TestCard("4242424242424242", "visa", Behaviour.OK),
    TestCard("4000056655665556", "visa", Behaviour.OK, funding="debit"),
    TestCard("5555555555554444", "mastercard", Behaviour.OK),
    TestCard("2223003122003222", "mastercard", Behaviour.OK),
    TestCard("378282246310005", "amex", Behaviour.OK),
    TestCard("6011111111111117", "discover", Behaviour.OK),
    TestCard("3566002020360505", "jcb", Behaviour.OK, country="JP"),
    TestCard("4000002500003155", "visa", Behaviour.AUTHENTICATE_UNLESS_SET_UP),
    TestCard("4000002760003184", "visa", Behaviour.AUTHENTICATE_ALWAYS),
    TestCard("4000000000003220", "visa", Behaviour.AUTHENTICATE_ALWAYS),
    TestCard("4000003800000446", "visa", Behaviour.AUTHENTICATE_ON_SESSION),
    TestCard("4000008260003178", "visa", Behaviour.AUTHENTICATE_THEN_DECLINE, "insufficient_funds"),
    TestCard("4000000000000341", "visa", Behaviour.CHARGE_FAILS, "generic_decline"),
    TestCard("4000000000009995", "visa", Behaviour.DECLINED, "insufficient_funds"),
    TestCard("4000000000000002", "visa", Behaviour.DECLINED, "generic_decline"),
    TestCard("4000000000009987", "visa", Behaviour.DECLINED, "lost_card"),
    TestCard("4000000000009979", "visa", Behaviour.DECLINED, "stolen_card"),
    TestCard("4000000000000069", "visa", Behaviour.DECLINED, "expired_card", code="expired_card"),
    TestCard("4000000000000127", "visa", Behaviour.DECLINED, "incorrect_cvc", code="incorrect_cvc"),
    TestCard("4000000000000119", "visa", Behaviour.DECLINED, "processing_error", code="processing_error"),
    TestCard("4000000000006975", "visa", Behaviour.DECLINED, "card_velocity_exceeded"),
    # Fraud prevention (https://docs.stripe.com/testing#fraud-prevention): always blocked by Radar;
    # highest risk, which Radar's default rules let through.
    TestCard("4100000000000019", "visa", Behaviour.DECLINED, "fraudulent", risk_level="highest"),
    TestCard("4000000000004954", "visa", Behaviour.OK, risk_level="highest"),
    TestCard("4000000000009235", "visa", Behaviour.OK, risk_level="elevated"),
]
CARDS = {card.number: card for card in _CARDS}

#: ``pm_card_*`` ids (and ``tok_*`` tokens) that stand for a fresh PaymentMethod of a test card.
SHORTCUTS = {
    "visa": "4242424242424242",
    "visa_debit": "4000056655665556",
    "mastercard": "5555555555554444",
    "amex": "378282246310005",
    "discover": "6011111111111117",
    "jcb": "3566002020360505",
    "chargeCustomerFail": "4000000000000341",
    "authenticationRequired": "4000002760003184",
    "threeDSecure2Required": "4000000000003220",
    "authenticationRequiredOnSetup": "4000002500003155",
    "authenticationRequiredSetupForOffSession": "4000002500003155",
    "authenticationRequiredChargeDeclinedInsufficientFunds": "4000008260003178",
    "visa_chargeDeclined": "4000000000000002",
    "chargeDeclined": "4000000000000002",
    "visa_chargeDeclinedInsufficientFunds": "4000000000009995",
    "chargeDeclinedInsufficientFunds": "4000000000009995",
    "visa_chargeDeclinedLostCard": "4000000000009987",
    "chargeDeclinedLostCard": "4000000000009987",
    "visa_chargeDeclinedStolenCard": "4000000000009979",
    "chargeDeclinedStolenCard": "4000000000009979",
    "chargeDeclinedExpiredCard": "4000000000000069",
    "chargeDeclinedIncorrectCvc": "4000000000000127",
    "chargeDeclinedProcessingError": "4000000000000119",
    "chargeDeclinedFraudulent": "4100000000000019",
    "radarBlock": "4100000000000019",
    "chargeDeclinedVelocityLimitExceeded": "4000000000006975",
    "visa_chargeDeclinedVelocityLimitExceeded": "4000000000006975",
    "riskLevelHighest": "4000000000004954",
    "riskLevelElevated": "4000000000009235",
}

#: Shortcuts whose card comes already set up for off-session payments.
SET_UP_SHORTCUTS = frozenset({"authenticationRequiredSetupForOffSession"})

#: Behaviours that ask for 3-D Secure on a SetupIntent and on on-session payments.
AUTHENTICATES = frozenset(
    {
        Behaviour.AUTHENTICATE_UNLESS_SET_UP,
        Behaviour.AUTHENTICATE_ALWAYS,
        Behaviour.AUTHENTICATE_ON_SESSION,
        Behaviour.AUTHENTICATE_THEN_DECLINE,
    }
)


def payment_needs_authentication(card: TestCard, *, off_session: bool, set_up: bool) -> bool:
    """Does a payment with ``card`` ask for 3-D Secure (https://docs.stripe.com/testing#regulatory-cards)?"""
    if card.behaviour in (Behaviour.AUTHENTICATE_ALWAYS, Behaviour.AUTHENTICATE_THEN_DECLINE):
        return True
    if card.behaviour is Behaviour.AUTHENTICATE_UNLESS_SET_UP:
        return not (off_session and set_up)
    if card.behaviour is Behaviour.AUTHENTICATE_ON_SESSION:
        return not off_session
    return False


def shortcut_is_set_up(object_id: str) -> bool:
    return object_id.removeprefix("pm_card_").removeprefix("tok_") in SET_UP_SHORTCUTS


def shortcut_number(object_id: str) -> str | None:
    """The card number behind ``pm_card_visa`` / ``tok_visa``, if ``object_id`` is such a shortcut."""
    for prefix in ("pm_card_", "tok_"):
        if object_id.startswith(prefix):
            return SHORTCUTS.get(object_id[len(prefix) :])
    return None


def luhn_ok(number: str) -> bool:
    digits = [int(d) for d in number]
    total = 0
    for i, digit in enumerate(reversed(digits)):
        if i % 2 == 1:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


def brand_for(number: str) -> str:
    if number.startswith("4"):
        return "visa"
    if number[:2] in {"51", "52", "53", "54", "55"} or (
        number[:4].isdigit() and 2221 <= int(number[:4]) <= 2720
    ):
        return "mastercard"
    if number.startswith("35"):
        return "jcb"
    if number[:2] in {"34", "37"}:
        return "amex"
    if number.startswith(("6011", "65")):
        return "discover"
    return "unknown"


def card_for(number: str) -> TestCard:
    """A number not on the testing page is taken for a real card, which test mode declines
    (``test_mode_live_card``, https://docs.stripe.com/testing#cards)."""
    known = CARDS.get(number)
    if known is not None:
        return known
    return TestCard(number, brand_for(number), Behaviour.DECLINED, "test_mode_live_card")


def fingerprint(number: str) -> str:
    return hashlib.sha256(("sandbox:" + number).encode()).hexdigest()[:16]
