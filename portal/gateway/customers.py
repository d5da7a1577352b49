"""Stripe customers."""

from __future__ import annotations

import contextlib

import stripe

from portal.gateway.errors import NotFound
from portal.gateway.gateway import call_stripe, idempotency_key, stripe_client


def create_customer(
    *,
    name: str,
    email: str,
    metadata: dict[str, str],
    description: str,
    key: tuple[object, ...],
    preferred_locales: list[str] | None = None,
) -> stripe.Customer:
    """``preferred_locales``: the languages Stripe writes its own emails and hosted invoice page in."""
    params = {"name": name, "email": email, "metadata": metadata, "description": description}
    if preferred_locales:
        params["preferred_locales"] = preferred_locales
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


def list_tax_ids(customer_id: str) -> list[stripe.TaxId]:
    """The customer's tax ID objects (Stripe keeps at most 25 per customer: one page)."""
    page = call_stripe(
        "customer.tax_id.list",
        lambda: stripe_client().v1.customers.tax_ids.list(customer_id, {"limit": 100}),
        customer_id=customer_id,
    )
    return list(page.data)


def create_tax_id(customer_id: str, tax_type: str, value: str, key: tuple[object, ...]) -> stripe.TaxId:
    """Raises ``InvalidRequest`` with ``stripe_code == "tax_id_invalid"`` for a value Stripe refuses."""
    return call_stripe(
        "customer.tax_id.create",
        lambda: stripe_client().v1.customers.tax_ids.create(
            customer_id,
            {"type": tax_type, "value": value},
            {"idempotency_key": idempotency_key("tax-id-create", *key)},
        ),
        customer_id=customer_id,
    )


def delete_tax_id(customer_id: str, tax_id: str) -> None:
    """Delete; a tax ID already gone counts as deleted."""
    with contextlib.suppress(NotFound):
        call_stripe(
            "customer.tax_id.delete",
            lambda: stripe_client().v1.customers.tax_ids.delete(customer_id, tax_id),
            customer_id=customer_id,
        )
