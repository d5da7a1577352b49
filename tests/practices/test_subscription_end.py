"""The end of a subscription, through the Stripe sandbox: Stripe gives up on a renewal, or a manager's
cancellation takes effect. One email per ended subscription (however often the end is told), the
unpaid invoice as Stripe leaves it (open, or uncollectible) with a sentence why, and "Subscribe
again" without a second onboarding fee."""

from __future__ import annotations

import copy
import re

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.mail.models import OutboundEmail
from portal.practices import cards, checkout, history, members, subscriptions
from portal.practices.models import Plan, PracticeInvoice
from portal.practices.status import BillingStatus
from portal.webhooks.handlers import subscription as subscription_events
from stripe_sandbox.billing.common import DEFAULTS
from tests.practices.conftest import login
from tests.practices.sandbox_helpers import renew_on_card, save_card
from tests.smtp import body_text

ENDED = "practice_subscription_ended"


@pytest.fixture
def settings(sandbox):
    """One retry a day after the first failure, then what the test sets; Stripe's defaults after."""
    yield lambda **values: sandbox.settings(retry_schedule="custom", retry_days=[1], **values)
    sandbox.settings(**DEFAULTS)


@pytest.fixture
def practice(owner, plans):
    return members.create_practice(owner, "Harbour Dental")


def ended_emails(practice) -> list[OutboundEmail]:
    return list(db.session.scalars(sa.select(OutboundEmail).where(OutboundEmail.template == ENDED)))


def give_up_on_renewal(sandbox, inbox, practice, owner) -> None:
    """The renewal fails on the card, the one retry a day later too: Stripe's settings then act."""
    renew_on_card(sandbox, inbox, practice, owner)
    sandbox.advance(days=2)
    inbox.deliver()


def renewal_invoice(practice) -> PracticeInvoice:
    return db.session.scalar(
        sa.select(PracticeInvoice)
        .where(PracticeInvoice.practice_id == practice.id)
        .order_by(PracticeInvoice.created.desc())
        .limit(1)
    )


NOT_COLLECTED = (
    "Not collected: the subscription ended after the last payment failed. Nothing more will be charged."
)


def pay_buttons(page: str) -> list[str]:
    """The invoices the page offers to pay (each row's Pay form names its invoice)."""
    return re.findall(r'name="invoice" value="([^"]+)"', page)


@pytest.mark.parametrize("mark_uncollectible", [True, False], ids=["stripe-marks-it", "portal-marks-it"])
def test_stripe_gives_up_one_email_and_the_invoice_not_collected(
    sandbox, settings, active, inbox, owner, auth, mailbox, mark_uncollectible
):
    """Whether Stripe's settings mark the invoice uncollectible or leave it open, it ends
    uncollectible at Stripe, with a sentence why and nothing to pay."""
    settings(after_failures="canceled", mark_uncollectible=mark_uncollectible)
    practice = active
    give_up_on_renewal(sandbox, inbox, practice, owner)
    inbox.deliver()  # the portal's own marking, told back by Stripe's events

    assert practice.billing_status == BillingStatus.CANCELLED and not practice.has_access
    invoice = renewal_invoice(practice)
    assert invoice.status == "uncollectible"
    assert sandbox.client().v1.invoices.retrieve(invoice.stripe_id).status == "uncollectible"
    message = mailbox.wait_for(owner.email, "the subscription has ended")
    text = body_text(message)
    assert "Its payments failed and Stripe stopped retrying." in text
    assert "The last decline: " in text and "Pay now" not in text
    assert f"/practices/{practice.id}/billing" in text and "onboarding fee is not charged again" in text
    page = login(auth, owner).get(f"/practices/{practice.id}/billing").get_data(as_text=True)
    assert NOT_COLLECTED in page and 'data-invoice-status="uncollectible"' in page
    assert pay_buttons(page) == [] and "data-open-invoices" not in page
    assert "Subscribe again" in page and "Cancel subscription" not in page
    assert [e.recipient for e in ended_emails(practice)] == [owner.email]


def give_up_while_stripe_is_down(sandbox, inbox, practice, owner) -> None:
    """Stripe gives up on the renewal (one retry a day later) and is down while its events arrive."""
    card = save_card(sandbox, practice, "pm_card_chargeCustomerFail")
    cards.make_default_card(practice, card.stripe_id, owner)
    sandbox.advance(days=32)
    sandbox.advance(days=2)  # the one retry, a day after the renewal failed
    with sandbox.outage():
        inbox.deliver()
    assert practice.billing_status == BillingStatus.CANCELLED
    assert renewal_invoice(practice).status == "open"  # Stripe did not answer: left for the retry


def test_an_outage_leaves_it_open_but_not_payable_and_duplicate_ends_mark_it_once(
    app, sandbox, settings, active, inbox, owner, auth, runner
):
    settings(after_failures="canceled")
    practice = active
    give_up_while_stripe_is_down(sandbox, inbox, practice, owner)
    page = login(auth, owner).get(f"/practices/{practice.id}/billing").get_data(as_text=True)
    assert pay_buttons(page) == [] and "data-open-invoices" not in page
    assert 'data-end-note="open"' in page and "Nothing more will be charged." in page

    [deleted] = [
        e
        for e in sandbox.events("customer.subscription.deleted")
        if e["data"]["object"]["id"] == practice.stripe_subscription_id
    ]
    with app.extensions["stripe_call_counter"].watch() as calls:
        for copy_number in range(3):  # Stripe sent it three times
            subscription_events.changed({**copy.deepcopy(deleted), "id": f"{deleted['id']}_{copy_number}"})
            db.session.commit()
    assert calls.count("invoice.mark_uncollectible") == 1
    assert renewal_invoice(practice).status == "uncollectible"
    result = runner.invoke(args=["billing", "retry"])
    assert "settled 0, still open 0" in result.output  # nothing left to do


def test_billing_retry_settles_what_an_outage_left_open(sandbox, settings, active, inbox, owner, runner):
    settings(after_failures="canceled")
    practice = active
    give_up_while_stripe_is_down(sandbox, inbox, practice, owner)
    result = runner.invoke(args=["billing", "retry"])
    assert "settled 1, still open 0" in result.output, result.output
    db.session.expire_all()
    invoice = renewal_invoice(practice)
    assert invoice.status == "uncollectible"
    assert sandbox.client().v1.invoices.retrieve(invoice.stripe_id).status == "uncollectible"


def test_the_end_told_twice_late_or_replayed_is_one_email(sandbox, settings, active, inbox, owner):
    settings(after_failures="canceled")
    practice = active
    give_up_on_renewal(sandbox, inbox, practice, owner)
    events = [e for e in sandbox.events() if e["data"]["object"].get("id") == practice.stripe_subscription_id]
    deleted = next(e for e in events if e["type"] == "customer.subscription.deleted")
    older = [e for e in events if e["type"] == "customer.subscription.updated"]

    duplicate = {**copy.deepcopy(deleted), "id": deleted["id"] + "_again"}  # Stripe sent it twice
    for event in (deleted, duplicate, *reversed(older), deleted):  # replayed, and the past arriving late
        subscription_events.changed(copy.deepcopy(event))
        db.session.commit()

    assert practice.billing_status == BillingStatus.CANCELLED
    assert len(ended_emails(practice)) == 1


def test_unpaid_after_the_last_retry_ends_it_too(sandbox, settings, active, inbox, owner):
    settings(after_failures="unpaid")
    practice = active
    give_up_on_renewal(sandbox, inbox, practice, owner)
    assert practice.subscription_status == "unpaid" and practice.billing_status == BillingStatus.CANCELLED
    assert len(ended_emails(practice)) == 1
    assert "Its payments failed and Stripe stopped retrying." in ended_emails(practice)[0].text_body


def test_a_cancellation_taking_effect_says_who_and_why(sandbox, active, inbox, owner, mailbox):
    practice = active
    subscriptions.cancel_subscription(practice, "We are merging with another clinic", owner)
    inbox.deliver()
    assert ended_emails(practice) == []  # scheduled, not ended: the practice keeps its access
    assert practice.has_access and practice.access_until == practice.current_period_end
    sandbox.advance(days=32)
    inbox.deliver()
    assert practice.billing_status == BillingStatus.CANCELLED
    text = body_text(mailbox.wait_for(owner.email, "the subscription has ended"))
    reason = "“We are merging with another clinic”."
    assert f"It was cancelled by {owner.name}. The reason given: {reason}" in text
    assert len(ended_emails(practice)) == 1


def test_subscribe_again_charges_the_plan_only_and_keeps_the_history(sandbox, app, active, inbox, owner):
    practice = active
    subscriptions.cancel_subscription(practice, "Closing for the winter", owner)
    sandbox.advance(days=32)
    inbox.deliver()
    assert practice.billing_status == BillingStatus.CANCELLED and not practice.subscription_live
    lines_before = history.audit_page(practice, 1, per_page=100).items

    with app.test_request_context():
        checkout.start_checkout(practice, Plan.SEMIANNUAL, owner)
    session = sandbox.client().v1.checkout.sessions.list({"customer": practice.stripe_customer_id}).data[0]
    items = sandbox.client().v1.checkout.sessions.line_items.list(session.id).data
    assert [item.price.lookup_key for item in items] == ["plan_semiannual"]  # no second onboarding fee
    assert session.metadata["onboarding"] == "0"
    kept = history.audit_page(practice, 1, per_page=100).items
    assert set(lines_before) <= set(kept)  # the history stays
