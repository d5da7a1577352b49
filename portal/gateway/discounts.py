"""Coupons and promotion codes (https://docs.stripe.com/api/coupons, .../promotion_codes)."""

from __future__ import annotations

import stripe

from portal.gateway.gateway import call_stripe, call_stripe_once, idempotency_key, stripe_client
from portal.gateway.read_first import remembered


def create_coupon(params: dict, key: tuple[object, ...]) -> stripe.Coupon:
    return call_stripe_once(
        "coupon.create",
        lambda: stripe_client().v1.coupons.create(
            params, {"idempotency_key": idempotency_key("coupon-create", *key)}
        ),
    )


def create_promotion_code(
    coupon_id: str, code: str, extra: dict, key: tuple[object, ...]
) -> stripe.PromotionCode:
    """A customer-facing ``code`` for ``coupon_id`` (``promotion[coupon]`` in the pinned API version)."""
    return call_stripe_once(
        "promotion_code.create",
        lambda: stripe_client().v1.promotion_codes.create(
            {"promotion": {"type": "coupon", "coupon": coupon_id}, "code": code, **extra},
            {"idempotency_key": idempotency_key("promotion-code-create", *key)},
        ),
    )


def set_promotion_code_active(promotion_code_id: str, active: bool, attempt: str) -> stripe.PromotionCode:
    """``attempt``: the admin's form (drawn with the page), so a double submit acts once while a
    second turn-off later (after the code was turned on in Stripe's dashboard) is a new request:
    keyed by the code alone, Stripe would answer the first one's cached reply and do nothing."""
    return call_stripe_once(
        "promotion_code.update",
        lambda: stripe_client().v1.promotion_codes.update(
            promotion_code_id,
            {"active": active},
            {"idempotency_key": idempotency_key("promotion-code-active", promotion_code_id, active, attempt)},
        ),
    )


def retrieve_promotion_code(promotion_code_id: str) -> stripe.PromotionCode:
    return call_stripe(
        "promotion_code.retrieve",
        lambda: stripe_client().v1.promotion_codes.retrieve(
            promotion_code_id, {"expand": ["promotion.coupon"]}
        ),
    )


def find_promotion_codes(code: str) -> stripe.ListObject:
    """Promotion codes with this customer-facing code (whatever its case), the coupon expanded; the
    list (its ``data``), so its answer's time (``stripe_time``) is Stripe's clock."""
    return call_stripe(
        "promotion_code.list",
        lambda: stripe_client().v1.promotion_codes.list(
            {"code": code, "limit": 10, "expand": ["data.promotion.coupon"]}
        ),
    )


def recent_promotion_codes(limit: int = 100) -> stripe.ListObject:
    """The newest promotion codes (one list call, coupons expanded): their ``times_redeemed`` as
    Stripe counts it (Stripe sends no ``promotion_code.updated`` when a code is redeemed)."""
    return call_stripe(
        "promotion_code.list",
        lambda: stripe_client().v1.promotion_codes.list(
            {"limit": limit, "expand": ["data.promotion.coupon"]}
        ),
    )


def subscription_discounts(subscription_id: str) -> stripe.Subscription:
    """The subscription with its discounts and their coupons expanded (what the page shows)."""
    return remembered(
        "subscription.retrieve.discounts",
        subscription_id,
        lambda: call_stripe(
            "subscription.retrieve",
            lambda: stripe_client().v1.subscriptions.retrieve(
                subscription_id, {"expand": ["discounts.source.coupon"]}
            ),
            subscription_id=subscription_id,
        ),
    )
