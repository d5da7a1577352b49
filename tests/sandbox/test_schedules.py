"""Subscription schedules through the official SDK: a downgrade at period end, its release, its
errors, and the customer balance a switch-now credit leaves (as Stripe does them)."""

from __future__ import annotations

import pytest
import stripe

from stripe_sandbox.testing import SandboxServer
from tests.sandbox.conftest import Receiver
from tests.sandbox.test_lifecycle import _customer_with_card
from tests.sandbox.test_lifecycle import catalog as catalog  # the module-scoped prices fixture


def _six_month_subscription(client: stripe.StripeClient, catalog: dict[str, str]) -> stripe.Subscription:
    customer_id, _ = _customer_with_card(client)
    return client.v1.subscriptions.create({"customer": customer_id, "items": [{"price": catalog["six"]}]})


def _downgrade_at_period_end(
    client: stripe.StripeClient, sub: stripe.Subscription, monthly: str
) -> stripe.SubscriptionSchedule:
    schedule = client.v1.subscription_schedules.create({"from_subscription": sub.id})
    current = schedule.phases[0]
    return client.v1.subscription_schedules.update(
        schedule.id,
        {
            "end_behavior": "release",
            "phases": [
                {
                    "items": [{"price": current["items"][0].price, "quantity": 1}],
                    "start_date": current.start_date,
                    "end_date": current.end_date,
                },
                {"items": [{"price": monthly, "quantity": 1}]},
            ],
        },
    )


def test_from_subscription_mirrors_the_current_period(
    sandbox: SandboxServer, client: stripe.StripeClient, receiver: Receiver, catalog: dict[str, str]
) -> None:
    sub = _six_month_subscription(client, catalog)
    item = sub["items"].data[0]
    schedule = client.v1.subscription_schedules.create({"from_subscription": sub.id})
    assert schedule.object == "subscription_schedule"
    assert schedule.status == "active"
    assert schedule.subscription == sub.id
    assert schedule.end_behavior == "release"
    assert schedule.current_phase.start_date == item.current_period_start
    assert schedule.current_phase.end_date == item.current_period_end
    assert schedule.phases[0]["items"][0].price == catalog["six"]
    assert client.v1.subscriptions.retrieve(sub.id).schedule == schedule.id
    assert client.v1.subscription_schedules.retrieve(schedule.id).id == schedule.id
    listed = client.v1.subscription_schedules.list({"customer": sub.customer})
    assert [s.id for s in listed.data] == [schedule.id]
    sandbox.flush_events()
    assert "subscription_schedule.created" in receiver.types(schedule.id)


def test_downgrade_happens_at_the_phase_change_and_bills_the_new_price(
    sandbox: SandboxServer, client: stripe.StripeClient, receiver: Receiver, catalog: dict[str, str]
) -> None:
    sub = _six_month_subscription(client, catalog)
    period_end = sub["items"].data[0].current_period_end
    schedule = _downgrade_at_period_end(client, sub, catalog["monthly"])
    assert [p.start_date for p in schedule.phases] == [schedule.current_phase.start_date, period_end]
    assert schedule.phases[1]["items"][0].price == catalog["monthly"]
    # Nothing changes before the period ends.
    assert client.v1.subscriptions.retrieve(sub.id)["items"].data[0].price.id == catalog["six"]

    sandbox.settings(renewal_draft_hours=0)
    try:
        sandbox.advance(seconds=period_end - sandbox.now() + 60)
    finally:
        sandbox.settings(renewal_draft_hours=1)
    moved = client.v1.subscriptions.retrieve(sub.id, {"expand": ["latest_invoice"]})
    item = moved["items"].data[0]
    assert item.price.id == catalog["monthly"]
    assert item.current_period_start == period_end
    assert 28 * 86400 <= item.current_period_end - period_end <= 31 * 86400
    assert moved.latest_invoice.billing_reason == "subscription_cycle"
    assert moved.latest_invoice.amount_paid == 9900
    assert client.v1.subscription_schedules.retrieve(schedule.id).current_phase.start_date == period_end
    sandbox.flush_events()
    assert "subscription_schedule.updated" in receiver.types(schedule.id)

    # The last phase ends a month later: the schedule releases the subscription, which goes on.
    sandbox.advance(seconds=item.current_period_end - sandbox.now() + 60)
    released = client.v1.subscription_schedules.retrieve(schedule.id)
    assert released.status == "released"
    assert released.released_subscription == sub.id
    assert released.subscription is None
    after = client.v1.subscriptions.retrieve(sub.id)
    assert after.schedule is None
    assert after.status == "active"
    assert after["items"].data[0].price.id == catalog["monthly"]


def test_release_keeps_the_subscription_and_refuses_twice(
    sandbox: SandboxServer, client: stripe.StripeClient, receiver: Receiver, catalog: dict[str, str]
) -> None:
    sub = _six_month_subscription(client, catalog)
    schedule = _downgrade_at_period_end(client, sub, catalog["monthly"])
    released = client.v1.subscription_schedules.release(schedule.id)
    assert released.status == "released"
    assert released.released_at is not None
    assert client.v1.subscriptions.retrieve(sub.id).schedule is None
    with pytest.raises(stripe.InvalidRequestError) as error:
        client.v1.subscription_schedules.release(schedule.id)
    assert "`released` status" in error.value.user_message
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.subscription_schedules.update(schedule.id, {"end_behavior": "cancel"})
    period_end = sub["items"].data[0].current_period_end
    sandbox.advance(seconds=period_end - sandbox.now() + 60)
    assert client.v1.subscriptions.retrieve(sub.id)["items"].data[0].price.id == catalog["six"]
    sandbox.flush_events()
    assert "subscription_schedule.released" in receiver.types(schedule.id)


def test_validation_errors(
    sandbox: SandboxServer, client: stripe.StripeClient, catalog: dict[str, str]
) -> None:
    sub = _six_month_subscription(client, catalog)
    with pytest.raises(stripe.InvalidRequestError) as error:
        client.v1.subscription_schedules.create({"from_subscription": sub.id, "end_behavior": "cancel"})
    assert error.value.param == "end_behavior"
    with pytest.raises(stripe.InvalidRequestError) as error:
        client.v1.subscription_schedules.create({"from_subscription": "sub_nope"})
    assert error.value.code == "resource_missing"
    schedule = client.v1.subscription_schedules.create({"from_subscription": sub.id})
    with pytest.raises(stripe.InvalidRequestError) as error:
        client.v1.subscription_schedules.create({"from_subscription": sub.id})
    assert error.value.param == "from_subscription"
    current = schedule.phases[0]
    with pytest.raises(stripe.InvalidRequestError) as error:
        client.v1.subscription_schedules.update(
            schedule.id,
            {"phases": [{"items": [{"price": catalog["six"]}], "start_date": current.start_date + 10}]},
        )
    assert error.value.param == "phases[0][start_date]"
    with pytest.raises(stripe.InvalidRequestError) as error:
        client.v1.subscription_schedules.update(
            schedule.id,
            {"phases": [{"items": [{"price": catalog["six"]}]}, {"items": [{"price": catalog["monthly"]}]}]},
        )
    assert error.value.param == "phases[0][end_date]"
    with pytest.raises(stripe.InvalidRequestError) as error:
        client.v1.subscription_schedules.retrieve("sub_sched_nope")
    assert error.value.code == "resource_missing"


def test_cancel_ends_the_subscription_too(
    sandbox: SandboxServer, client: stripe.StripeClient, receiver: Receiver, catalog: dict[str, str]
) -> None:
    sub = _six_month_subscription(client, catalog)
    schedule = client.v1.subscription_schedules.create({"from_subscription": sub.id})
    canceled = client.v1.subscription_schedules.cancel(schedule.id, {"invoice_now": False, "prorate": False})
    assert canceled.status == "canceled"
    assert canceled.canceled_at is not None
    assert client.v1.subscriptions.retrieve(sub.id).status == "canceled"
    sandbox.flush_events()
    assert receiver.types(schedule.id).count("subscription_schedule.canceled") == 1


def test_switch_now_credit_lands_on_the_balance_and_pays_the_next_invoice(
    sandbox: SandboxServer, client: stripe.StripeClient, catalog: dict[str, str]
) -> None:
    sub = _six_month_subscription(client, catalog)
    item = sub["items"].data[0]
    switched = client.v1.subscriptions.update(
        sub.id,
        {
            "items": [{"id": item.id, "price": catalog["monthly"]}],
            "proration_behavior": "always_invoice",
            "expand": ["latest_invoice"],
        },
    )
    invoice = switched.latest_invoice
    assert invoice.total < 0  # the unused six months exceed a month
    assert invoice.amount_due == 0
    assert invoice.starting_balance == 0
    assert invoice.ending_balance == invoice.total
    customer = client.v1.customers.retrieve(sub.customer)
    assert customer.balance == invoice.total
    transactions = client.v1.customers.balance_transactions.list(sub.customer)
    assert transactions.data[0].invoice == invoice.id
    assert transactions.data[0].amount == invoice.total

    credit = -customer.balance
    preview = client.v1.invoices.create_preview({"customer": sub.customer, "subscription": sub.id})
    assert preview.starting_balance == -credit
    assert preview.amount_due == max(0, preview.total - credit)

    sandbox.settings(renewal_draft_hours=0)
    try:
        period_end = switched["items"].data[0].current_period_end
        sandbox.advance(seconds=period_end - sandbox.now() + 60)
    finally:
        sandbox.settings(renewal_draft_hours=1)
    renewal = client.v1.invoices.retrieve(client.v1.subscriptions.retrieve(sub.id).latest_invoice)
    assert renewal.billing_reason == "subscription_cycle"
    assert renewal.total == 9900
    assert renewal.starting_balance == -credit
    assert renewal.amount_due == max(0, 9900 - credit)
    assert renewal.ending_balance == min(0, 9900 - credit)
    assert client.v1.customers.retrieve(sub.customer).balance == min(0, 9900 - credit)


def test_upcoming_invoice_follows_the_schedule(
    sandbox: SandboxServer, client: stripe.StripeClient, catalog: dict[str, str]
) -> None:
    sub = _six_month_subscription(client, catalog)
    _downgrade_at_period_end(client, sub, catalog["monthly"])
    preview = client.v1.invoices.create_preview({"customer": sub.customer, "subscription": sub.id})
    assert preview.total == 9900
    assert preview.lines.data[0].pricing.price_details.price == catalog["monthly"]


def test_a_scheduled_subscription_refuses_a_direct_cancellation(
    sandbox: SandboxServer, client: stripe.StripeClient, catalog: dict[str, str]
) -> None:
    sub = _six_month_subscription(client, catalog)
    schedule = _downgrade_at_period_end(client, sub, catalog["monthly"])
    with pytest.raises(stripe.InvalidRequestError) as error:
        client.v1.subscriptions.update(sub.id, {"cancel_at_period_end": True})
    message = error.value.user_message
    assert schedule.id in message and "Please update the schedule" in message
    client.v1.subscription_schedules.release(schedule.id)
    assert client.v1.subscriptions.update(sub.id, {"cancel_at_period_end": True}).cancel_at_period_end


def test_a_phase_sets_the_subscriptions_discounts_when_it_starts(
    sandbox: SandboxServer, client: stripe.StripeClient, catalog: dict[str, str]
) -> None:
    """from_subscription copies the discounts into the current phase; a next phase without them
    removes them when it starts, one that names them keeps them (Stripe's schedules doc)."""
    kept, dropped = _six_month_subscription(client, catalog), _six_month_subscription(client, catalog)
    coupon = client.v1.coupons.create({"amount_off": 1000, "currency": "usd", "duration": "forever"})
    for sub in (kept, dropped):
        client.v1.subscriptions.update(sub.id, {"discounts": [{"coupon": coupon.id}]})
    schedules = {}
    for sub in (kept, dropped):
        schedule = client.v1.subscription_schedules.create({"from_subscription": sub.id})
        discount = client.v1.subscriptions.retrieve(sub.id).discounts[0]
        assert schedule.phases[0].discounts[0].discount == discount
        current = schedule.phases[0]
        carried = [{"discount": discount}] if sub is kept else ""
        schedules[sub.id] = client.v1.subscription_schedules.update(
            schedule.id,
            {
                "phases": [
                    {
                        "items": [{"price": catalog["six"], "quantity": 1}],
                        "start_date": current.start_date,
                        "end_date": current.end_date,
                        "discounts": [{"discount": discount}],
                    },
                    {"items": [{"price": catalog["monthly"], "quantity": 1}], "discounts": carried},
                ],
            },
        )
        assert (schedules[sub.id].phases[1].discounts != []) is (sub is kept)
    sandbox.advance(seconds=kept["items"].data[0].current_period_end - sandbox.now() + 3 * 3600)
    assert len(client.v1.subscriptions.retrieve(kept.id).discounts) == 1
    assert client.v1.subscriptions.retrieve(dropped.id).discounts == []
