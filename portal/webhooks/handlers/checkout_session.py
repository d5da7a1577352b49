"""``checkout.session.*`` events: a practice's Checkout (its subscription and onboarding fee)."""

from __future__ import annotations

from portal.practices import checkout_mirror


def completed(event: dict) -> None:
    checkout_mirror.fulfil_checkout_session(event["data"]["object"], event["created"])
