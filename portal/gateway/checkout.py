"""Stripe Checkout sessions (the hosted payment page)."""

from __future__ import annotations

import stripe

from portal.gateway.gateway import call_stripe, idempotency_key, stripe_client


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
        session_id=session_id,
    )


def list_open_sessions(customer_id: str) -> list[stripe.checkout.Session]:
    """The customer's Checkout sessions that can still be paid."""
    page = call_stripe(
        "checkout.session.list",
        lambda: stripe_client().v1.checkout.sessions.list(
            {"customer": customer_id, "status": "open", "limit": 100}
        ),
        customer_id=customer_id,
    )
    return list(page.auto_paging_iter())


def expire_session(session_id: str) -> stripe.checkout.Session:
    """Nobody can pay an expired session; Stripe refuses (InvalidRequest) one no longer open."""
    return call_stripe(
        "checkout.session.expire",
        lambda: stripe_client().v1.checkout.sessions.expire(
            session_id, {}, {"idempotency_key": idempotency_key("checkout-expire", session_id)}
        ),
        session_id=session_id,
    )
