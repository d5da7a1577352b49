"""The clock's step computes its due actions once and re-examines only what each action wrote
(``billing.clock._Agenda``). Its contract: every action it runs is the one a full rescan of every
subscription, invoice and schedule would run next, and it stops when a rescan finds nothing."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import stripe

from stripe_sandbox.billing import clock
from stripe_sandbox.testing import SandboxServer


@pytest.fixture
def server() -> Iterator[SandboxServer]:
    server = SandboxServer(rate_limit=False)
    server.start()
    yield server
    server.stop()


def _workload(client: stripe.StripeClient) -> None:
    """Renewals paid and declined (retries, dunning), a trial, a cancel at period end, paused
    collection and a schedule's next phase: every kind of due action, several at the same second."""
    product = client.v1.products.create({"name": "Agenda"})
    monthly = client.v1.prices.create(
        {"product": product.id, "unit_amount": 4000, "currency": "usd", "recurring": {"interval": "month"}}
    )
    yearly = client.v1.prices.create(
        {"product": product.id, "unit_amount": 40000, "currency": "usd", "recurring": {"interval": "year"}}
    )
    for n, card in enumerate(["pm_card_visa"] * 4 + ["pm_card_chargeCustomerFail"] * 2):
        customer = client.v1.customers.create({"email": f"agenda-{n}@clinic.test"})
        pm = client.v1.payment_methods.attach(card if n < 4 else "pm_card_visa", {"customer": customer.id})
        client.v1.customers.update(customer.id, {"invoice_settings": {"default_payment_method": pm.id}})
        params: dict = {"customer": customer.id, "items": [{"price": monthly.id}]}
        if n == 1:
            params["trial_period_days"] = 10
        sub = client.v1.subscriptions.create(params)
        if n == 2:
            client.v1.subscriptions.update(sub.id, {"cancel_at_period_end": True})
        if n == 3:
            client.v1.subscriptions.update(sub.id, {"pause_collection": {"behavior": "void"}})
        if n >= 4:  # paid first, then the card declines from the renewal on
            bad = client.v1.payment_methods.attach(card, {"customer": customer.id})
            client.v1.customers.update(customer.id, {"invoice_settings": {"default_payment_method": bad.id}})
    customer = client.v1.customers.create({"email": "agenda-schedule@clinic.test"})
    pm = client.v1.payment_methods.attach("pm_card_visa", {"customer": customer.id})
    client.v1.customers.update(customer.id, {"invoice_settings": {"default_payment_method": pm.id}})
    sub = client.v1.subscriptions.create({"customer": customer.id, "items": [{"price": monthly.id}]})
    schedule = client.v1.subscription_schedules.create({"from_subscription": sub.id})
    current = schedule.phases[0]
    client.v1.subscription_schedules.update(
        schedule.id,
        {
            "end_behavior": "release",
            "phases": [
                {
                    "items": [{"price": current["items"][0].price, "quantity": 1}],
                    "start_date": current.start_date,
                    "end_date": current.end_date,
                },
                {"items": [{"price": yearly.id, "quantity": 1}]},
            ],
        },
    )


def test_each_action_is_the_one_a_full_rescan_finds_next(server: SandboxServer, monkeypatch) -> None:
    _workload(server.client())
    checked: list[str] = []
    pop = clock._Agenda.pop

    def checked_pop(agenda: clock._Agenda):
        rescan = clock._due_actions(agenda.sb, agenda.until)
        action = pop(agenda)
        assert action == (rescan[0] if rescan else None)
        if action is not None:
            checked.append(action[2])
        return action

    monkeypatch.setattr(clock._Agenda, "pop", checked_pop)
    server.advance(days=75)
    # Renewals, notices, draft finalizations, retries, a cancel and a phase end: all checked.
    assert {"renew", "upcoming", "finalize", "retry", "cancel", "phase"} <= set(checked)
    assert len(checked) > 30
