"""Trials and paused collection, as Stripe does them, through the official SDK."""

from __future__ import annotations

import pytest
import stripe

from stripe_sandbox.testing import SandboxServer
from tests.sandbox.conftest import Receiver

DAY = 86_400


@pytest.fixture(scope="module")
def catalog(server: SandboxServer) -> dict[str, str]:
    client = server.client()
    product = client.v1.products.create({"name": "Practice subscription"})
    fee = client.v1.prices.create({"product": product.id, "unit_amount": 49900, "currency": "usd"})
    monthly = client.v1.prices.create(
        {"product": product.id, "unit_amount": 9900, "currency": "usd", "recurring": {"interval": "month"}}
    )
    return {"fee": fee.id, "monthly": monthly.id}


def _customer(client: stripe.StripeClient) -> str:
    customer = client.v1.customers.create({"email": "owner@clinic.test"})
    intent = client.v1.setup_intents.create(
        {"customer": customer.id, "allowed_payment_method_types": ["card"]}
    )
    intent = client.v1.setup_intents.confirm(intent.id, {"payment_method": "pm_card_visa"})
    client.v1.customers.update(
        customer.id, {"invoice_settings": {"default_payment_method": str(intent.payment_method)}}
    )
    return customer.id


def _trial(client: stripe.StripeClient, catalog: dict[str, str], days: int = 14) -> stripe.Subscription:
    return client.v1.subscriptions.create(
        {
            "customer": _customer(client),
            "items": [{"price": catalog["monthly"]}],
            "add_invoice_items": [{"price": catalog["fee"]}],
            "trial_period_days": days,
            "expand": ["latest_invoice"],
        }
    )


def test_a_trial_charges_the_one_time_item_at_once_and_the_plan_when_it_ends(
    sandbox: SandboxServer, client: stripe.StripeClient, receiver: Receiver, catalog: dict[str, str]
) -> None:
    sub = _trial(client, catalog)
    assert sub.status == "trialing"
    assert sub.trial_end - sub.trial_start == 14 * DAY
    assert sub["items"].data[0].current_period_end == sub.trial_end
    first = sub.latest_invoice
    assert first.status == "paid" and first.amount_paid == 49900  # the fee now, the plan on trial
    trial_line = next(line for line in first.lines.data if line.amount == 0)
    assert trial_line.description == "Trial period for Practice subscription"

    sandbox.advance(days=14, seconds=2 * 3600)
    sub = client.v1.subscriptions.retrieve(sub.id, {"expand": ["latest_invoice"]})
    assert sub.status == "active"
    assert sub["items"].data[0].current_period_start == sub.trial_end
    assert sub.latest_invoice.billing_reason == "subscription_cycle"
    assert sub.latest_invoice.status == "paid" and sub.latest_invoice.amount_paid == 9900
    sandbox.flush_events()
    updates = [
        e for e in receiver.of_type("customer.subscription.updated") if e["data"]["object"]["id"] == sub.id
    ]
    assert any(e["data"].get("previous_attributes", {}).get("status") == "trialing" for e in updates)


def test_trial_will_end_comes_three_days_before_the_end_once(
    sandbox: SandboxServer, client: stripe.StripeClient, receiver: Receiver, catalog: dict[str, str]
) -> None:
    sub = _trial(client, catalog, days=10)
    sandbox.advance(days=6)
    sandbox.flush_events()
    assert not [
        e
        for e in receiver.of_type("customer.subscription.trial_will_end")
        if e["data"]["object"]["id"] == sub.id
    ]
    sandbox.advance(days=1, seconds=60)
    sandbox.advance(days=1)
    sandbox.flush_events()
    notices = [
        e
        for e in receiver.of_type("customer.subscription.trial_will_end")
        if e["data"]["object"]["id"] == sub.id
    ]
    assert len(notices) == 1
    assert notices[0]["created"] == sub.trial_end - 3 * DAY
    assert notices[0]["data"]["object"]["status"] == "trialing"


def test_a_trial_shorter_than_three_days_is_noticed_at_once(
    sandbox: SandboxServer, client: stripe.StripeClient, receiver: Receiver, catalog: dict[str, str]
) -> None:
    sub = _trial(client, catalog, days=2)
    sandbox.flush_events()
    notices = receiver.of_type("customer.subscription.trial_will_end")
    assert [e["data"]["object"]["id"] for e in notices].count(sub.id) == 1


def test_checkout_with_a_trial_charges_only_the_one_time_items(
    sandbox: SandboxServer, client: stripe.StripeClient, catalog: dict[str, str]
) -> None:
    session = client.v1.checkout.sessions.create(
        {
            "mode": "subscription",
            "customer": _customer(client),
            "line_items": [
                {"price": catalog["monthly"], "quantity": 1},
                {"price": catalog["fee"], "quantity": 1},
            ],
            "subscription_data": {"trial_period_days": 7},
            "success_url": "http://127.0.0.1/done",
        }
    )
    assert session.amount_total == 49900
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.checkout.sessions.create(
            {
                "mode": "subscription",
                "line_items": [{"price": catalog["monthly"], "quantity": 1}],
                "subscription_data": {"trial_period_days": 0},
                "success_url": "http://127.0.0.1/done",
            }
        )


def _active(client: stripe.StripeClient, catalog: dict[str, str]) -> stripe.Subscription:
    return client.v1.subscriptions.create(
        {"customer": _customer(client), "items": [{"price": catalog["monthly"]}]}
    )


def test_paused_collection_voids_each_renewal_and_the_subscription_stays_active(
    sandbox: SandboxServer, client: stripe.StripeClient, receiver: Receiver, catalog: dict[str, str]
) -> None:
    sub = _active(client, catalog)
    sub = client.v1.subscriptions.update(sub.id, {"pause_collection": {"behavior": "void"}})
    assert sub.status == "active"
    assert sub.pause_collection.behavior == "void" and sub.pause_collection.resumes_at is None
    receiver.clear()

    sandbox.advance(days=32)
    sub = client.v1.subscriptions.retrieve(sub.id, {"expand": ["latest_invoice"]})
    assert sub.status == "active"
    assert sub.latest_invoice.billing_reason == "subscription_cycle"
    assert sub.latest_invoice.status == "void" and sub.latest_invoice.amount_paid == 0
    sandbox.flush_events()
    types = receiver.types(related_to=sub.latest_invoice.id)
    assert "invoice.voided" in types and "invoice.paid" not in types

    sub = client.v1.subscriptions.update(sub.id, {"pause_collection": ""})
    assert sub.pause_collection is None
    sandbox.advance(days=31)
    sub = client.v1.subscriptions.retrieve(sub.id, {"expand": ["latest_invoice"]})
    assert sub.latest_invoice.status == "paid"


def test_a_void_pause_leaves_the_customers_credit_alone(
    sandbox: SandboxServer, client: stripe.StripeClient, catalog: dict[str, str]
) -> None:
    """A renewal voided by the pause is zero-value at Stripe: the credit does not pay it (F9)."""
    sub = _active(client, catalog)
    client.v1.customers.balance_transactions.create(sub.customer, {"amount": -30000, "currency": "usd"})
    client.v1.subscriptions.update(sub.id, {"pause_collection": {"behavior": "void"}})
    sandbox.advance(days=32)
    sub = client.v1.subscriptions.retrieve(sub.id, {"expand": ["latest_invoice"]})
    assert sub.latest_invoice.billing_reason == "subscription_cycle"
    assert sub.latest_invoice.status == "void" and sub.latest_invoice.amount_paid == 0
    assert client.v1.customers.retrieve(sub.customer).balance == -30000


def test_voiding_an_invoice_gives_back_the_credit_applied_to_it(
    client: stripe.StripeClient, catalog: dict[str, str]
) -> None:
    customer = _customer(client)
    client.v1.customers.balance_transactions.create(customer, {"amount": -3000, "currency": "usd"})
    client.v1.invoice_items.create({"customer": customer, "amount": 9900, "currency": "usd"})
    invoice = client.v1.invoices.create(
        {"customer": customer, "pending_invoice_items_behavior": "include", "auto_advance": False}
    )
    invoice = client.v1.invoices.finalize_invoice(invoice.id, {"auto_advance": False})
    assert invoice.amount_due == 6900 and client.v1.customers.retrieve(customer).balance == 0
    client.v1.invoices.void_invoice(invoice.id)
    assert client.v1.customers.retrieve(customer).balance == -3000
    kinds = [t.type for t in client.v1.customers.balance_transactions.list(customer).data]
    assert "unapplied_from_invoice" in kinds


def test_collection_resumes_by_itself_at_resumes_at(
    sandbox: SandboxServer, client: stripe.StripeClient, receiver: Receiver, catalog: dict[str, str]
) -> None:
    sub = _active(client, catalog)
    resumes_at = sandbox.now() + 10 * DAY
    client.v1.subscriptions.update(
        sub.id, {"pause_collection": {"behavior": "void", "resumes_at": resumes_at}}
    )
    sandbox.flush_events()
    receiver.clear()
    sandbox.advance(days=11)
    sub = client.v1.subscriptions.retrieve(sub.id)
    assert sub.pause_collection is None and sub.status == "active"
    sandbox.flush_events()
    resumed = [
        e
        for e in receiver.of_type("customer.subscription.updated")
        if e["data"]["object"]["id"] == sub.id
        and "pause_collection" in e["data"].get("previous_attributes", {})
    ]
    assert len(resumed) == 1 and resumed[0]["created"] == resumes_at
    sandbox.advance(days=21)
    latest = client.v1.invoices.retrieve(client.v1.subscriptions.retrieve(sub.id).latest_invoice)
    assert latest.status == "paid"  # the renewal after the resume is charged


def test_pause_collection_refuses_an_unknown_behavior(
    client: stripe.StripeClient, catalog: dict[str, str]
) -> None:
    sub = _active(client, catalog)
    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.subscriptions.update(sub.id, {"pause_collection": {"behavior": "skip"}})  # type: ignore[typeddict-item]
    assert refused.value.param == "pause_collection[behavior]"
