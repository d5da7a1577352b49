"""PaymentIntents for one-off purchases, confirmed on-session with a saved card."""

from __future__ import annotations

import stripe

from portal.gateway.errors import BillingError
from portal.gateway.gateway import call_stripe, idempotency_key, stripe_client


def create_payment_intent(
    *,
    amount: int,
    currency: str,
    customer_id: str,
    payment_method_id: str | None,
    receipt_email: str | None,
    metadata: dict[str, str],
    description: str,
    key: tuple[object, ...],
) -> stripe.PaymentIntent:
    """Create the intent and, with a card, confirm it at once (the buyer is present).

    A decline raises ``CardDeclined`` carrying ``payment_intent_id`` when Stripe
    created the intent before refusing the charge.
    """
    params: dict = {
        "amount": amount,
        "currency": currency,
        "customer": customer_id,
        "metadata": metadata,
        "description": description,
        "allowed_payment_method_types": ["card"],
    }
    if receipt_email:
        params["receipt_email"] = receipt_email
    if payment_method_id:
        params.update(payment_method=payment_method_id, confirm=True, off_session=False)
    seen: dict[str, str] = {}

    def create() -> stripe.PaymentIntent:
        try:
            return stripe_client().v1.payment_intents.create(
                params, {"idempotency_key": idempotency_key("payment-intent", *key)}
            )
        except stripe.CardError as error:
            intent = getattr(getattr(error, "error", None), "payment_intent", None)
            intent_id = intent.get("id") if isinstance(intent, dict) else getattr(intent, "id", None)
            if intent_id:
                seen["payment_intent_id"] = intent_id
            raise

    try:
        return call_stripe(
            "payment_intent.create",
            create,
            customer_id=customer_id,
            payment_method_id=payment_method_id,
            **_ids(metadata),
        )
    except BillingError as error:
        error.payment_intent_id = seen.get("payment_intent_id")  # type: ignore[attr-defined]
        raise


def retrieve_payment_intent(payment_intent_id: str) -> stripe.PaymentIntent:
    return call_stripe(
        "payment_intent.retrieve",
        lambda: stripe_client().v1.payment_intents.retrieve(payment_intent_id),
        payment_intent_id=payment_intent_id,
    )


def cancel_payment_intent(payment_intent_id: str, key: tuple[object, ...]) -> stripe.PaymentIntent:
    return call_stripe(
        "payment_intent.cancel",
        lambda: stripe_client().v1.payment_intents.cancel(
            payment_intent_id,
            {"cancellation_reason": "abandoned"},
            {"idempotency_key": idempotency_key("payment-intent-cancel", *key)},
        ),
        payment_intent_id=payment_intent_id,
    )


#: Pages of 100 intents a lookup reads at most (one customer's recent intents).
_LOOKUP_PAGES = 5


def find_payment_intent(
    customer_id: str, metadata_key: str, value: str, *, created_since: int
) -> stripe.PaymentIntent | None:
    """The customer's PaymentIntent whose ``metadata[metadata_key]`` is ``value``, or None.

    Settles a create whose answer never came. A list, not a search: Stripe's search
    index lags behind by up to a minute, a list shows every intent at once.
    """

    def find() -> stripe.PaymentIntent | None:
        params: dict = {"customer": customer_id, "created": {"gte": created_since}, "limit": 100}
        for _ in range(_LOOKUP_PAGES):
            page = stripe_client().v1.payment_intents.list(params)
            for intent in page.data:
                if (intent.to_dict().get("metadata") or {}).get(metadata_key) == value:
                    return intent
            if not page.has_more or not page.data:
                return None
            params["starting_after"] = page.data[-1].id
        return None

    return call_stripe("payment_intent.find", find, customer_id=customer_id)


def _ids(metadata: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in metadata.items() if k.endswith("Id")}
