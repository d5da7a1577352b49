"""Products and prices of the practice plans, created and found by ``lookup_key``."""

from __future__ import annotations

import stripe

from portal.gateway.gateway import call_stripe, idempotency_key, stripe_client


def find_prices(lookup_keys: list[str]) -> dict[str, stripe.Price]:
    """Active prices by lookup key (missing keys are absent from the result)."""
    page = call_stripe(
        "price.list",
        lambda: stripe_client().v1.prices.list(
            {"lookup_keys": lookup_keys, "active": True, "limit": 100, "expand": ["data.product"]}
        ),
    )
    return {price.lookup_key: price for price in page.data if price.lookup_key}


def create_product(name: str, key: str, metadata: dict[str, str]) -> stripe.Product:
    return call_stripe(
        "product.create",
        lambda: stripe_client().v1.products.create(
            {"name": name, "metadata": metadata}, {"idempotency_key": idempotency_key("product-create", key)}
        ),
    )


def create_price(
    *,
    product_id: str,
    lookup_key: str,
    unit_amount: int,
    currency: str,
    recurring: dict | None,
    nickname: str,
) -> stripe.Price:
    params: dict = {
        "product": product_id,
        "lookup_key": lookup_key,
        "unit_amount": unit_amount,
        "currency": currency,
        "nickname": nickname,
        "transfer_lookup_key": True,
    }
    if recurring:
        params["recurring"] = recurring
    return call_stripe(
        "price.create",
        lambda: stripe_client().v1.prices.create(
            params,
            {"idempotency_key": idempotency_key("price-create", lookup_key, unit_amount, currency)},
        ),
    )
