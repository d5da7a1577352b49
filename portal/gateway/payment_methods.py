"""Saved cards: SetupIntents, attach, detach, default, list."""

from __future__ import annotations

import secrets

import stripe

from portal.gateway.gateway import call_stripe, idempotency_key, stripe_client


def create_setup_intent(customer_id: str, key: tuple[object, ...]) -> stripe.SetupIntent:
    """A SetupIntent the browser confirms with Stripe.js (3-D Secure included)."""
    return call_stripe(
        "setup_intent.create",
        lambda: stripe_client().v1.setup_intents.create(
            {"customer": customer_id, "allowed_payment_method_types": ["card"], "usage": "off_session"},
            {"idempotency_key": idempotency_key("setup-intent", *key)},
        ),
        customer_id=customer_id,
    )


def retrieve_setup_intent(setup_intent_id: str) -> stripe.SetupIntent:
    return call_stripe(
        "setup_intent.retrieve",
        lambda: stripe_client().v1.setup_intents.retrieve(setup_intent_id, {"expand": ["payment_method"]}),
        setup_intent_id=setup_intent_id,
    )


def retrieve_payment_method(payment_method_id: str) -> stripe.PaymentMethod:
    return call_stripe(
        "payment_method.retrieve",
        lambda: stripe_client().v1.payment_methods.retrieve(payment_method_id),
        payment_method_id=payment_method_id,
    )


def list_payment_methods(customer_id: str) -> list[stripe.PaymentMethod]:
    page = call_stripe(
        "payment_method.list",
        lambda: stripe_client().v1.customers.payment_methods.list(
            customer_id, {"type": "card", "limit": 100}
        ),
        customer_id=customer_id,
    )
    return list(page.data)


def attach_payment_method(customer_id: str, payment_method_id: str) -> stripe.PaymentMethod:
    return call_stripe(
        "payment_method.attach",
        lambda: stripe_client().v1.payment_methods.attach(
            payment_method_id,
            {"customer": customer_id},
            {"idempotency_key": idempotency_key("pm-attach", payment_method_id, customer_id)},
        ),
        customer_id=customer_id,
        payment_method_id=payment_method_id,
    )


def detach_payment_method(payment_method_id: str) -> stripe.PaymentMethod:
    return call_stripe(
        "payment_method.detach",
        lambda: stripe_client().v1.payment_methods.detach(
            payment_method_id, options={"idempotency_key": idempotency_key("pm-detach", payment_method_id)}
        ),
        payment_method_id=payment_method_id,
    )


def set_default_payment_method(customer_id: str, payment_method_id: str) -> stripe.Customer:
    """A new key per call: setting the default is the same whatever the repeat, and a key of the two
    ids alone would make A, then B, then A again (within Stripe's 24 h) replay the first answer and
    leave B the default at Stripe while the answer says A."""
    once = secrets.token_hex(8)
    return call_stripe(
        "customer.set_default_payment_method",
        lambda: stripe_client().v1.customers.update(
            customer_id,
            {"invoice_settings": {"default_payment_method": payment_method_id}},
            {"idempotency_key": idempotency_key("customer-default-pm", customer_id, payment_method_id, once)},
        ),
        customer_id=customer_id,
        payment_method_id=payment_method_id,
    )
