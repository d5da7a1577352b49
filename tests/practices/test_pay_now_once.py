"""Finding 13 of issue 14: "Pay now" posted three times at once charges once and says "paid" once.

Every billing form carries the key it was rendered with; the posts of one form make one
Stripe call and one History line, and each gets the first post's answer.
"""

from __future__ import annotations

import sqlalchemy as sa

from portal.extensions import db
from portal.practices import cards, history, members
from portal.practices.models import BillingAuditEntry, Plan
from portal.practices.status import BillingStatus
from tests.practices.sandbox_helpers import Inbox, renew_on_card, save_card, subscribe_directly
from tests.reliability.live import Visitor, serve


def past_due_practice(sandbox, owner, runner):
    """Subscribed, a renewal declined, a working card made the default: "Pay now" is offered."""
    assert runner.invoke(args=["billing", "bootstrap"]).exit_code == 0
    practice = members.create_practice(owner, "Pay Once Clinic")
    inbox = Inbox(sandbox, practice.stripe_customer_id)
    save_card(sandbox, practice)
    subscribe_directly(sandbox, practice, Plan.MONTHLY)
    inbox.deliver()
    renew_on_card(sandbox, inbox, practice, owner)
    assert practice.billing_status == BillingStatus.PAST_DUE
    good = save_card(sandbox, practice, "pm_card_mastercard")
    cards.make_default_card(practice, good.stripe_id, owner)
    return practice, inbox


def audit_count(practice, action: str) -> int:
    db.session.rollback()
    return db.session.scalar(
        sa.select(sa.func.count())
        .select_from(BillingAuditEntry)
        .where(BillingAuditEntry.practice_id == practice.id, BillingAuditEntry.action == action)
    )


def test_pay_now_three_times_at_once_pays_once(app, sandbox, owner, runner):
    practice, _ = past_due_practice(sandbox, owner, runner)
    invoice_id = history.open_invoice(practice).stripe_id
    billing = f"/practices/{practice.id}/billing"
    with serve(app) as base:
        visitor = Visitor(base, owner.email)
        form = visitor.form(billing, "/billing/pay")
        with app.extensions["stripe_call_counter"].watch() as calls:
            responses = visitor.post_at_once(f"{billing}/pay", form, 3)

    assert [r.status_code for r in responses] == [200] * 3
    assert all("Invoice paid. Thank you!" in r.text for r in responses), [r.text[:300] for r in responses]
    assert calls.count("invoice.pay") == 1
    assert audit_count(practice, "paid_now") == 1
    payment_intents = sandbox.client().v1.invoice_payments.list({"invoice": invoice_id}).data
    charges = [
        charge
        for payment in payment_intents
        for charge in sandbox.client()
        .v1.charges.list({"payment_intent": payment.payment.payment_intent})
        .data
        if charge.paid
    ]
    assert len(charges) == 1
