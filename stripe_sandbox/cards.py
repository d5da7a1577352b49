"""Stripe's test cards and what each one does."""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass


class Behaviour(enum.Enum):
    #: Every setup and charge succeeds.
    OK = "ok"
    #: Setup and every charge need 3-D Secure (the brief's reading of 4000002500003155).
    AUTHENTICATE = "authenticate"
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


DECLINE_MESSAGES = {
    "generic_decline": "Your card was declined.",
    "insufficient_funds": "Your card has insufficient funds.",
    "lost_card": "Your card was declined.",
    "stolen_card": "Your card was declined.",
    "expired_card": "Your card has expired.",
    "incorrect_cvc": "Your card's security code is incorrect.",
    "processing_error": "An error occurred while processing your card. Try again in a little bit.",
}

_CARDS = [
    TestCard("4242424242424242", "visa", Behaviour.OK),
    TestCard("4000056655665556", "visa", Behaviour.OK, funding="debit"),
    TestCard("5555555555554444", "mastercard", Behaviour.OK),
    TestCard("2223003122003222", "mastercard", Behaviour.OK),
    TestCard("378282246310005", "amex", Behaviour.OK),
    TestCard("6011111111111117", "discover", Behaviour.OK),
    TestCard("4000002500003155", "visa", Behaviour.AUTHENTICATE),
    TestCard("4000002760003184", "visa", Behaviour.AUTHENTICATE),
    TestCard("4000000000003220", "visa", Behaviour.AUTHENTICATE),
    TestCard("4000000000000341", "visa", Behaviour.CHARGE_FAILS, "generic_decline"),
    TestCard("4000000000009995", "visa", Behaviour.DECLINED, "insufficient_funds"),
    TestCard("4000000000000002", "visa", Behaviour.DECLINED, "generic_decline"),
    TestCard("4000000000009987", "visa", Behaviour.DECLINED, "lost_card"),
    TestCard("4000000000009979", "visa", Behaviour.DECLINED, "stolen_card"),
    TestCard("4000000000000069", "visa", Behaviour.DECLINED, "expired_card", code="expired_card"),
    TestCard("4000000000000127", "visa", Behaviour.DECLINED, "incorrect_cvc", code="incorrect_cvc"),
    TestCard("4000000000000119", "visa", Behaviour.DECLINED, "processing_error", code="processing_error"),
]
CARDS = {card.number: card for card in _CARDS}

#: ``pm_card_*`` ids (and ``tok_*`` tokens) that stand for a fresh PaymentMethod of a test card.
SHORTCUTS = {
    "visa": "4242424242424242",
    "visa_debit": "4000056655665556",
    "mastercard": "5555555555554444",
    "amex": "378282246310005",
    "discover": "6011111111111117",
    "chargeCustomerFail": "4000000000000341",
    "authenticationRequired": "4000002500003155",
    "threeDSecure2Required": "4000002500003155",
    "authenticationRequiredOnSetup": "4000002500003155",
    "visa_chargeDeclined": "4000000000000002",
    "chargeDeclined": "4000000000000002",
    "visa_chargeDeclinedInsufficientFunds": "4000000000009995",
    "chargeDeclinedInsufficientFunds": "4000000000009995",
    "visa_chargeDeclinedLostCard": "4000000000009987",
    "chargeDeclinedExpiredCard": "4000000000000069",
}


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
    if number[:2] in {"34", "37"}:
        return "amex"
    if number.startswith(("6011", "65")):
        return "discover"
    return "unknown"


def card_for(number: str) -> TestCard:
    """Any Luhn-valid number works like a plain successful card of its brand."""
    known = CARDS.get(number)
    if known is not None:
        return known
    return TestCard(number, brand_for(number), Behaviour.OK)


def fingerprint(number: str) -> str:
    return hashlib.sha256(("sandbox:" + number).encode()).hexdigest()[:16]
