"""Issue 15: every paid practice invoice sends one receipt to the billing email, over real SMTP.

The first payment (the onboarding fee with the first period), a renewal, Pay now after a failed
renewal and a plan switch's proration each send one; Stripe's paid events delivered twice, both
kinds, shuffled and re-sent under new ids still send one per invoice; an invoice that charged
nothing sends none.
"""

from __future__ import annotations

import copy
import json
import random

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.formatting import format_date, format_money
from portal.practices import history, members, subscriptions
from portal.practices.history_words import describe
from portal.practices.models import BillingAuditEntry, MemberRole, Plan
from portal.practices.status import BillingStatus
from portal.webhooks.services import Outcome, receive_event
from tests import stripe_payloads as p
from tests.conftest import both_engines
from tests.factories import PracticeMemberFactory, make_user
from tests.practices.conftest import make_practice
from tests.practices.sandbox_helpers import save_card, subscribe_directly
from tests.practices.test_mirror import subscribed
from tests.practices.test_pay_now_once import past_due_practice
from tests.smtp import body_text

SUBJECT = "receipt for invoice"


def receipts(mailbox, address: str) -> list:
    return [m for m in mailbox.to(address) if SUBJECT in str(m["Subject"])]


def all_receipts(mailbox) -> list:
    return [m for m in mailbox.messages if SUBJECT in str(m["Subject"])]


def html_of(message) -> str:
    return message.get_body(preferencelist=("html",)).get_content()


def paid_invoices(sandbox, practice) -> list:
    """The practice's invoices Stripe holds as paid with money taken, oldest first."""
    listed = sandbox.client().v1.invoices.list({"customer": practice.stripe_customer_id, "limit": 100})
    return sorted(
        (i for i in listed.data if i.status == "paid" and i.amount_paid > 0), key=lambda i: i.created
    )


def period_words(line) -> str:
    return f"{format_date(line.period.start)} to {format_date(line.period.end)}"


def receipt_history(practice) -> list[str]:
    return list(
        db.session.scalars(
            sa.select(BillingAuditEntry.detail).where(
                BillingAuditEntry.practice_id == practice.id, BillingAuditEntry.action == "receipt_sent"
            )
        )
    )


@pytest.fixture
def practice(owner, plans):
    return members.create_practice(owner, "Receipt Dental")


@pytest.fixture
def admin(practice):
    """A second billing manager: receipts are one per invoice, not one per manager."""
    admin = make_user(email="adele-receipts@example.com")
    PracticeMemberFactory(practice=practice, user=admin, role=MemberRole.ADMIN)
    return admin


def test_first_payment_then_a_renewal_each_send_one_receipt_with_what_was_paid(
    sandbox, practice, inbox, owner, admin, mailbox
):
    save_card(sandbox, practice)
    subscribe_directly(sandbox, practice)
    inbox.deliver()
    assert practice.billing_status == BillingStatus.DONE
    [first] = paid_invoices(sandbox, practice)
    [message] = receipts(mailbox, owner.email)
    assert receipts(mailbox, admin.email) == []
    text, html = body_text(message), html_of(message)
    assert str(message["Subject"]) == f"Receipt Dental: receipt for invoice {first.number}"
    plan_line = next(line for line in first.lines.data if line.parent.type == "subscription_item_details")
    for body in (text, html):
        assert "Receipt Dental" in body and first.number in body
        assert "Onboarding fee (one time)" in body
        assert format_money(first.amount_paid, "usd") == "$598.00" and "$598.00" in body
        assert period_words(plan_line) in body
        assert "Visa ending in 4242" in body
        assert first.hosted_invoice_url in body and first.invoice_pdf in body
    assert receipt_history(practice) == [f"{first.id} to {owner.email}"]
    line = describe("receipt_sent", receipt_history(practice)[0], None)
    assert (line.sentence, line.who, line.ids) == (
        f"Receipt sent to {owner.email}",
        "Billing portal",
        (first.id,),
    )

    sandbox.advance(days=32)
    inbox.deliver()
    first_again, renewal = paid_invoices(sandbox, practice)
    assert first_again.id == first.id
    assert len(receipts(mailbox, owner.email)) == 2 and receipts(mailbox, admin.email) == []
    renewal_receipt = next(m for m in receipts(mailbox, owner.email) if renewal.number in str(m["Subject"]))
    text = body_text(renewal_receipt)
    assert "Total paid: $99.00" in text and "Onboarding fee" not in text
    assert period_words(renewal.lines.data[0]) in text
    assert f"Period: {period_words(renewal.lines.data[0])}" in text


def test_pay_now_after_a_failed_renewal_sends_one_receipt_naming_the_card_it_charged(
    app, sandbox, owner, runner, mailbox
):
    practice, inbox = past_due_practice(sandbox, owner, runner)
    assert len(receipts(mailbox, owner.email)) == 1  # the first payment; the failed renewal sends none
    overdue = history.open_invoice(practice)
    subscriptions.pay_open_invoice(practice, owner)
    assert len(receipts(mailbox, owner.email)) == 1  # Pay now's own answer is not Stripe's word yet
    inbox.deliver()
    inbox.deliver()
    paid = receipts(mailbox, owner.email)
    assert len(paid) == 2
    text = body_text(paid[-1])
    assert overdue.number in str(paid[-1]["Subject"])
    assert "Mastercard ending in 4444" in text and "Total paid: $99.00" in text


def test_a_plan_switch_sends_one_receipt_for_its_proration(sandbox, practice, inbox, owner, mailbox):
    save_card(sandbox, practice)
    subscribe_directly(sandbox, practice)
    inbox.deliver()
    preview = subscriptions.preview_plan_change(practice, Plan.SEMIANNUAL, owner)
    subscriptions.change_plan(practice, Plan.SEMIANNUAL, owner, preview.proration_date)
    inbox.deliver()
    paid = paid_invoices(sandbox, practice)
    [switch] = [invoice for invoice in paid if invoice.billing_reason == "subscription_update"]
    assert len(paid) == 2 and switch.amount_paid == preview.amount_due
    assert len(receipts(mailbox, owner.email)) == 2
    message = next(m for m in receipts(mailbox, owner.email) if switch.number in str(m["Subject"]))
    text = body_text(message)
    assert f"Total paid: {format_money(switch.amount_paid, 'usd')}" in text
    assert "Visa ending in 4242" in text
    for line in switch.lines.data:  # the credit for the unused month and the charge for the rest
        assert f"{format_money(line.amount, 'usd')}" in text


@both_engines
def test_paid_events_twice_both_kinds_shuffled_and_under_new_ids_send_one_receipt_per_invoice(
    app, client, sandbox, practice, owner, mailbox, engine
):
    """Stripe's own events, through the signed endpoint, in a shuffled order: the first payment and
    a renewal, each ``invoice.paid`` and ``invoice.payment_succeeded`` delivered twice, and re-sent
    once more as new events (a replay from the Dashboard has a new id)."""
    start = {event["id"] for event in sandbox.events()}
    save_card(sandbox, practice)
    subscribe_directly(sandbox, practice)
    sandbox.advance(days=32)
    events = [
        event
        for event in sandbox.events()
        if event["id"] not in start
        and event["data"]["object"].get("customer") == practice.stripe_customer_id
        and event["type"] in ("invoice.paid", "invoice.payment_succeeded")
    ]
    assert len(events) == 4
    resent = [{**copy.deepcopy(event), "id": f"{event['id']}_resent"} for event in events]
    deliveries = events * 2 + resent
    random.Random(15).shuffle(deliveries)
    for event in deliveries:
        assert p.deliver(client, event, secret=p.current_secret(app)).status_code == 200

    paid = paid_invoices(sandbox, practice)
    assert len(paid) == 2
    sent = all_receipts(mailbox)
    assert sorted(str(m["Subject"]).rsplit(" ", 1)[1] for m in sent) == sorted(i.number for i in paid)
    assert all(m["To"] == owner.email for m in sent)
    assert sorted(receipt_history(practice)) == sorted(f"{i.id} to {owner.email}" for i in paid)


def test_an_invoice_that_charged_nothing_sends_no_receipt(app, client, owner, mailbox):
    practice = make_practice(owner, name="Credited Clinic", customer_id="cus_credited")
    subscribed(practice)
    credited = p.invoice(
        practice.id, "cus_credited", id="in_credited", amount=0, created=p.T0 + 30 * p.DAY, number="PB-0002"
    )
    charged = p.invoice(
        practice.id, "cus_credited", id="in_charged", created=p.T0 + 60 * p.DAY, number="PB-0003"
    )
    for invoice in (credited, charged):
        event = p.event("invoice.paid", invoice, invoice["created"])
        assert p.deliver(client, event, secret=p.current_secret(app)).status_code == 200
    [message] = all_receipts(mailbox)
    assert str(message["Subject"]).endswith("receipt for invoice PB-0003")


def test_the_receipt_goes_to_the_billing_email_once_set(app, owner, mailbox):
    """Receipts go to the billing email saved in the billing details, not to the owner."""
    practice = make_practice(owner, name="Billing Email Clinic", customer_id="cus_billing_email")
    subscribed(practice)
    practice.billing_email = "accounts@billing-email.example"
    event = p.event("invoice.paid", p.invoice(practice.id, "cus_billing_email", id="in_be"), p.T0 + p.DAY)
    assert receive_event(event, json.dumps(event)) is Outcome.PROCESSED
    [message] = all_receipts(mailbox)
    assert message["To"] == "accounts@billing-email.example"
    assert receipts(mailbox, owner.email) == []
