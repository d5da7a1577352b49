"""Reading Stripe objects the way the pinned API version shapes them, in one place.

Every function takes a plain dict (a webhook payload) or an SDK object
(converted with ``to_dict``), so callers never depend on which they hold.
"""

from __future__ import annotations

from typing import Any


def as_dict(obj: Any) -> dict:
    if obj is None:
        return {}
    if isinstance(obj, dict):
        return obj
    return obj.to_dict()


def object_id(value: Any) -> str | None:
    """An id from an expandable field: the string itself or the expanded object's id."""
    if value is None or isinstance(value, str):
        return value
    return as_dict(value).get("id")


def default_payment_method_id(customer: Any) -> str | None:
    settings = as_dict(customer).get("invoice_settings") or {}
    return object_id(settings.get("default_payment_method"))


def subscription_item(subscription: Any) -> dict:
    """The first (for the portal: the only) subscription item."""
    items = (as_dict(subscription).get("items") or {}).get("data") or []
    return as_dict(items[0]) if items else {}


def subscription_period(subscription: Any) -> tuple[int | None, int | None]:
    """(start, end) of the current period: on the subscription *items* since API 2025-03."""
    item = subscription_item(subscription)
    return item.get("current_period_start"), item.get("current_period_end")


def subscription_price(subscription: Any) -> dict:
    return as_dict(subscription_item(subscription).get("price"))


def invoice_subscription_details(invoice: Any) -> dict:
    """``parent.subscription_details`` (subscription id and its metadata), or {}."""
    parent = as_dict(invoice).get("parent") or {}
    return parent.get("subscription_details") or {}


def invoice_subscription_id(invoice: Any) -> str | None:
    details = invoice_subscription_details(invoice)
    return object_id(details.get("subscription")) or object_id(as_dict(invoice).get("subscription"))


def invoice_metadata(invoice: Any) -> dict:
    """The subscription's metadata as copied onto the invoice."""
    return invoice_subscription_details(invoice).get("metadata") or {}


def invoice_payment_error(invoice: Any) -> dict:
    """``last_payment_error`` of the invoice's payment intent, when the payload carries it expanded."""
    payments = (as_dict(invoice).get("payments") or {}).get("data") or []
    for payment in payments:
        intent = as_dict(payment).get("payment", {}).get("payment_intent")
        if isinstance(intent, dict) and intent.get("last_payment_error"):
            return intent["last_payment_error"]
    return {}


def invoice_intent(invoice: Any) -> dict:
    """The PaymentIntent of the invoice's default payment, when the payload carries it expanded."""
    payments = [as_dict(payment) for payment in (as_dict(invoice).get("payments") or {}).get("data") or []]
    for payment in sorted(payments, key=lambda payment: not payment.get("is_default")):
        intent = (payment.get("payment") or {}).get("payment_intent")
        if isinstance(intent, dict):
            return intent
    return {}


#: Our own marker (not a Stripe code) for a failed attempt with no card to charge.
NO_CARD_ON_FILE = {"code": "no_card_on_file"}


def invoice_awaits_a_card(invoice: Any) -> bool:
    """True when the attempt failed for want of a card: Stripe then leaves the PaymentIntent in
    ``requires_payment_method`` with neither a payment method nor a ``last_payment_error`` (nothing
    was declined; https://docs.stripe.com/payments/paymentintents/lifecycle)."""
    payments = (as_dict(invoice).get("payments") or {}).get("data") or []
    for payment in payments:
        intent = as_dict(payment).get("payment", {}).get("payment_intent")
        if isinstance(intent, dict) and intent.get("status") == "requires_payment_method":
            return not intent.get("payment_method") and not intent.get("last_payment_error")
    return False


def _payment_card(payment: Any) -> dict:
    """``{"brand", "last4"}`` of one invoice payment, when its charge or PaymentIntent's card is expanded."""
    paid_by = as_dict(payment).get("payment") or {}
    charge = paid_by.get("charge")
    if isinstance(charge, dict):
        card = (charge.get("payment_method_details") or {}).get("card") or {}
        if card.get("last4"):
            return {"brand": card.get("brand"), "last4": card["last4"]}
    intent = paid_by.get("payment_intent")
    method = intent.get("payment_method") if isinstance(intent, dict) else None
    card = (method.get("card") or {}) if isinstance(method, dict) else {}
    return {"brand": card.get("brand"), "last4": card["last4"]} if card.get("last4") else {}


def payments_card(payments: Any) -> dict:
    """The card of the paid one among an invoice's payments (``invoice_payment`` objects), or {}."""
    payments = [as_dict(payment) for payment in payments or []]
    for payment in sorted(payments, key=lambda payment: payment.get("status") != "paid"):
        if found := _payment_card(payment):
            return found
    return {}


def payload_card(invoice: Any) -> dict:
    """The card that paid the invoice, when the payload carries its ``payments`` expanded that far."""
    return payments_card((as_dict(invoice).get("payments") or {}).get("data"))
