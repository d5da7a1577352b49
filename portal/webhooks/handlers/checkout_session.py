"""``checkout.session.*`` events: a practice's Checkout (its subscription and onboarding fee)."""

from __future__ import annotations

from portal.practices import mirror


def completed(event: dict) -> None:
    mirror.fulfil_checkout_session(event["data"]["object"], event["created"])
