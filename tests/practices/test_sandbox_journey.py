"""A practice's billing end to end through the Stripe sandbox: our services, its events, our handlers."""

from __future__ import annotations

import pytest

from portal.extensions import db
from portal.gateway.errors import StripeUnavailable
from portal.practices import banners, cards, errors, history, members, subscriptions
from portal.practices.models import Plan, PracticeInvoice
from portal.practices.notifications import DECLINE_REASONS
from portal.practices.status import BillingStatus
from tests.practices.sandbox_helpers import renew_on_card, save_card
from tests.smtp import body_text


@pytest.fixture
def plans(runner):
    result = runner.invoke(args=["billing", "bootstrap"])
    assert result.exit_code == 0, result.output
    again = runner.invoke(args=["billing", "bootstrap"])
    assert "created" not in again.output  # idempotent by lookup key
    return result.output


@pytest.fixture
def practice(owner, plans):
    practice = members.create_practice(owner, "Harbour Dental")
    assert practice.stripe_customer_id
    return practice


def kinds(user):
    return [b["kind"] for b in banners.practice_banners(user)]


def test_bootstrap_output_names_every_lookup_key(plans):
    for key in ("onboarding_fee", "plan_monthly", "plan_semiannual"):
        assert key in plans


def test_subscribe_renew_done(sandbox, active, inbox, owner):
    practice = active
    assert practice.onboarding_paid_at is not None and practice.plan == Plan.MONTHLY
    first_end = practice.current_period_end
    sandbox.advance(days=32)
    inbox.deliver()
    assert practice.billing_status == BillingStatus.DONE
    assert practice.current_period_end > first_end
    invoices = db.session.query(PracticeInvoice).filter_by(practice_id=practice.id).all()
    assert sorted(i.status for i in invoices) == ["paid", "paid"]
    assert kinds(owner) == []


def test_renewal_fails_then_pay_now_after_updating_card(sandbox, active, inbox, owner, mailbox):
    practice = active
    renew_on_card(sandbox, inbox, practice, owner)
    assert practice.billing_status == BillingStatus.PAST_DUE
    assert kinds(owner) == ["payment_failed"]
    assert practice.last_payment_error
    mailbox.wait_for(owner.email, "a payment failed")

    good = save_card(sandbox, practice, "pm_card_mastercard")
    cards.make_default_card(practice, good.stripe_id, owner)
    subscriptions.pay_open_invoice(practice, owner)
    assert practice.billing_status == BillingStatus.DONE
    assert practice.last_payment_error is None
    assert kinds(owner) == []
    inbox.deliver()  # the events of the payment change nothing more
    assert practice.billing_status == BillingStatus.DONE


def test_renewal_decline_reason_is_read_with_the_expand_stripe_needs(sandbox, active, inbox, owner, mailbox):
    """Stripe's ``invoice.payment_failed`` carries no ``payments`` (includable, never in events): the
    reason comes from the invoice read with ``expand=payments.data.payment.payment_intent``
    (https://docs.stripe.com/api/expanding_objects)."""
    practice = active
    renew_on_card(sandbox, inbox, practice, owner)
    assert practice.last_payment_error == DECLINE_REASONS["generic_decline"]  # generic_decline, not a guess
    assert "Your bank declined the payment." in body_text(mailbox.wait_for(owner.email, "a payment failed"))


def test_after_stripes_clock_moved_ahead_pay_now_shows_the_invoice_paid_and_nothing_flaps(
    sandbox, active, inbox, owner
):
    """Objects the portal fetches are stamped with Stripe's clock, like the events: once the sandbox
    clock runs a month ahead of ours, a fresh paid invoice is still newer than the failure event."""
    practice = active
    renew_on_card(sandbox, inbox, practice, owner)
    assert practice.billing_status == BillingStatus.PAST_DUE
    good = save_card(sandbox, practice, "pm_card_mastercard")
    cards.make_default_card(practice, good.stripe_id, owner)
    paid = subscriptions.pay_open_invoice(practice, owner)
    seen = [practice.billing_status]
    db.session.expire_all()
    assert db.session.get(PracticeInvoice, paid.id).status == "paid"
    inbox.deliver()  # the payment's own events, in Stripe's order, change nothing back
    seen.append(practice.billing_status)
    assert seen == [BillingStatus.DONE, BillingStatus.DONE]
    assert db.session.get(PracticeInvoice, paid.id).status == "paid"


def test_pay_now_with_a_declining_card_says_why(sandbox, active, inbox, owner):
    practice = active
    renew_on_card(sandbox, inbox, practice, owner)
    with pytest.raises(errors.PracticeError) as raised:
        subscriptions.pay_open_invoice(practice, owner)
    assert "declined" in raised.value.message.lower()
    assert practice.billing_status == BillingStatus.PAST_DUE


def test_cancel_resume_and_period_end(sandbox, active, inbox, owner, mailbox):
    practice = active
    subscriptions.cancel_subscription(practice, "Moving to another system", owner)
    assert practice.cancel_at_period_end or practice.cancel_at
    assert kinds(owner) == ["cancellation_scheduled"]
    mailbox.wait_for(owner.email, "subscription ends on")
    inbox.deliver()
    assert len(mailbox.to(owner.email)) == 1  # the webhook of our own change sends no second email

    subscriptions.resume_subscription(practice, owner)
    inbox.deliver()
    assert not practice.cancel_at_period_end and practice.cancel_at is None
    assert kinds(owner) == []

    subscriptions.cancel_subscription(practice, "Closing the clinic", owner)
    inbox.deliver()
    sandbox.advance(days=32)
    inbox.deliver()
    assert practice.billing_status == BillingStatus.CANCELLED
    assert kinds(owner) == ["cancelled"]


def test_switch_plan_with_preview(sandbox, active, inbox, owner):
    practice = active
    preview = subscriptions.preview_plan_change(practice, Plan.SEMIANNUAL, owner)
    assert preview.amount_due > 0
    subscriptions.change_plan(practice, Plan.SEMIANNUAL, owner, preview.proration_date)
    inbox.deliver()
    assert practice.plan == Plan.SEMIANNUAL
    assert practice.billing_status == BillingStatus.DONE
    switch_invoice = history.invoice_by_id(practice.latest_invoice_id)
    assert switch_invoice is not None and switch_invoice.amount_paid == preview.amount_due


def test_renewal_needing_authentication(sandbox, active, inbox, owner, mailbox):
    practice = active
    sca = save_card_sca(sandbox, practice)
    cards.make_default_card(practice, sca.stripe_id, owner)
    sandbox.advance(days=32)
    inbox.deliver()
    assert kinds(owner) == ["action_required"]
    [banner] = banners.practice_banners(owner)
    assert banner["invoice_id"] == history.open_invoice(practice).stripe_id
    mailbox.wait_for(owner.email, "confirm a payment")


def save_card_sca(sandbox, practice):
    """A 3-D Secure card: the setup itself needs the challenge, completed as the browser would."""
    from portal.wallet import services as wallet

    secret = wallet.start_card_setup(cards.practice_wallet(practice))
    intent_id = secret.split("_secret_")[0]
    intent = sandbox.client().v1.setup_intents.confirm(
        intent_id, {"payment_method": "pm_card_authenticationRequired"}
    )
    if intent.status == "requires_action":
        sandbox.authenticate(intent_id)
    return wallet.complete_card_setup(cards.practice_wallet(practice), intent_id)


def test_pay_now_of_an_invoice_paid_meanwhile_says_so_and_shows_it_paid(sandbox, active, inbox, owner):
    """Paid at Stripe in the meantime (another tab, Stripe's retry; its events not here yet): the
    person reads a sentence, not Stripe's "Invoice is already paid", and the table says Paid."""
    practice = active
    renew_on_card(sandbox, inbox, practice, owner)
    good = save_card(sandbox, practice, "pm_card_mastercard")
    cards.make_default_card(practice, good.stripe_id, owner)
    invoice = history.open_invoice(practice)
    sandbox.client().v1.invoices.pay(invoice.stripe_id, {"payment_method": good.stripe_id})

    with pytest.raises(errors.PracticeError) as raised:
        subscriptions.pay_open_invoice(practice, owner)
    assert raised.value.message == "This invoice was already paid; nothing more was charged."
    db.session.refresh(invoice)
    assert invoice.status == "paid"


def test_pay_now_marks_the_invoice_paid_in_the_table_at_once(sandbox, active, inbox, owner):
    """The invoice table is drawn from the mirror: "Invoice paid" and a row still "Open" is a lie,
    even when Stripe's clock runs ahead of ours (the sandbox's, after a renewal)."""
    practice = active
    renew_on_card(sandbox, inbox, practice, owner)
    good = save_card(sandbox, practice, "pm_card_mastercard")
    cards.make_default_card(practice, good.stripe_id, owner)
    invoice = history.open_invoice(practice)

    subscriptions.pay_open_invoice(practice, owner)
    db.session.refresh(invoice)
    assert invoice.status == "paid"
    assert [line.status for line in history.invoice_page(practice).items] == ["paid", "paid"]


def test_pay_now_of_a_renewal_needing_authentication_asks_to_confirm(sandbox, active, inbox, owner):
    """Finding 21b-1: Stripe answers Pay now on an invoice whose payment needs 3-D Secure with 402
    ``invoice_payment_intent_requires_action`` (https://docs.stripe.com/error-codes); the clinic reads
    that its bank needs a confirmation, never "The card was declined.", and is led to the bank's
    check (``BankCheckNeeded``: the portal's page for it)."""
    practice = active
    sca = save_card_sca(sandbox, practice)  # 4000 0027 6000 3184: every payment asks again
    cards.make_default_card(practice, sca.stripe_id, owner)
    sandbox.advance(days=32)
    inbox.deliver()
    invoice = history.open_invoice(practice)

    with pytest.raises(errors.BankCheckNeeded) as raised:
        subscriptions.pay_open_invoice(practice, owner)
    assert raised.value.invoice_id == invoice.stripe_id
    assert "bank needs you to confirm this payment" in raised.value.message
    assert practice.last_payment_error is None
    assert practice.action_required_invoice_id == invoice.stripe_id
    assert kinds(owner) == ["action_required"]
    # The owner's newest History line (Stripe's lines carry Stripe's clock, a month ahead here).
    owners_lines = [line for line in history.audit_page(practice).items if line.actor_name == owner.name]
    assert owners_lines[0].action == "pay_now_needs_authentication"


def test_renewal_with_no_card_on_file_asks_for_a_card(sandbox, active, inbox, owner, mailbox):
    """Finding 21b-2: a renewal Stripe cannot charge because no card is on file is not a decline: its
    PaymentIntent waits in ``requires_payment_method`` with no ``last_payment_error``
    (https://docs.stripe.com/payments/paymentintents/lifecycle). The banner, "Last payment", History
    and the email say a card is missing and ask for one."""
    practice = active
    client = sandbox.client()
    for card in client.v1.payment_methods.list({"customer": practice.stripe_customer_id}).data:
        client.v1.payment_methods.detach(card.id)  # e.g. removed in Stripe's dashboard
    sandbox.advance(days=32)
    inbox.deliver()
    assert practice.billing_status == BillingStatus.PAST_DUE
    assert practice.last_payment_error == "No card is on file. Add a card, then pay the invoice."
    [banner] = banners.practice_banners(owner)
    assert banner["kind"] == "payment_failed" and "No card is on file" in banner["reason"]
    assert "No card is on file" in body_text(mailbox.wait_for(owner.email, "a payment failed"))


def test_pay_now_and_a_preview_in_a_429_storm_say_stripe_is_busy(sandbox, active, inbox, owner, caplog):
    """Finding 21b-3: another client eats Stripe's rate limit (forced with the sandbox's control API):
    once the retries are spent, Pay now and a plan-change preview say Stripe is busy and nothing was
    charged (https://docs.stripe.com/rate-limits), and the log keeps Stripe's ``rate_limit`` code."""
    practice = active
    renew_on_card(sandbox, inbox, practice, owner)
    busy = "Stripe is busy right now; nothing was charged. Try again in a minute."
    sandbox.strict_mode(True, per_second=0)
    try:
        with pytest.raises(StripeUnavailable) as paying:
            subscriptions.pay_open_invoice(practice, owner)
        with pytest.raises(StripeUnavailable) as previewing:
            subscriptions.preview_plan_change(practice, Plan.SEMIANNUAL, owner)
    finally:
        sandbox.strict_mode(True, per_second=25)
    assert paying.value.message == busy and previewing.value.message == busy
    assert "op=invoice.pay" in caplog.text and "stripe_code=rate_limit" in caplog.text
    assert history.open_invoice(practice) is not None  # nothing was paid
