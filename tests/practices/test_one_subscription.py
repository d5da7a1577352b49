"""Finding 2 of issue 14: one live subscription and one onboarding fee per practice, whatever races.

Checkout for Monthly in one tab and for 6 months in another: starting the second expires the
first, so it can no longer be paid. Should Stripe still complete two (both paid in the same
instant), the portal keeps the earliest, cancels the other at once and refunds all it charged
(the onboarding fee included), whatever order the events arrive in; History and an email say so,
and ``flask billing reconcile`` reports a practice with more than one live subscription.
"""

from __future__ import annotations

import pytest
import requests
import sqlalchemy as sa

from portal.extensions import db
from portal.gateway.shapes import object_id
from portal.practices import checkout as practice_checkout
from portal.practices import members
from portal.practices import plans as practice_plans
from portal.practices.models import BillingAuditEntry, Plan
from portal.practices.status import BillingStatus
from tests.practices.sandbox_helpers import CHECKOUT_ADDRESS, HANDLERS, save_card, subscribe_directly

CARD = {
    "number": "4242 4242 4242 4242",
    "expiry": "12 / 34",
    "cvc": "123",
    "name": "Dr Two Tabs",
    **CHECKOUT_ADDRESS,
}


@pytest.fixture
def practice(owner, plans):
    return members.create_practice(owner, "Two Tabs Dental")


def customer_events(sandbox, customer_id: str, after: set[str]) -> list[dict]:
    return [
        event
        for event in sandbox.events()
        if event["id"] not in after and object_id(event["data"]["object"].get("customer")) == customer_id
    ]


def apply(events: list[dict]) -> None:
    """What the webhook inbox does with each event, in the order given."""
    for event in events:
        handler = HANDLERS.get(event["type"])
        if handler is not None:
            handler(event)
            db.session.commit()


def live_at_stripe(sandbox, customer_id: str) -> list:
    subscriptions = sandbox.client().v1.subscriptions.list({"customer": customer_id, "status": "all"}).data
    return [sub for sub in subscriptions if sub.status in ("active", "trialing", "past_due", "incomplete")]


def refunded(sandbox, customer_id: str) -> int:
    charges = sandbox.client().v1.charges.list({"customer": customer_id}).data
    return sum(charge.amount_refunded for charge in charges)


def charged(sandbox, customer_id: str) -> int:
    charges = sandbox.client().v1.charges.list({"customer": customer_id}).data
    return sum(charge.amount_captured for charge in charges if charge.paid)


def audit_actions(practice) -> list[str]:
    return list(
        db.session.scalars(
            sa.select(BillingAuditEntry.action).where(BillingAuditEntry.practice_id == practice.id)
        )
    )


def test_starting_a_second_checkout_expires_the_first(sandbox, practice, owner):
    with db.session.no_autoflush:
        monthly_url = practice_checkout.start_checkout(practice, Plan.MONTHLY, owner)
        semiannual_url = practice_checkout.start_checkout(practice, Plan.SEMIANNUAL, owner)
    client = sandbox.client()
    monthly = client.v1.checkout.sessions.retrieve(monthly_url.rsplit("/", 1)[1])
    semiannual = client.v1.checkout.sessions.retrieve(semiannual_url.rsplit("/", 1)[1])

    assert (monthly.status, semiannual.status) == ("expired", "open")
    stale_tab = requests.post(f"{monthly_url}/pay", data=CARD, allow_redirects=False, timeout=10)
    assert stale_tab.status_code == 400 and "expired" in stale_tab.text
    paid = requests.post(f"{semiannual_url}/pay", data=CARD, allow_redirects=False, timeout=10)
    assert paid.status_code == 303
    assert len(live_at_stripe(sandbox, practice.stripe_customer_id)) == 1


ORDERS = {
    "as_sent": lambda events: events,
    "reversed": lambda events: events[::-1],
    "second_first": lambda events: sorted(events, key=lambda e: e["id"] not in _SECOND_IDS),
}
_SECOND_IDS: set[str] = set()


@pytest.mark.parametrize("order", sorted(ORDERS))
def test_a_second_paid_subscription_is_cancelled_and_refunded(sandbox, practice, owner, mailbox, order):
    customer_id = practice.stripe_customer_id
    save_card(sandbox, practice)
    seen = {event["id"] for event in sandbox.events()}
    first = subscribe_directly(sandbox, practice, Plan.MONTHLY)
    between = {event["id"] for event in sandbox.events()}
    sandbox.advance(seconds=10)  # the second tab paid a moment later
    second = subscribe_directly(sandbox, practice, Plan.SEMIANNUAL)
    events = customer_events(sandbox, customer_id, seen)
    _SECOND_IDS.clear()
    _SECOND_IDS.update(e["id"] for e in events if e["id"] not in between)
    paid_twice = charged(sandbox, customer_id)
    second_invoice = sandbox.client().v1.invoices.retrieve(second.latest_invoice)

    apply(ORDERS[order](events))
    apply(customer_events(sandbox, customer_id, seen | {e["id"] for e in events}))  # what the fix sent
    apply(events)  # every event delivered again: nothing more happens

    live = live_at_stripe(sandbox, customer_id)
    assert [sub.id for sub in live] == [first.id]  # the earliest is kept, whatever the order
    assert sandbox.client().v1.subscriptions.retrieve(second.id).status == "canceled"
    assert refunded(sandbox, customer_id) == second_invoice.amount_paid  # its plan and its onboarding fee
    fee = practice_plans.onboarding_fee()[0]
    assert paid_twice - refunded(sandbox, customer_id) == fee + practice_plans.plan_offers()[0].amount
    db.session.expire_all()
    assert practice.stripe_subscription_id == first.id and practice.plan == Plan.MONTHLY
    assert practice.billing_status == BillingStatus.DONE
    assert audit_actions(practice).count("duplicate_subscription_cancelled") == 1
    message = mailbox.wait_for(owner.email, "second subscription was cancelled")
    assert "refunded" in message.get_body(("plain",)).get_content()


def test_reconcile_reports_and_fixes_two_live_subscriptions(sandbox, practice, owner, runner):
    save_card(sandbox, practice)
    first = subscribe_directly(sandbox, practice, Plan.MONTHLY)
    sandbox.advance(seconds=10)
    subscribe_directly(sandbox, practice, Plan.SEMIANNUAL)  # no event delivered: webhooks were down

    report = runner.invoke(args=["billing", "reconcile"])
    assert f"practice {practice.id} (Two Tabs Dental): live subscriptions at Stripe: local 1 != stripe 2" in (
        report.output
    )
    assert len(live_at_stripe(sandbox, practice.stripe_customer_id)) == 2  # a dry run changes nothing

    runner.invoke(args=["billing", "reconcile", "--fix"])
    assert [sub.id for sub in live_at_stripe(sandbox, practice.stripe_customer_id)] == [first.id]
    again = runner.invoke(args=["billing", "reconcile"])
    assert "live subscriptions" not in again.output


def _live(subscription_id: str, created: int, started_ns: int | None) -> dict:
    metadata = {"practiceId": "1"} | ({"startedAt": str(started_ns)} if started_ns else {})
    return {"id": subscription_id, "status": "active", "created": created, "metadata": metadata}


def test_of_two_paid_in_one_second_the_one_started_first_is_kept():
    """Stripe's ``created`` is whole seconds: the checkout's start (nanoseconds) orders them."""
    from portal.practices.duplicates import survivor

    second = 1_800_000_000
    monthly = _live("sub_zzz_monthly", second, second * 10**9 - 900_000_000)  # started, paid first
    semiannual = _live(
        "sub_aaa_semiannual", second, second * 10**9 - 400_000_000
    )  # the random id sorts first
    assert survivor([semiannual, monthly])["id"] == monthly["id"]
    assert survivor([monthly, semiannual])["id"] == monthly["id"]
    earlier_second = _live("sub_zzz_earlier", second - 1, None)  # made outside Checkout: its second
    assert survivor([monthly, earlier_second])["id"] == earlier_second["id"]


def test_monthly_then_six_months_paid_quickly_keeps_monthly(sandbox, practice, owner):
    """The attacker's steps: pay Monthly's Checkout, then start and pay 6 months' within the second."""
    from portal.practices import duplicates

    client = sandbox.client()
    with db.session.no_autoflush:
        monthly_url = practice_checkout.start_checkout(practice, Plan.MONTHLY, owner)
        assert (
            requests.post(f"{monthly_url}/pay", data=CARD, allow_redirects=False, timeout=10).status_code
            == 303
        )
        semiannual_url = practice_checkout.start_checkout(practice, Plan.SEMIANNUAL, owner)
        assert (
            requests.post(f"{semiannual_url}/pay", data=CARD, allow_redirects=False, timeout=10).status_code
            == 303
        )
    sessions = [
        client.v1.checkout.sessions.retrieve(url.rsplit("/", 1)[1]) for url in (monthly_url, semiannual_url)
    ]
    subscriptions = [client.v1.subscriptions.retrieve(session.subscription) for session in sessions]
    for session, subscription in zip(sessions, subscriptions, strict=True):
        assert subscription.metadata["startedAt"] == session.metadata["startedAt"]  # carried over

    kept = duplicates.resolve(practice)  # what the late webhook of either one does
    db.session.commit()

    assert kept["id"] == subscriptions[0].id
    assert [sub.id for sub in live_at_stripe(sandbox, practice.stripe_customer_id)] == [subscriptions[0].id]
