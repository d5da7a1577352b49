"""Invoices: previews of a plan change, paying an open invoice, reading one."""

from __future__ import annotations

import stripe

from portal.gateway.errors import BillingError
from portal.gateway.gateway import call_stripe, idempotency_key, stripe_client
from portal.gateway.shapes import (
    NO_CARD_ON_FILE,
    invoice_awaits_a_card,
    invoice_payment_error,
    payload_card,
    payments_card,
)

#: An invoice's ``payments`` are includable: Stripe sends them (in replies, never in events) only
#: when expanded, and the decline is on the PaymentIntent below them.
DECLINE_EXPAND = ["payments.data.payment.payment_intent"]


def preview_invoice(params: dict) -> stripe.Invoice:
    """``invoices.create_preview``: what a change would be billed, without changing anything."""
    return call_stripe(
        "invoice.create_preview",
        lambda: stripe_client().v1.invoices.create_preview(params),
        customer_id=params.get("customer"),
    )


def retrieve_invoice(invoice_id: str) -> stripe.Invoice:
    return call_stripe(
        "invoice.retrieve",
        lambda: stripe_client().v1.invoices.retrieve(invoice_id),
        invoice_id=invoice_id,
    )


#: What the bank's check of an invoice payment needs: the client secret Stripe.js confirms with
#: (``confirmation_secret``, includable, as Stripe's API has it since the invoice's ``payment_intent``
#: went) and the PaymentIntent behind it, for its status and its last error.
CONFIRMATION_EXPAND = ["confirmation_secret", "payments.data.payment.payment_intent"]


def invoice_to_confirm(invoice_id: str) -> stripe.Invoice:
    """The invoice with its ``confirmation_secret`` and its payments' PaymentIntents expanded."""
    return call_stripe(
        "invoice.retrieve",
        lambda: stripe_client().v1.invoices.retrieve(invoice_id, {"expand": CONFIRMATION_EXPAND}),
        invoice_id=invoice_id,
    )


def pay_invoice(invoice_id: str, payment_method_id: str | None, key: tuple[object, ...]) -> stripe.Invoice:
    params = {"payment_method": payment_method_id} if payment_method_id else {}
    return call_stripe(
        "invoice.pay",
        lambda: stripe_client().v1.invoices.pay(
            invoice_id, params, {"idempotency_key": idempotency_key("invoice-pay", *key)}
        ),
        invoice_id=invoice_id,
    )


def void_invoice(invoice_id: str) -> stripe.Invoice:
    """Nothing is owed on it any more (a practice the platform closed); voiding twice is refused by
    Stripe, so the caller voids only what its mirror shows open."""
    return call_stripe(
        "invoice.void_invoice",
        lambda: stripe_client().v1.invoices.void_invoice(invoice_id),
        invoice_id=invoice_id,
    )


def mark_uncollectible(invoice_id: str) -> stripe.Invoice:
    """Nobody will be asked to pay it (its subscription ended). The Idempotency-Key is the invoice's:
    two callers at once make one change; a later call on a settled invoice is refused by Stripe, so the
    caller marks only what its mirror shows open and reads a refused one back."""
    return call_stripe(
        "invoice.mark_uncollectible",
        lambda: stripe_client().v1.invoices.mark_uncollectible(
            invoice_id, options={"idempotency_key": idempotency_key("invoice-uncollectible", invoice_id)}
        ),
        invoice_id=invoice_id,
    )


def list_invoices(customer_id: str) -> list[stripe.Invoice]:
    """Every invoice of the customer (drafts included), oldest first."""
    page = call_stripe(
        "invoice.list",
        lambda: stripe_client().v1.invoices.list({"customer": customer_id, "limit": 100}),
        customer_id=customer_id,
    )
    return sorted(page.auto_paging_iter(), key=lambda invoice: invoice.created)


def list_all_invoices() -> list[stripe.Invoice]:
    """Every invoice of every customer (drafts included), newest first (pages of 100)."""
    page = call_stripe("invoice.list", lambda: stripe_client().v1.invoices.list({"limit": 100}))
    return list(page.auto_paging_iter())


def invoice_decline(invoice: dict) -> dict:
    """``last_payment_error`` of the invoice's failed attempt: from the payload when it carries it,
    else read from Stripe with the ``expand`` it needs; ``NO_CARD_ON_FILE`` when there was no card to
    charge; {} when Stripe cannot say (the email then gives the general reason)."""
    found = invoice_payment_error(invoice)
    if found or not invoice.get("id"):
        return found
    try:
        fetched = call_stripe(
            "invoice.retrieve",
            lambda: stripe_client().v1.invoices.retrieve(invoice["id"], {"expand": DECLINE_EXPAND}),
            invoice_id=invoice["id"],
        )
    except BillingError:
        return {}
    found = invoice_payment_error(fetched)
    if not found and invoice_awaits_a_card(fetched):
        return dict(NO_CARD_ON_FILE)
    return found


#: The card that paid: through the invoice's payments (``payments.data.payment.payment_intent
#: .payment_method`` is five levels, one more than Stripe expands; listed, it is four).
CARD_EXPAND = ["data.payment.payment_intent.payment_method"]


def invoice_card(invoice: dict) -> dict:
    """``{"brand", "last4"}`` of the card that paid the invoice: from the payload when it carries it,
    else from one list of its payments with the expand it needs; {} when Stripe cannot say."""
    found = payload_card(invoice)
    if found or not invoice.get("id"):
        return found
    params = {"invoice": invoice["id"], "expand": CARD_EXPAND}
    try:
        payments = call_stripe(
            "invoice_payment.list",
            lambda: stripe_client().v1.invoice_payments.list(params),
            invoice_id=invoice["id"],
        )
    except BillingError:
        return {}
    return payments_card(payments.data)
