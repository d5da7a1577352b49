"""Contract: ``/v1/credit_notes`` behaves as Stripe's does.

A credit note on a paid invoice refunds (``refund_amount``: Stripe makes the refund, ``charge.refunded``
and ``refund.created`` follow ``credit_note.created``), never more than was paid; the invoice's
``amount_paid`` stays and ``post_payment_credit_notes_amount`` adds the notes up. An unpaid invoice
cannot be refunded; preview saves nothing; only a note that gave no money back can be voided.
"""

from __future__ import annotations

import pytest
import requests
import stripe

from stripe_sandbox.testing import SandboxServer
from tests.sandbox.conftest import Receiver, wait_until
from tests.sandbox.test_expire_and_refund import _error, _paid_invoice_intent, prices  # noqa: F401


def _paid_invoice(client: stripe.StripeClient, prices: dict[str, str]) -> stripe.Invoice:  # noqa: F811
    intent_id, _ = _paid_invoice_intent(client, prices)
    payment = client.v1.invoice_payments.list(
        {"payment": {"type": "payment_intent", "payment_intent": intent_id}}
    )
    return client.v1.invoices.retrieve(payment.data[0].invoice)


def _open_invoice(client: stripe.StripeClient) -> stripe.Invoice:
    customer = client.v1.customers.create({"email": "open@clinic.test"})
    client.v1.invoice_items.create({"customer": customer.id, "amount": 5000, "currency": "usd"})
    invoice = client.v1.invoices.create(
        {
            "customer": customer.id,
            "collection_method": "send_invoice",
            "days_until_due": 30,
            "pending_invoice_items_behavior": "include",
        }
    )
    return client.v1.invoices.finalize_invoice(invoice.id)


def test_a_refund_credit_note_refunds_the_charge_and_keeps_amount_paid(
    sandbox: SandboxServer,
    client: stripe.StripeClient,
    receiver: Receiver,
    prices: dict[str, str],  # noqa: F811
) -> None:
    invoice = _paid_invoice(client, prices)
    note = client.v1.credit_notes.create(
        {
            "invoice": invoice.id,
            "amount": 2500,
            "refund_amount": 2500,
            "reason": "order_change",
            "metadata": {"by": "7"},
        }
    )

    assert note.object == "credit_note" and note.id.startswith("cn_") and note.status == "issued"
    assert (note.amount, note.type, note.reason, note.invoice, note.customer) == (
        2500,
        "post_payment",
        "order_change",
        invoice.id,
        invoice.customer,
    )
    assert note.number.endswith("-CN-01") and note.pdf.endswith(f"/credit_notes/{note.id}/pdf")
    pdf = requests.get(note.pdf, timeout=5)
    assert pdf.status_code == 200 and pdf.headers["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF-") and note.number.encode() in pdf.content
    assert note.metadata["by"] == "7" and note.post_payment_amount == 2500 and note.pre_payment_amount == 0
    assert len(note.refunds) == 1 and note.refunds[0].amount_refunded == 2500
    refund = client.v1.refunds.retrieve(str(note.refunds[0].refund))
    assert refund.amount == 2500 and refund.status == "succeeded"
    after = client.v1.invoices.retrieve(invoice.id)
    assert after.amount_paid == invoice.amount_paid and after.post_payment_credit_notes_amount == 2500
    assert client.v1.credit_notes.retrieve(note.id).id == note.id
    assert [n.id for n in client.v1.credit_notes.list({"invoice": invoice.id}).data] == [note.id]
    assert wait_until(lambda: receiver.of_type("credit_note.created") and receiver.of_type("refund.created"))
    assert receiver.of_type("credit_note.created")[-1]["data"]["object"]["id"] == note.id
    charged = receiver.of_type("charge.refunded")[-1]["data"]["object"]
    assert charged["amount_refunded"] == 2500 and charged["refunded"] is False


def test_a_credit_note_never_refunds_more_than_was_paid(
    sandbox: SandboxServer,
    client: stripe.StripeClient,
    prices: dict[str, str],  # noqa: F811
) -> None:
    invoice = _paid_invoice(client, prices)
    too_much = _error(
        lambda: client.v1.credit_notes.create(
            {
                "invoice": invoice.id,
                "amount": invoice.amount_paid + 1,
                "refund_amount": invoice.amount_paid + 1,
            }
        )
    )
    assert too_much.param == "amount" and too_much.code == "amount_too_large"
    mismatch = _error(
        lambda: client.v1.credit_notes.create({"invoice": invoice.id, "amount": 100, "refund_amount": 50})
    )
    assert "must equal the credit note amount" in mismatch.user_message
    client.v1.credit_notes.create(
        {"invoice": invoice.id, "amount": invoice.amount_paid, "refund_amount": invoice.amount_paid}
    )
    again = _error(
        lambda: client.v1.credit_notes.create({"invoice": invoice.id, "amount": 1, "refund_amount": 1})
    )
    assert again.code == "amount_too_large"
    negative = _error(lambda: client.v1.credit_notes.create({"invoice": invoice.id, "amount": -5}))
    assert negative.param == "amount"
    assert client.v1.invoices.retrieve(invoice.id).post_payment_credit_notes_amount == invoice.amount_paid


def test_an_unpaid_invoice_cannot_be_refunded_but_can_be_credited(
    sandbox: SandboxServer, client: stripe.StripeClient
) -> None:
    invoice = _open_invoice(client)
    assert invoice.status == "open"
    refused = _error(
        lambda: client.v1.credit_notes.create({"invoice": invoice.id, "amount": 1000, "refund_amount": 1000})
    )
    assert refused.param == "refund_amount" and "has not been paid" in refused.user_message

    preview = client.v1.credit_notes.preview({"invoice": invoice.id, "amount": 1000})
    assert preview.type == "pre_payment" and preview.amount == 1000
    assert client.v1.credit_notes.list({"invoice": invoice.id}).data == []

    note = client.v1.credit_notes.create({"invoice": invoice.id, "amount": 1000, "reason": "duplicate"})
    lowered = client.v1.invoices.retrieve(invoice.id)
    assert lowered.amount_remaining == invoice.amount_remaining - 1000
    assert lowered.pre_payment_credit_notes_amount == 1000
    voided = client.v1.credit_notes.void_credit_note(note.id)
    assert voided.status == "void" and voided.voided_at
    assert client.v1.invoices.retrieve(invoice.id).amount_remaining == invoice.amount_remaining
    again = _error(lambda: client.v1.credit_notes.void_credit_note(note.id))
    assert "already been voided" in again.user_message
    with pytest.raises(stripe.InvalidRequestError) as missing:
        client.v1.credit_notes.retrieve("cn_nope")
    assert missing.value.http_status == 404


def test_a_refund_credit_note_cannot_be_voided(
    sandbox: SandboxServer,
    client: stripe.StripeClient,
    prices: dict[str, str],  # noqa: F811
) -> None:
    invoice = _paid_invoice(client, prices)
    note = client.v1.credit_notes.create({"invoice": invoice.id, "amount": 100, "refund_amount": 100})
    refused = _error(lambda: client.v1.credit_notes.void_credit_note(note.id))
    assert "refunded a payment" in refused.user_message
    assert client.v1.credit_notes.retrieve(note.id).status == "issued"


def test_refund_events_are_as_stripes(
    sandbox: SandboxServer,
    client: stripe.StripeClient,
    receiver: Receiver,
    prices: dict[str, str],  # noqa: F811
) -> None:
    """``charge.refunded`` carries the charge without its refunds (includable since 2022-11-15),
    ``refund.created`` the refund; updating a refund's metadata sends ``refund.updated``."""
    intent_id, _ = _paid_invoice_intent(client, prices)
    refund = client.v1.refunds.create({"payment_intent": intent_id, "amount": 100})
    assert wait_until(lambda: receiver.of_type("charge.refunded") and receiver.of_type("refund.created"))
    charge = receiver.of_type("charge.refunded")[-1]["data"]["object"]
    assert "refunds" not in charge and charge["amount_refunded"] == 100
    assert receiver.of_type("refund.created")[-1]["data"]["object"]["id"] == refund.id
    assert "refunds" not in client.v1.charges.retrieve(str(refund.charge)).to_dict()
    expanded = client.v1.charges.retrieve(str(refund.charge), {"expand": ["refunds"]})
    assert [r.id for r in expanded.refunds.data] == [refund.id]

    client.v1.refunds.update(refund.id, {"metadata": {"note": "goodwill"}})
    assert wait_until(lambda: receiver.of_type("refund.updated"))
    updated = receiver.of_type("refund.updated")[-1]["data"]
    assert updated["object"]["metadata"] == {"note": "goodwill"} and updated["previous_attributes"] == {
        "metadata": {}
    }
