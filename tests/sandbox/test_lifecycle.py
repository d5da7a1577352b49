"""A practice's whole billing life, through the official SDK, with every webhook verified."""

from __future__ import annotations

import pytest
import stripe

from stripe_sandbox.testing import SandboxServer
from tests.sandbox.conftest import Receiver


@pytest.fixture(scope="module")
def catalog(server: SandboxServer) -> dict[str, str]:
    client = server.client()
    product = client.v1.products.create({"name": "Practice plan"})
    fee = client.v1.prices.create({"product": product.id, "unit_amount": 50000, "currency": "usd"})
    monthly = client.v1.prices.create(
        {
            "product": product.id,
            "unit_amount": 9900,
            "currency": "usd",
            "recurring": {"interval": "month"},
            "lookup_key": "practice_monthly",
        }
    )
    six = client.v1.prices.create(
        {
            "product": product.id,
            "unit_amount": 49900,
            "currency": "usd",
            "recurring": {"interval": "month", "interval_count": 6},
            "lookup_key": "practice_6_months",
        }
    )
    return {"fee": fee.id, "monthly": monthly.id, "six": six.id}


def _customer_with_card(client: stripe.StripeClient, card: str = "pm_card_visa") -> tuple[str, str]:
    customer = client.v1.customers.create({"email": "owner@clinic.test", "name": "Clinic Owner"})
    intent = client.v1.setup_intents.create(
        {"customer": customer.id, "allowed_payment_method_types": ["card"]}
    )
    intent = client.v1.setup_intents.confirm(intent.id, {"payment_method": card})
    assert intent.status == "succeeded"
    client.v1.customers.update(
        customer.id, {"invoice_settings": {"default_payment_method": intent.payment_method}}
    )
    return customer.id, str(intent.payment_method)


def test_practice_lifecycle(
    sandbox: SandboxServer, client: stripe.StripeClient, receiver: Receiver, catalog: dict[str, str]
) -> None:
    # Customer, card saved with a SetupIntent.
    customer_id, pm_id = _customer_with_card(client)
    sandbox.flush_events()
    assert {
        "customer.created",
        "setup_intent.succeeded",
        "payment_method.attached",
        "customer.updated",
    } <= set(receiver.types())
    assert receiver.bad_signatures == 0

    # Subscribe monthly, onboarding fee on the first invoice.
    receiver.clear()
    sub = client.v1.subscriptions.create(
        {
            "customer": customer_id,
            "items": [{"price": catalog["monthly"]}],
            "add_invoice_items": [{"price": catalog["fee"]}],
            "metadata": {"practiceId": "7"},
            "expand": ["latest_invoice.payments"],
        }
    )
    assert sub.status == "active"
    first = sub.latest_invoice
    assert first.total == 50000 + 9900 and first.status == "paid"
    assert first.parent.subscription_details.subscription == sub.id
    assert first.parent.subscription_details.metadata["practiceId"] == "7"
    assert first.payments.data[0].status == "paid"
    period_end = sub["items"].data[0].current_period_end
    sandbox.flush_events()
    paid = receiver.of_type("invoice.paid")
    assert [e["data"]["object"]["id"] for e in paid] == [first.id]
    assert "customer.subscription.created" in receiver.types(sub.id)

    # A month later it renews: a new paid invoice, periods moved on the items.
    receiver.clear()
    sandbox.advance(days=32)
    sub = client.v1.subscriptions.retrieve(sub.id)
    assert sub.status == "active"
    assert sub["items"].data[0].current_period_start == period_end
    invoices = client.v1.invoices.list({"subscription": sub.id})
    assert len(invoices.data) == 2
    renewal = invoices.data[0]
    assert (
        renewal.billing_reason == "subscription_cycle" and renewal.status == "paid" and renewal.total == 9900
    )
    types = receiver.types(sub.id)
    assert "invoice.upcoming" in types and "invoice.paid" in types
    assert [e["data"]["object"]["id"] for e in receiver.of_type("invoice.paid")] == [renewal.id]

    # The default card becomes one whose charges fail: the next renewal fails, past_due.
    receiver.clear()
    bad = client.v1.payment_methods.attach("pm_card_chargeCustomerFail", {"customer": customer_id})
    client.v1.customers.update(customer_id, {"invoice_settings": {"default_payment_method": bad.id}})
    sandbox.advance(days=32)
    sub = client.v1.subscriptions.retrieve(sub.id)
    assert sub.status == "past_due"
    failed = receiver.of_type("invoice.payment_failed")
    assert failed  # Smart Retries may already have retried once (its first retry comes within 2 days)
    failing = failed[0]["data"]["object"]
    assert failing["attempt_count"] == 1 and failing["next_payment_attempt"] is not None
    updates = [
        e
        for e in receiver.of_type("customer.subscription.updated")
        if e["data"]["object"]["status"] == "past_due"
    ]
    assert updates and updates[0]["data"]["previous_attributes"]["status"] == "active"

    # Back to the good card, pay the open invoice, then cancel at period end.
    client.v1.customers.update(customer_id, {"invoice_settings": {"default_payment_method": pm_id}})
    paid_invoice = client.v1.invoices.pay(failing["id"])
    assert paid_invoice.status == "paid"
    assert client.v1.subscriptions.retrieve(sub.id).status == "active"
    sub = client.v1.subscriptions.update(sub.id, {"cancel_at_period_end": True})
    assert sub.cancel_at_period_end and sub.cancel_at == sub["items"].data[0].current_period_end
    receiver.clear()
    sandbox.advance(days=32)
    sub = client.v1.subscriptions.retrieve(sub.id)
    assert sub.status == "canceled" and sub.ended_at is not None
    assert receiver.types(sub.id).count("customer.subscription.deleted") == 1
    assert "invoice.upcoming" not in receiver.types(sub.id)
    assert receiver.bad_signatures == 0


def test_retries_then_cancel(
    sandbox: SandboxServer, client: stripe.StripeClient, receiver: Receiver, catalog: dict[str, str]
) -> None:
    customer_id, _ = _customer_with_card(client)
    sub = client.v1.subscriptions.create({"customer": customer_id, "items": [{"price": catalog["monthly"]}]})
    bad = client.v1.payment_methods.attach("pm_card_chargeCustomerFail", {"customer": customer_id})
    client.v1.subscriptions.update(sub.id, {"default_payment_method": bad.id})
    receiver.clear()
    sandbox.advance(days=32)
    assert client.v1.subscriptions.retrieve(sub.id).status == "past_due"
    sandbox.advance(days=15)  # Smart Retries' default: 8 retries within 2 weeks, then canceled
    sub = client.v1.subscriptions.retrieve(sub.id)
    assert sub.status == "canceled" and sub.cancellation_details.reason == "payment_failed"
    failures = [
        e
        for e in receiver.of_type("invoice.payment_failed")
        if e["data"]["object"]["customer"] == customer_id
    ]
    assert [e["data"]["object"]["attempt_count"] for e in failures] == list(range(1, 10))
    assert failures[-1]["data"]["object"]["next_payment_attempt"] is None
    assert "customer.subscription.deleted" in receiver.types(sub.id)


def test_six_month_price_renews_after_six_months(
    sandbox: SandboxServer, client: stripe.StripeClient, catalog: dict[str, str]
) -> None:
    customer_id, _ = _customer_with_card(client)
    sub = client.v1.subscriptions.create({"customer": customer_id, "items": [{"price": catalog["six"]}]})
    start = sub["items"].data[0].current_period_start
    end = sub["items"].data[0].current_period_end
    assert 180 * 86400 <= end - start <= 185 * 86400
    sandbox.advance(days=100)
    assert len(client.v1.invoices.list({"subscription": sub.id}).data) == 1
    sandbox.advance(days=90)
    invoices = client.v1.invoices.list({"subscription": sub.id}).data
    assert len(invoices) == 2 and invoices[0].total == 49900 and invoices[0].status == "paid"
    assert client.v1.subscriptions.retrieve(sub.id)["items"].data[0].current_period_start == end


def test_authentication_on_renewal(
    sandbox: SandboxServer, client: stripe.StripeClient, receiver: Receiver, catalog: dict[str, str]
) -> None:
    customer_id, _ = _customer_with_card(client)
    sub = client.v1.subscriptions.create({"customer": customer_id, "items": [{"price": catalog["monthly"]}]})
    pm = client.v1.payment_methods.attach("pm_card_authenticationRequired", {"customer": customer_id})
    client.v1.customers.update(customer_id, {"invoice_settings": {"default_payment_method": pm.id}})
    receiver.clear()
    sandbox.advance(days=32)
    action = [
        e
        for e in receiver.of_type("invoice.payment_action_required")
        if e["data"]["object"]["customer"] == customer_id
    ]
    assert len(action) == 1
    invoice = client.v1.invoices.retrieve(action[0]["data"]["object"]["id"], {"expand": ["payments"]})
    assert invoice.status == "open"
    pi_id = invoice.payments.data[0].payment.payment_intent
    assert client.v1.payment_intents.retrieve(pi_id).status == "requires_action"
    sandbox.authenticate(pi_id, "complete")
    assert client.v1.invoices.retrieve(invoice.id).status == "paid"
    assert client.v1.subscriptions.retrieve(sub.id).status == "active"


def test_first_payment_declined_leaves_incomplete_then_expires(
    sandbox: SandboxServer, client: stripe.StripeClient, catalog: dict[str, str]
) -> None:
    customer = client.v1.customers.create({"email": "x@clinic.test"})
    pm = client.v1.payment_methods.attach("pm_card_chargeCustomerFail", {"customer": customer.id})
    sub = client.v1.subscriptions.create(
        {
            "customer": customer.id,
            "items": [{"price": catalog["monthly"]}],
            "default_payment_method": pm.id,
            "expand": ["latest_invoice"],
        }
    )
    assert sub.status == "incomplete" and sub.latest_invoice.status == "open"
    with pytest.raises(stripe.CardError):
        client.v1.subscriptions.create(
            {
                "customer": customer.id,
                "items": [{"price": catalog["monthly"]}],
                "default_payment_method": pm.id,
                "payment_behavior": "error_if_incomplete",
            }
        )
    sandbox.advance(days=1)
    sub = client.v1.subscriptions.retrieve(sub.id, {"expand": ["latest_invoice"]})
    assert sub.status == "incomplete_expired" and sub.latest_invoice.status == "void"


def test_default_incomplete_is_paid_through_the_confirmation_secret(
    sandbox: SandboxServer, client: stripe.StripeClient, catalog: dict[str, str]
) -> None:
    customer_id, pm_id = _customer_with_card(client)
    sub = client.v1.subscriptions.create(
        {
            "customer": customer_id,
            "items": [{"price": catalog["monthly"]}],
            "payment_behavior": "default_incomplete",
            "expand": ["latest_invoice.confirmation_secret"],
        }
    )
    assert sub.status == "incomplete"
    secret = sub.latest_invoice.confirmation_secret.client_secret
    pi_id = secret.split("_secret_")[0]
    publishable = sandbox.client("pk_test_sandbox")
    pi = publishable.v1.payment_intents.confirm(pi_id, {"client_secret": secret, "payment_method": pm_id})
    assert pi.status == "succeeded"
    assert client.v1.subscriptions.retrieve(sub.id).status == "active"


def test_plan_switch_preview_and_prorations(
    sandbox: SandboxServer, client: stripe.StripeClient, catalog: dict[str, str]
) -> None:
    product = client.v1.products.create({"name": "Bigger plan"})
    bigger = client.v1.prices.create(
        {"product": product.id, "unit_amount": 19900, "currency": "usd", "recurring": {"interval": "month"}}
    )
    customer_id, _ = _customer_with_card(client)
    sub = client.v1.subscriptions.create({"customer": customer_id, "items": [{"price": catalog["monthly"]}]})
    item = sub["items"].data[0]
    when = item.current_period_start + (item.current_period_end - item.current_period_start) // 2
    preview = client.v1.invoices.create_preview(
        {
            "subscription": sub.id,
            "subscription_details": {"items": [{"id": item.id, "price": bigger.id}], "proration_date": when},
        }
    )
    prorations = [line for line in preview.lines.data if line.parent.invoice_item_details]
    assert len(prorations) == 2
    assert sum(line.amount for line in prorations) == pytest.approx(5000, abs=5)
    assert preview.amount_due == sum(line.amount for line in preview.lines.data)
    updated = client.v1.subscriptions.update(
        sub.id,
        {
            "items": [{"id": item.id, "price": bigger.id}],
            "proration_behavior": "always_invoice",
            "proration_date": when,
            "expand": ["latest_invoice"],
        },
    )
    assert updated["items"].data[0].price.id == bigger.id
    assert updated.latest_invoice.billing_reason == "subscription_update"
    assert updated.latest_invoice.status == "paid"
    assert updated.latest_invoice.amount_paid == pytest.approx(5000, abs=5)
    # A change of interval bills the new price in full now and restarts the cycle.
    switched = client.v1.subscriptions.update(
        sub.id, {"items": [{"id": item.id, "price": catalog["six"]}], "expand": ["latest_invoice"]}
    )
    new_item = switched["items"].data[0]
    assert new_item.current_period_end - new_item.current_period_start > 180 * 86400
    assert switched.latest_invoice.status == "paid"
    assert any(line.amount == 49900 for line in switched.latest_invoice.lines.data)


def test_resume_after_cancel_at_period_end(
    sandbox: SandboxServer, client: stripe.StripeClient, receiver: Receiver, catalog: dict[str, str]
) -> None:
    customer_id, _ = _customer_with_card(client)
    sub = client.v1.subscriptions.create({"customer": customer_id, "items": [{"price": catalog["monthly"]}]})
    client.v1.subscriptions.update(sub.id, {"cancel_at_period_end": True})
    resumed = client.v1.subscriptions.update(sub.id, {"cancel_at_period_end": False})
    assert not resumed.cancel_at_period_end and resumed.cancel_at is None
    canceled = client.v1.subscriptions.cancel(sub.id)
    assert canceled.status == "canceled"
    sandbox.flush_events()
    assert "customer.subscription.deleted" in receiver.types(sub.id)
