"""Stripe customers."""

from __future__ import annotations

import contextlib

import stripe

from portal.gateway.errors import NotFound
from portal.gateway.gateway import call_stripe, idempotency_key, stripe_client


def create_customer(
    *, name: str, email: str, metadata: dict[str, str], description: str, key: tuple[object, ...]
) -> stripe.Customer:
    params = {"name": name, "email": email, "metadata": metadata, "description": description}
    return call_stripe(
        "customer.create",
        lambda: stripe_client().v1.customers.create(
            params, {"idempotency_key": idempotency_key("customer-create", *key)}
        ),
        **{k: v for k, v in metadata.items() if k.endswith("Id")},
    )


def find_customer_by_metadata(key: str, value: str) -> stripe.Customer | None:
    """The live customer carrying ``metadata[key] = value``, if any."""
    result = call_stripe(
        "customer.search",
        lambda: stripe_client().v1.customers.search({"query": f"metadata['{key}']:'{value}'", "limit": 1}),
    )
    return result.data[0] if result.data else None


def retrieve_customer(customer_id: str) -> stripe.Customer:
    return call_stripe(
        "customer.retrieve",
        lambda: stripe_client().v1.customers.retrieve(customer_id),
        customer_id=customer_id,
    )


def update_customer(customer_id: str, params: dict, key: tuple[object, ...]) -> stripe.Customer:
    return call_stripe(
        "customer.update",
        lambda: stripe_client().v1.customers.update(
            customer_id, params, {"idempotency_key": idempotency_key("customer-update", *key)}
        ),
        customer_id=customer_id,
    )


def delete_customer(customer_id: str) -> bool:
    """Delete; a customer already gone counts as deleted."""
    with contextlib.suppress(NotFound):
        call_stripe(
            "customer.delete",
            lambda: stripe_client().v1.customers.delete(customer_id),
            customer_id=customer_id,
        )
    return True
