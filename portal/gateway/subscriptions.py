"""Subscriptions: read, cancel at period end, resume, switch price, default card."""

from __future__ import annotations

import stripe

from portal.gateway.gateway import call_stripe, idempotency_key, stripe_client
from portal.gateway.read_first import remembered


def retrieve_subscription(subscription_id: str) -> stripe.Subscription:
    """Read first for a webhook whose older state disagrees (``portal.practices.mirror``)."""
    return remembered(
        "subscription.retrieve",
        subscription_id,
        lambda: call_stripe(
            "subscription.retrieve",
            lambda: stripe_client().v1.subscriptions.retrieve(subscription_id),
            subscription_id=subscription_id,
        ),
    )


def update_subscription(subscription_id: str, params: dict, key: tuple[object, ...]) -> stripe.Subscription:
    return call_stripe(
        "subscription.update",
        lambda: stripe_client().v1.subscriptions.update(
            subscription_id, params, {"idempotency_key": idempotency_key("subscription-update", *key)}
        ),
        subscription_id=subscription_id,
    )


def list_subscriptions(customer_id: str) -> list[stripe.Subscription]:
    """Every subscription of the customer, ended ones included (oldest first)."""
    page = call_stripe(
        "subscription.list",
        lambda: stripe_client().v1.subscriptions.list(
            {"customer": customer_id, "status": "all", "limit": 100}
        ),
        customer_id=customer_id,
    )
    return sorted(page.auto_paging_iter(), key=lambda sub: sub.created)


def list_all_subscriptions() -> list[stripe.Subscription]:
    """Every subscription of every customer, ended ones included, newest first (pages of 100):
    what reconciling every practice reads at once instead of one list per customer."""
    page = call_stripe(
        "subscription.list", lambda: stripe_client().v1.subscriptions.list({"status": "all", "limit": 100})
    )
    return list(page.auto_paging_iter())


def cancel_subscription_now(
    subscription_id: str, key: tuple[object, ...], comment: str | None = None
) -> stripe.Subscription:
    """End the subscription at once, with no proration credit (its payments are refunded instead,
    or, a practice closed by the platform, nothing more is charged); ``comment``: why, kept at Stripe."""
    params: dict = {"prorate": False, "invoice_now": False}
    if comment:
        params["cancellation_details"] = {"comment": comment[:500]}
    return call_stripe(
        "subscription.cancel",
        lambda: stripe_client().v1.subscriptions.cancel(
            subscription_id,
            params,
            {"idempotency_key": idempotency_key("subscription-cancel", *key)},
        ),
        subscription_id=subscription_id,
    )
