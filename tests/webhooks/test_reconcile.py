"""``flask billing reconcile [--fix]`` on the sandbox: drift found, repaired once, events caught up."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.practices import members
from portal.practices.models import Practice, PracticeInvoice
from portal.practices.status import BillingStatus
from portal.wallet.models import PaymentMethod
from portal.webhooks.models import WebhookEvent
from portal.webhooks.services import receive_event
from tests.conftest import both_engines
from tests.factories import PaymentMethodFactory
from tests.practices.sandbox_helpers import save_card, subscribe_directly


@pytest.fixture
def since(sandbox) -> int:
    """Only this test's events: the session's sandbox holds every other test's too."""
    return sandbox.now()


@pytest.fixture
def owner(user_factory):
    return user_factory(name="Olive Owner")


@pytest.fixture
def practice(runner, owner, sandbox, since):
    assert runner.invoke(args=["billing", "bootstrap"]).exit_code == 0
    practice = members.create_practice(owner, "Reconciled Clinic")
    save_card(sandbox, practice)
    subscribe_directly(sandbox, practice)
    deliver_all(sandbox, since)
    assert practice.billing_status == BillingStatus.DONE
    return practice


def deliver_all(sandbox, since: int) -> None:
    """Every sandbox event since ``since`` through the real inbox, in order."""
    for event in sandbox.events():
        if event["created"] >= since:
            receive_event(event, json.dumps(event))


def reconcile(runner, since: int, *extra: str):
    result = runner.invoke(args=["billing", "reconcile", "--since", str(since), *extra])
    assert result.exit_code == 0, result.output
    return result.output


def state(practice_id: int) -> tuple:
    db.session.expire_all()
    practice = db.session.get(Practice, practice_id)
    cards = db.session.execute(
        sa.select(PaymentMethod.stripe_id, PaymentMethod.is_default).order_by(PaymentMethod.stripe_id)
    ).all()
    invoices = db.session.execute(
        sa.select(PracticeInvoice.stripe_id, PracticeInvoice.status).order_by(PracticeInvoice.stripe_id)
    ).all()
    return (
        practice.billing_status,
        practice.subscription_status,
        practice.cancel_at_period_end,
        practice.current_period_end,
        tuple(cards),
        tuple(invoices),
    )


def test_in_step_reports_no_drift(runner, practice, since):
    assert "no drift" in reconcile(runner, since)


@both_engines
def test_drift_is_reported_then_repaired_once(runner, practice, since, sandbox):
    good = state(practice.id)
    card = db.session.scalar(sa.select(PaymentMethod).where(PaymentMethod.is_default.is_(True)))
    invoice = db.session.scalar(sa.select(PracticeInvoice))
    practice.subscription_status = "past_due"
    practice.refresh_billing_status()
    practice.cancel_at_period_end = True
    practice.current_period_end = None
    invoice.status = "open"
    invoice_id, card_id = invoice.stripe_id, card.stripe_id
    db.session.delete(card)
    db.session.commit()
    drifted = state(practice.id)

    output = reconcile(runner, since)
    assert "billing_status: local PAST_DUE != stripe DONE" in output
    assert "subscription_status: local 'past_due' != stripe 'active'" in output
    assert "cancel_at_period_end: local True != stripe False" in output
    assert "current_period_end: local None != stripe" in output
    assert f"invoice {invoice_id}: local ('open'" in output
    assert f"card {card_id}: local None != stripe ('visa 4242" in output
    assert "Run with --fix" in output
    assert state(practice.id) == drifted  # a report only

    output = reconcile(runner, since, "--fix")
    assert "repaired" in output
    assert state(practice.id) == good
    assert "no drift" in reconcile(runner, since)

    stripe_sub = sandbox.client().v1.subscriptions.retrieve(practice.stripe_subscription_id)
    assert practice.subscription_status == stripe_sub.status


def test_a_card_only_we_have_is_removed(runner, practice, since):
    PaymentMethodFactory(
        stripe_id="pm_ghost",
        customer_id=practice.stripe_customer_id,
        last4="0000",
        exp_month=1,
        exp_year=2030,
    )
    assert "card pm_ghost: local ('visa 0000 01/2030', '') != stripe None" in reconcile(runner, since)
    reconcile(runner, since, "--fix")
    assert db.session.scalar(sa.select(PaymentMethod).where(PaymentMethod.stripe_id == "pm_ghost")) is None


@both_engines
def test_an_event_missing_from_the_inbox_is_listed_then_applied(runner, practice, since, sandbox):
    sandbox.client().v1.subscriptions.update(practice.stripe_subscription_id, {"cancel_at_period_end": True})
    [missing] = [e for e in sandbox.events("customer.subscription.updated") if e["created"] >= since][-1:]
    assert (
        db.session.scalar(sa.select(WebhookEvent).where(WebhookEvent.stripe_event_id == missing["id"]))
        is None
    )

    output = reconcile(runner, since)
    assert f"missing event {missing['id']} customer.subscription.updated" in output
    assert state(practice.id)[2] is False  # listed, not applied

    output = reconcile(runner, since, "--fix")
    assert "applied events: processed" in output
    db.session.expire_all()
    row = db.session.scalar(sa.select(WebhookEvent).where(WebhookEvent.stripe_event_id == missing["id"]))
    assert row is not None and row.status.value == "processed"
    assert state(practice.id)[2] is True
    again = reconcile(runner, since)
    assert "missing event" not in again and "no drift" in again


def test_an_event_of_a_type_the_portal_does_not_apply_is_no_drift(runner, practice, since, sandbox):
    """Attack 19 A12: the products and prices `flask billing bootstrap` makes at Stripe (their events
    never delivered, and nothing to apply) made a fresh install report "12 events missing" and email
    the admins every night."""
    client = sandbox.client()
    product = client.v1.products.create({"name": "Made in the dashboard"})
    client.v1.prices.create({"product": product.id, "unit_amount": 500, "currency": "usd"})
    assert [e for e in sandbox.events("product.created") if e["created"] >= since]
    assert "no drift" in reconcile(runner, since)


def test_every_practice_is_compared_with_its_own_subscription_and_invoices(
    runner, practice, owner, sandbox, since
):
    """Reconcile reads all subscriptions and invoices at once (pages of 100) and sorts them out per
    customer: a second practice's drift is reported as its own, the first practice's as none."""
    other = members.create_practice(owner, "Second Clinic")
    save_card(sandbox, other)
    subscribe_directly(sandbox, other)
    deliver_all(sandbox, since)
    assert other.billing_status == BillingStatus.DONE
    assert "no drift: " in reconcile(runner, since)

    invoice = db.session.scalar(sa.select(PracticeInvoice).where(PracticeInvoice.practice_id == other.id))
    invoice.status = "open"
    other.subscription_status = "past_due"
    other.refresh_billing_status()
    db.session.commit()

    output = reconcile(runner, since)
    label = f"practice {other.id} (Second Clinic)"
    assert f"{label}: invoice {invoice.stripe_id}: local ('open'" in output
    assert f"{label}: subscription_status: local 'past_due' != stripe 'active'" in output
    assert f"practice {practice.id} (" not in output
    assert "3 differences in 1 of" in output  # billing_status follows the subscription status
    reconcile(runner, since, "--fix")
    assert "no drift: " in reconcile(runner, since)
