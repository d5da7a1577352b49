"""``payment_intent.*`` events: shop orders (a sale, or its stock back), each settled once."""

from __future__ import annotations

from portal.shop import payment_events


def succeeded(event: dict) -> None:
    payment_events.payment_intent_succeeded(event["data"]["object"])


def payment_failed(event: dict) -> None:
    payment_events.payment_intent_payment_failed(event["data"]["object"])


def canceled(event: dict) -> None:
    payment_events.payment_intent_canceled(event["data"]["object"])
