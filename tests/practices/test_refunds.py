"""Refunding a practice's paid invoice: a platform admin's credit note through the sandbox (Stripe
makes the refund), refused before any Stripe call when the invoice is unpaid or less is left; the
refunds Stripe tells of (credit notes, a refund made in the dashboard) recorded once whatever the
order of their events, with History saying who refunded and why, and one email per refund."""

from __future__ import annotations

import json
import random

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.gateway import refunds as gateway_refunds
from portal.mail.models import OutboundEmail
from portal.practices import history, members, refunds
from portal.practices.errors import PracticeError
from portal.practices.history_words import describe
from portal.practices.models import BillingAuditEntry, InvoiceRefund, PracticeInvoice
from portal.users.models import Role
from portal.webhooks.models import WebhookEvent
from portal.webhooks.services import Outcome, receive_event
from tests.conftest import both_engines
from tests.factories import make_user

ATTEMPT = "attempt-aaaaaaaaaaaaaaaa"


@pytest.fixture
def practice(owner, plans):
    """A practice with its Stripe customer at the sandbox (``active`` subscribes it)."""
    return members.create_practice(owner, "Refund Dental")


@pytest.fixture
def admin(app):
    return make_user(name="Ada Admin", email="ada@example.com", role=Role.ADMIN)


def first_invoice(practice) -> PracticeInvoice:
    db.session.expire_all()
    return db.session.scalars(
        sa.select(PracticeInvoice).where(
            PracticeInvoice.practice_id == practice.id, PracticeInvoice.status == "paid"
        )
    ).first()


def emails() -> list[OutboundEmail]:
    db.session.expire_all()
    return list(
        db.session.scalars(sa.select(OutboundEmail).where(OutboundEmail.template == "practice_refund"))
    )


def refund_lines(practice) -> list[tuple[str, str]]:
    db.session.expire_all()
    rows = db.session.scalars(
        sa.select(BillingAuditEntry)
        .where(
            BillingAuditEntry.practice_id == practice.id, BillingAuditEntry.action.like("invoice_refunded%")
        )
        .order_by(BillingAuditEntry.id)
    )
    return [
        (describe(r.action, r.detail, r.actor.name if r.actor else None).sentence, r.actor_id) for r in rows
    ]


@both_engines
def test_a_credit_note_refunds_part_of_a_paid_invoice_once(sandbox, plans, active, owner, admin):
    invoice = first_invoice(active)
    assert invoice.amount_paid == 59800

    row = refunds.refund_invoice(
        admin, active.id, invoice.stripe_id, 10000, "order_change", "Billed twice", ATTEMPT
    )

    assert (row.amount, row.refunded_by_id, row.reason) == (
        10000,
        admin.id,
        "Billed twice",
    ) and row.credit_note_id
    note = sandbox.client().v1.credit_notes.retrieve(row.credit_note_id)
    assert (note.amount, note.reason, note.invoice, note.refunds[0].refund) == (
        10000,
        "order_change",
        invoice.stripe_id,
        row.stripe_refund_id,
    )
    at_stripe = sandbox.client().v1.invoices.retrieve(invoice.stripe_id)
    assert at_stripe.amount_paid == 59800 and at_stripe.post_payment_credit_notes_amount == 10000
    [email] = emails()
    assert email.recipient == owner.email and "$100.00" in email.subject and "5-10 days" in email.text_body
    assert refund_lines(active) == [(f"Refunded $100.00 of invoice {invoice.number}: Billed twice", admin.id)]
    [line] = [i for i in history.invoice_page(active, 1).items if i.stripe_id == invoice.stripe_id]
    assert line.refunded == 10000

    again = refunds.refund_invoice(
        admin, active.id, invoice.stripe_id, 10000, "order_change", "Billed twice", ATTEMPT
    )
    assert again.stripe_refund_id == row.stripe_refund_id and len(emails()) == 1
    assert len(sandbox.client().v1.credit_notes.list({"invoice": invoice.stripe_id}).data) == 1

    with pytest.raises(PracticeError) as too_much:
        refunds.refund_invoice(
            admin, active.id, invoice.stripe_id, 49801, "order_change", "More", "attempt-bbbbbbbbbbbbbbbb"
        )
    assert too_much.value.message == (
        f"Refund between $0.01 and $498.00: that is what is left of invoice {invoice.number}."
    )
    db.session.rollback()
    refunds.refund_invoice(
        admin, active.id, invoice.stripe_id, 49800, "duplicate", "The rest", "attempt-cccccccccccccccc"
    )
    assert refunds.left_to_refund(first_invoice(active)) == 0
    with pytest.raises(PracticeError, match="already refunded in full"):
        refunds.refund_invoice(
            admin, active.id, invoice.stripe_id, 1, "duplicate", "Again", "attempt-dddddddddddddddd"
        )


def test_an_unpaid_invoice_is_not_refunded(sandbox, plans, active, admin):
    invoice = first_invoice(active)
    invoice.status = "open"
    db.session.commit()
    with pytest.raises(PracticeError, match="is not paid, so there is nothing to refund"):
        refunds.refund_invoice(admin, active.id, invoice.stripe_id, 100, "order_change", "Why", ATTEMPT)
    assert sandbox.client().v1.credit_notes.list({"invoice": invoice.stripe_id}).data == []


def test_another_practices_invoice_is_not_found(sandbox, plans, active, admin, owner):
    from tests.practices.conftest import make_practice

    other = make_practice(owner, "Elsewhere")
    invoice = first_invoice(active)
    with pytest.raises(PracticeError) as missing:
        refunds.refund_invoice(admin, other.id, invoice.stripe_id, 100, "order_change", "Why", ATTEMPT)
    assert missing.value.status == 404


def events_of(sandbox, customer_id: str, payment_intent: str) -> list[dict]:
    def about(event: dict) -> bool:
        obj = event["data"]["object"]
        if event["type"] == "credit_note.created":
            return obj.get("customer") == customer_id
        return event["type"] in ("charge.refunded", "refund.created", "refund.updated") and (
            obj.get("payment_intent") == payment_intent
        )

    return [event for event in sandbox.events() if about(event)]


@both_engines
def test_credit_notes_and_dashboard_refunds_told_in_any_order_are_recorded_once(
    sandbox, plans, active, admin
):
    invoice = first_invoice(active)
    [intent] = gateway_refunds.invoice_payment_intents(invoice.stripe_id)
    metadata = {"refundedBy": str(admin.id), "reason": "Goodwill", "attempt": ATTEMPT}
    gateway_refunds.create_credit_note(
        invoice.stripe_id, 5000, "order_change", metadata, key=("t", invoice.stripe_id)
    )
    sandbox.client().v1.refunds.create({"payment_intent": intent, "amount": 700})  # in Stripe's dashboard
    events = events_of(sandbox, active.stripe_customer_id, intent)
    assert {e["type"] for e in events} >= {"credit_note.created", "charge.refunded", "refund.created"}

    for seed in range(3):
        for model in (InvoiceRefund, WebhookEvent, OutboundEmail, BillingAuditEntry):
            db.session.execute(sa.delete(model))
        db.session.commit()
        copies = [*events, *events]
        random.Random(seed).shuffle(copies)
        for event in copies:
            assert receive_event(event, json.dumps(event)) in {Outcome.PROCESSED, Outcome.DUPLICATE}

        rows = db.session.scalars(sa.select(InvoiceRefund).order_by(InvoiceRefund.amount)).all()
        assert [(r.amount, r.refunded_by_id, r.reason, bool(r.credit_note_id)) for r in rows] == [
            (700, None, None, False),
            (5000, admin.id, "Goodwill", True),
        ]
        assert len(emails()) == 2
        assert sorted(refund_lines(active)) == sorted(
            [
                (f"Refunded $50.00 of invoice {invoice.number}: Goodwill", admin.id),
                (f"Refunded in Stripe's dashboard: $7.00 of invoice {invoice.number}", None),
            ]
        )
    [line] = [i for i in history.invoice_page(active, 1).items if i.stripe_id == invoice.stripe_id]
    assert line.refunded == 5700


def test_history_says_who_refunded_in_words():
    by_admin = describe("invoice_refunded", "$100.00 of invoice AB-0001: Billed twice", "Ada Admin")
    at_stripe = describe("invoice_refunded_at_stripe", "$7.00 of invoice AB-0001, re_123", None)
    by_portal = describe(
        "invoice_refunded_by_portal", "$598.00 of invoice AB-0002: a second subscription", None
    )
    assert (by_admin.sentence, by_admin.who) == (
        "Refunded $100.00 of invoice AB-0001: Billed twice",
        "Ada Admin",
    )
    assert (at_stripe.sentence, at_stripe.who, at_stripe.ids) == (
        "Refunded in Stripe's dashboard: $7.00 of invoice AB-0001",
        "Stripe",
        ("re_123",),
    )
    assert (by_portal.sentence, by_portal.who) == (
        "Refunded $598.00 of invoice AB-0002: a second subscription",
        "Billing portal",
    )
