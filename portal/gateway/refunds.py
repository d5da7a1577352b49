"""Refunds and credit notes: giving back what a shop order or an invoice charged."""

from __future__ import annotations

import stripe

from portal.gateway.gateway import call_stripe, idempotency_key, stripe_client
from portal.gateway.read_first import remembered
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
            {
                "payment_intent": payment_intent_id,
                "reason": reason,
                # Who and why, for the refund's webhooks (History words it as the portal's).
                "metadata": {"refundedBy": "portal", "reason": "a second subscription Stripe completed"},
            },
            {"idempotency_key": idempotency_key("refund", payment_intent_id)},
        ),
        payment_intent_id=payment_intent_id,
    )


def refund_amount(
    payment_intent_id: str, amount: int, metadata: dict, key: tuple[object, ...]
) -> stripe.Refund:
    """Refund ``amount`` of the PaymentIntent's charge; ``key`` names the attempt (a double submit
    sends the same key, so Stripe refunds once and answers the same refund again)."""
    return call_stripe(
        "refund.create",
        lambda: stripe_client().v1.refunds.create(
            {
                "payment_intent": payment_intent_id,
                "amount": amount,
                "reason": "requested_by_customer",
                "metadata": metadata,
            },
            {"idempotency_key": idempotency_key("refund", *key)},
        ),
        payment_intent_id=payment_intent_id,
    )


def retrieve_refund(refund_id: str) -> stripe.Refund:
    return remembered(
        "refund.retrieve",
        refund_id,
        lambda: call_stripe(
            "refund.retrieve", lambda: stripe_client().v1.refunds.retrieve(refund_id), refund_id=refund_id
        ),
    )


def charge_refunds(charge_id: str) -> list[dict]:
    """Every refund of a charge (a charge's ``refunds`` are not in its events since 2022-11-15)."""

    def read() -> list[dict]:
        page = call_stripe(
            "refund.list",
            lambda: stripe_client().v1.refunds.list({"charge": charge_id, "limit": 100}),
            charge_id=charge_id,
        )
        return [as_dict(refund) for refund in page.auto_paging_iter()]

    return remembered("refund.list", charge_id, read)


def payment_intent_refunds(payment_intent_id: str) -> list[dict]:
    """Every refund of a PaymentIntent's charges (one list call, paged)."""
    page = call_stripe(
        "refund.list",
        lambda: stripe_client().v1.refunds.list({"payment_intent": payment_intent_id, "limit": 100}),
        payment_intent_id=payment_intent_id,
    )
    return [as_dict(refund) for refund in page.auto_paging_iter()]


def invoice_paid_by(payment_intent_id: str) -> str | None:
    """The invoice a PaymentIntent paid, if it paid one (``invoice_payments`` by payment)."""
    page = call_stripe(
        "invoice_payment.list",
        lambda: stripe_client().v1.invoice_payments.list(
            {"payment": {"type": "payment_intent", "payment_intent": payment_intent_id}, "limit": 1}
        ),
        payment_intent_id=payment_intent_id,
    )
    payments = [as_dict(payment) for payment in page.data]
    return payments[0].get("invoice") if payments else None


def create_credit_note(
    invoice_id: str, amount: int, reason: str, metadata: dict, key: tuple[object, ...]
) -> stripe.CreditNote:
    """A credit note that refunds ``amount`` of a paid invoice (Stripe makes the refund)."""
    return call_stripe(
        "credit_note.create",
        lambda: stripe_client().v1.credit_notes.create(
            {
                "invoice": invoice_id,
                "amount": amount,
                "refund_amount": amount,
                "reason": reason,
                "metadata": metadata,
            },
            {"idempotency_key": idempotency_key("credit-note", *key)},
        ),
        invoice_id=invoice_id,
    )


def retrieve_credit_note(credit_note_id: str) -> stripe.CreditNote:
    return remembered(
        "credit_note.retrieve",
        credit_note_id,
        lambda: call_stripe(
            "credit_note.retrieve",
            lambda: stripe_client().v1.credit_notes.retrieve(credit_note_id),
            credit_note_id=credit_note_id,
        ),
    )


def invoice_credit_notes(invoice_id: str) -> list[dict]:
    page = call_stripe(
        "credit_note.list",
        lambda: stripe_client().v1.credit_notes.list({"invoice": invoice_id, "limit": 100}),
        invoice_id=invoice_id,
    )
    return [as_dict(note) for note in page.auto_paging_iter()]
