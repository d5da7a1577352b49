"""Refunds: giving back what an invoice charged (a duplicate subscription's payments)."""

from __future__ import annotations

import stripe

from portal.gateway.gateway import call_stripe, idempotency_key, stripe_client
from portal.gateway.shapes import as_dict


def invoice_payment_intents(invoice_id: str) -> list[str]:
    """The PaymentIntents that paid the invoice (``invoice_payments`` with status paid)."""
    page = call_stripe(
        "invoice_payment.list",
        lambda: stripe_client().v1.invoice_payments.list({"invoice": invoice_id, "limit": 100}),
        invoice_id=invoice_id,
    )
    found = []
    for payment in map(as_dict, page.auto_paging_iter()):
        details = payment.get("payment") or {}
        if payment.get("status") == "paid" and details.get("payment_intent"):
            found.append(details["payment_intent"])
    return found


def refund_payment_intent(payment_intent_id: str, reason: str = "duplicate") -> stripe.Refund:
    """Refund all of what is left of the PaymentIntent's charge (once: the key is the intent's id)."""
    return call_stripe(
        "refund.create",
        lambda: stripe_client().v1.refunds.create(
            {"payment_intent": payment_intent_id, "reason": reason},
            {"idempotency_key": idempotency_key("refund", payment_intent_id)},
        ),
        payment_intent_id=payment_intent_id,
    )
