"""Stripe Checkout sessions (the hosted payment page)."""

from __future__ import annotations

import stripe

from portal.billing.gateway import call_stripe, idempotency_key, stripe_client


def create_subscription_session(params: dict, key: tuple[object, ...]) -> stripe.checkout.Session:
    return call_stripe(
        "checkout.session.create",
        lambda: stripe_client().v1.checkout.sessions.create(
            {"mode": "subscription", **params}, {"idempotency_key": idempotency_key("checkout", *key)}
        ),
        customer_id=params.get("customer"),
    )


def retrieve_session(session_id: str) -> stripe.checkout.Session:
    return call_stripe(
        "checkout.session.retrieve",
        lambda: stripe_client().v1.checkout.sessions.retrieve(
            session_id, {"expand": ["subscription", "invoice"]}
        ),
    )
