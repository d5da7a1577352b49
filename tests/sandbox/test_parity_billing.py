"""Issue 21, points 3 to 6: balances, renewals without a card, dunning and renewal timing as Stripe has
them; each test cites the page it follows. Settings changed here are put back to Stripe's defaults."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
import requests
import stripe

from stripe_sandbox.billing.common import DEFAULTS
from stripe_sandbox.testing import SandboxServer
from tests.sandbox.conftest import Receiver

HOUR = 3600


@pytest.fixture(scope="module")
def plans(server: SandboxServer) -> dict[str, str]:
    client = server.client()
    product = client.v1.products.create({"name": "Parity billing"})

    def monthly(amount: int) -> str:
        return client.v1.prices.create(
            {
                "product": product.id,
                "unit_amount": amount,
                "currency": "usd",
                "recurring": {"interval": "month"},
            }
        ).id

    return {"big": monthly(10000), "small": monthly(4000)}


@pytest.fixture
def defaults(sandbox: SandboxServer) -> Iterator[SandboxServer]:
    yield sandbox
    sandbox.settings(**DEFAULTS)


def _subscribed(client: stripe.StripeClient, price: str, card: str = "pm_card_visa") -> tuple[str, str]:
    customer = client.v1.customers.create({"email": "dunning@clinic.test", "payment_method": card})
    pm = client.v1.payment_methods.list({"customer": customer.id}).data[0].id
    client.v1.customers.update(customer.id, {"invoice_settings": {"default_payment_method": pm}})
    sub = client.v1.subscriptions.create({"customer": customer.id, "items": [{"price": price}]})
    assert sub.status == "active"
    return customer.id, sub.id


def _failing_card(
    client: stripe.StripeClient, customer: str, token: str = "pm_card_chargeCustomerFail"
) -> None:
    bad = client.v1.payment_methods.attach(token, {"customer": customer})
    client.v1.customers.update(customer, {"invoice_settings": {"default_payment_method": bad.id}})


def _renewal(client: stripe.StripeClient, sub: str) -> stripe.Invoice:
    return client.v1.invoices.list({"subscription": sub}).data[0]


def _events(receiver: Receiver, event_type: str, customer: str) -> list[dict]:
    found = []
    for event in receiver.of_type(event_type):
        obj = event["data"]["object"]
        if customer in (obj.get("customer"), obj.get("id")):
            found.append(event)
    return found


# point 3: customer balance -----------------------------------------------------------------------


def test_point3_downgrade_credit_pays_part_of_the_next_renewal(
    sandbox: SandboxServer, client: stripe.StripeClient, plans: dict[str, str]
) -> None:
    """https://docs.stripe.com/billing/customer/balance: an ``always_invoice`` downgrade's negative
    invoice becomes a credit on the balance, and the next invoice uses it."""
    customer, sub_id = _subscribed(client, plans["big"])
    sub = client.v1.subscriptions.retrieve(sub_id)
    client.v1.subscriptions.update(
        sub_id,
        {
            "items": [{"id": sub["items"].data[0].id, "price": plans["small"]}],
            "proration_behavior": "always_invoice",
        },
    )
    credit = client.v1.customers.retrieve(customer).balance
    assert credit < 0
    preview = client.v1.invoices.create_preview({"subscription": sub_id})
    assert preview.starting_balance == credit and preview.amount_due == max(4000 + credit, 0)
    sandbox.advance(days=32)
    renewal = _renewal(client, sub_id)
    assert renewal.total == 4000 and renewal.starting_balance == credit
    assert renewal.amount_due == max(4000 + credit, 0) and renewal.status == "paid"


def test_point3_balance_set_by_hand_is_charged_or_credited(
    sandbox: SandboxServer, client: stripe.StripeClient, plans: dict[str, str]
) -> None:
    """https://docs.stripe.com/billing/customer/balance: a negative balance is a credit applied to the
    next invoice; the customer keeps what is left of it (``ending_balance``)."""
    customer, sub_id = _subscribed(client, plans["small"])
    client.v1.customers.update(customer, {"balance": -5000})
    assert client.v1.invoices.create_preview({"subscription": sub_id}).amount_due == 0
    sandbox.advance(days=32)
    renewal = _renewal(client, sub_id)
    assert (renewal.amount_due, renewal.starting_balance, renewal.ending_balance) == (0, -5000, -1000)
    assert renewal.status == "paid" and client.v1.customers.retrieve(customer).balance == -1000


# point 4: a renewal with no card ------------------------------------------------------------------


def test_point4_renewal_without_a_card_goes_past_due(
    sandbox: SandboxServer, client: stripe.StripeClient, receiver: Receiver, plans: dict[str, str]
) -> None:
    """https://docs.stripe.com/billing/subscriptions/overview#payment-status: a renewal that cannot be
    charged (no payment method) fails: ``invoice.payment_failed``, retries scheduled, ``past_due``."""
    customer, sub_id = _subscribed(client, plans["small"])
    for pm in client.v1.payment_methods.list({"customer": customer}).data:
        client.v1.payment_methods.detach(pm.id)
    sandbox.advance(days=32)
    assert client.v1.subscriptions.retrieve(sub_id).status == "past_due"
    renewal = _renewal(client, sub_id)
    assert renewal.status == "open" and renewal.next_payment_attempt is not None
    assert _events(receiver, "invoice.payment_failed", customer)


# point 5: dunning ---------------------------------------------------------------------------------


def test_point5_smart_retries_default_then_cancel_as_payment_failed(
    defaults: SandboxServer, client: stripe.StripeClient, receiver: Receiver, plans: dict[str, str]
) -> None:
    """https://docs.stripe.com/billing/revenue-recovery/smart-retries: by default 8 retries within 2
    weeks, then the subscription is canceled (reason ``payment_failed``); the customer is delinquent."""
    customer, sub_id = _subscribed(client, plans["small"])
    _failing_card(client, customer)
    defaults.advance(days=32)
    assert client.v1.customers.retrieve(customer).delinquent is True
    defaults.advance(days=15)
    sub = client.v1.subscriptions.retrieve(sub_id)
    assert sub.status == "canceled" and sub.cancellation_details.reason == "payment_failed"
    attempts = [
        e["data"]["object"]["attempt_count"] for e in _events(receiver, "invoice.payment_failed", customer)
    ]
    assert attempts == list(range(1, 10))
    delinquency = [
        e
        for e in _events(receiver, "customer.updated", customer)
        if "delinquent" in e["data"]["previous_attributes"]
    ]
    assert delinquency and delinquency[0]["data"]["object"]["delinquent"] is True


def test_point5_custom_schedule_leave_past_due_and_mark_uncollectible(
    defaults: SandboxServer, client: stripe.StripeClient, receiver: Receiver, plans: dict[str, str]
) -> None:
    """https://docs.stripe.com/billing/revenue-recovery/smart-retries#retry-schedules and "manage failed
    payments": a custom schedule, "leave the subscription past-due", "mark the invoice uncollectible"."""
    defaults.settings(
        retry_schedule="custom", retry_days=[1, 2], after_failures="past_due", mark_uncollectible=True
    )
    customer, sub_id = _subscribed(client, plans["small"])
    _failing_card(client, customer)
    defaults.advance(days=32)
    defaults.advance(days=4)
    assert client.v1.subscriptions.retrieve(sub_id).status == "past_due"
    renewal = _renewal(client, sub_id)
    assert renewal.attempt_count == 3 and renewal.status == "uncollectible"
    assert _events(receiver, "invoice.marked_uncollectible", customer)


def test_point5_hard_decline_is_not_retried(
    defaults: SandboxServer, client: stripe.StripeClient, plans: dict[str, str]
) -> None:
    """https://docs.stripe.com/billing/revenue-recovery/smart-retries: hard declines (a lost or stolen
    card) are not retried."""
    customer, sub_id = _subscribed(client, plans["small"])
    # The saved card is reported stolen after it was saved: every charge is now a hard decline.
    saved = client.v1.customers.retrieve(customer).invoice_settings.default_payment_method
    with defaults.sandbox.transaction():
        defaults.sandbox.update_meta(saved, number="4000000000009979")
    defaults.advance(days=32)
    renewal = _renewal(client, sub_id)
    assert renewal.status == "open" and renewal.attempt_count == 1 and renewal.next_payment_attempt is None


# point 6: timing and events ---------------------------------------------------------------------


def test_point6_renewal_stays_draft_about_an_hour(
    defaults: SandboxServer, client: stripe.StripeClient, receiver: Receiver, plans: dict[str, str]
) -> None:
    """https://docs.stripe.com/billing/subscriptions/overview#subscription-lifecycle and
    https://docs.stripe.com/billing/invoices/subscription#subscription-renewal: a renewal invoice is a
    draft for about an hour (``invoice.created`` can be acted on), then finalized and charged."""
    customer, sub_id = _subscribed(client, plans["small"])
    period_end = client.v1.subscriptions.retrieve(sub_id)["items"].data[0].current_period_end
    defaults.advance(seconds=period_end - defaults.now() + 60)
    draft = _renewal(client, sub_id)
    assert draft.billing_reason == "subscription_cycle" and draft.status == "draft"
    assert draft.automatically_finalizes_at == period_end + HOUR
    assert _events(receiver, "invoice.created", customer)
    defaults.advance(seconds=HOUR)
    assert client.v1.invoices.retrieve(draft.id).status == "paid"
    paid = receiver.of_type("invoice_payment.paid")
    assert [e["data"]["object"]["status"] for e in paid if e["data"]["object"]["invoice"] == draft.id] == [
        "paid"
    ]


def test_point6_invoiceitem_and_invoice_updated_events(
    sandbox: SandboxServer, client: stripe.StripeClient, receiver: Receiver, plans: dict[str, str]
) -> None:
    """https://docs.stripe.com/api/events/types: a proration sends ``invoiceitem.created``; a failed
    attempt ``invoice.updated`` (attempt count, next attempt)."""
    customer, sub_id = _subscribed(client, plans["small"])
    sub = client.v1.subscriptions.retrieve(sub_id)
    client.v1.subscriptions.update(
        sub_id, {"items": [{"id": sub["items"].data[0].id, "price": plans["big"]}]}
    )
    sandbox.flush_events()
    assert _events(receiver, "invoiceitem.created", customer)
    _failing_card(client, customer)
    sandbox.advance(days=32)
    updated = _events(receiver, "invoice.updated", customer)
    assert updated and "next_payment_attempt" in updated[-1]["data"]["previous_attributes"]


def test_point5_settings_have_stripes_defaults_show_on_the_page_and_change_through_control(
    defaults: SandboxServer,
) -> None:
    """https://docs.stripe.com/billing/revenue-recovery/smart-retries ("manage failed payments"): the
    sandbox has Stripe's settings with Stripe's defaults, on its page, settable through its control API."""
    page = requests.get(f"{defaults.url}/", timeout=5).text
    for name, value in [
        ("retry_schedule", "smart"),
        ("smart_retry_attempts", "8"),
        ("smart_retry_window_days", "14"),
        ("after_failures", "canceled"),
        ("mark_uncollectible", "False"),
        ("renewal_draft_hours", "1"),
    ]:
        assert re.search(rf"<code>{name}</code></td><td>{value}</td>", page), name
    assert "Strict mode" in page and "25 requests/s" in page
    assert defaults.settings(after_failures="unpaid")["after_failures"] == "unpaid"
    state = requests.get(f"{defaults.url}/_sandbox/state", timeout=5).json()
    assert state["strict"] is True and state["rate_limit"] is True


def test_finding11_hard_decline_gets_the_after_last_retry_action_at_the_window_end(
    defaults: SandboxServer, client: stripe.StripeClient, plans: dict[str, str]
) -> None:
    """https://docs.stripe.com/billing/revenue-recovery/smart-retries: a hard decline ends the retries,
    not the dunning: at the end of the retry window (2 weeks by default) the subscription gets the
    after-last-retry action (cancel by default, reason ``payment_failed``), never past_due forever."""
    customer, sub_id = _subscribed(client, plans["small"])
    saved = client.v1.customers.retrieve(customer).invoice_settings.default_payment_method
    with defaults.sandbox.transaction():
        defaults.sandbox.update_meta(saved, number="4000000000009979")  # reported stolen since
    defaults.advance(days=32)
    assert client.v1.subscriptions.retrieve(sub_id).status == "past_due"
    defaults.advance(days=10)
    assert client.v1.subscriptions.retrieve(sub_id).status == "past_due"  # still inside the window
    defaults.advance(days=5)
    sub = client.v1.subscriptions.retrieve(sub_id)
    assert sub.status == "canceled" and sub.cancellation_details.reason == "payment_failed"
    assert _renewal(client, sub_id).attempt_count == 1  # never retried


def test_mark_uncollectible_on_a_canceled_subscriptions_open_invoice(
    defaults: SandboxServer, client: stripe.StripeClient, receiver: Receiver, plans: dict[str, str]
) -> None:
    """https://docs.stripe.com/api/invoices/mark_uncollectible: the open invoice a canceled subscription
    left becomes ``uncollectible`` (``status_transitions.marked_uncollectible_at``), with the events
    ``invoice.marked_uncollectible`` and ``invoice.updated`` (its ``previous_attributes``: open); a
    second call is refused (only an open invoice can be marked), and the invoice stays payable."""
    defaults.settings(retry_schedule="custom", retry_days=[1], after_failures="canceled")
    customer, sub_id = _subscribed(client, plans["small"])
    _failing_card(client, customer)
    defaults.advance(days=34)
    assert client.v1.subscriptions.retrieve(sub_id).status == "canceled"
    renewal = _renewal(client, sub_id)
    assert renewal.status == "open"

    marked = client.v1.invoices.mark_uncollectible(renewal.id)
    assert marked.status == "uncollectible" and marked.status_transitions.marked_uncollectible_at
    defaults.flush_events()
    [event] = [e for e in _events(receiver, "invoice.marked_uncollectible", customer)]
    updated = [
        e for e in _events(receiver, "invoice.updated", customer) if e["data"]["object"]["id"] == renewal.id
    ]
    assert event["data"]["object"]["status"] == "uncollectible"
    assert updated[-1]["data"]["object"]["status"] == "uncollectible"
    assert updated[-1]["data"]["previous_attributes"]["status"] == "open"
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.invoices.mark_uncollectible(renewal.id)
