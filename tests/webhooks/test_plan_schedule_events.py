"""Issue 17: the events of a plan switch at period end (``subscription_schedule.*``, the
subscription's, ``customer.updated`` for the balance) delivered shuffled, each twice, through the
service the endpoint calls: every order ends where Stripe is, and a repeat changes nothing."""

from __future__ import annotations

import datetime as dt
import json
import random

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.gateway.shapes import object_id
from portal.practices import members
from portal.practices.models import Plan, Practice
from portal.practices.plans import price_id
from portal.webhooks.models import WebhookEvent
from portal.webhooks.services import Outcome, receive_event
from tests.conftest import both_engines
from tests.practices.sandbox_helpers import save_card, subscribe_directly

#: The practice's fields these events decide.
FIELDS = (
    "plan",
    "pending_plan",
    "pending_plan_at",
    "schedule_id",
    "customer_balance",
    "subscription_status",
    "current_period_start",
    "current_period_end",
    "stripe_state_at",
    "customer_balance_at",
)
#: The fields compared (the stamps may differ by order; what they guard may not).
COMPARED = FIELDS[:7]


@pytest.fixture
def plans(runner):
    result = runner.invoke(args=["billing", "bootstrap"])
    assert result.exit_code == 0, result.output


@pytest.fixture
def practice(user_factory, plans):
    return members.create_practice(user_factory(name="Olive Owner"), "Harbour Dental")


class Feed:
    """The sandbox's new events of one customer, for delivery in any order."""

    def __init__(self, sandbox, customer_id: str) -> None:
        self.sandbox = sandbox
        self.customer_id = customer_id
        self.seen = {event["id"] for event in sandbox.events()}

    def take(self) -> list[dict]:
        new = []
        for event in self.sandbox.events():
            if event["id"] in self.seen:
                continue
            self.seen.add(event["id"])
            obj = event["data"]["object"]
            if self.customer_id in (object_id(obj.get("customer")), obj.get("id")):
                new.append(event)
        return new


def deliver(events: list[dict]) -> None:
    """Each event, then every duplicate again in reverse: duplicates arrive late, after newer events."""
    for event in [*events, *reversed(events)]:
        assert receive_event(event, json.dumps(event)) in {
            Outcome.PROCESSED,
            Outcome.DUPLICATE,
            Outcome.IGNORED,
        }


def snapshot(practice: Practice) -> dict:
    db.session.expire_all()
    fresh = db.session.get(Practice, practice.id)
    return {field: getattr(fresh, field) for field in FIELDS}


def restore(practice: Practice, before: dict) -> None:
    db.session.execute(sa.delete(WebhookEvent))
    db.session.execute(sa.update(Practice).where(Practice.id == practice.id).values(**before))
    db.session.commit()


def compared(state: dict) -> dict:
    return {field: state[field] for field in COMPARED}


def check_every_order(practice: Practice, before: dict, events: list[dict], rounds: int = 6) -> dict:
    restore(practice, before)
    deliver(sorted(events, key=lambda e: e["created"]))
    expected = compared(snapshot(practice))
    shuffler = random.Random(17)
    for _ in range(rounds):
        order = list(events)
        shuffler.shuffle(order)
        restore(practice, before)
        deliver(order)
        assert compared(snapshot(practice)) == expected, [f"{e['type']}@{e['created']}" for e in order]
    return expected


def schedule_monthly(client, subscription_id: str) -> str:
    """What a Dashboard user or the portal does: a schedule with a Monthly phase after this period."""
    schedule = client.v1.subscription_schedules.create({"from_subscription": subscription_id})
    phase = schedule.phases[0]
    client.v1.subscription_schedules.update(
        schedule.id,
        {
            "end_behavior": "release",
            "phases": [
                {
                    "items": [{"price": phase["items"][0].price}],
                    "start_date": phase.start_date,
                    "end_date": phase.end_date,
                },
                {"items": [{"price": price_id(Plan.MONTHLY.lookup_key)}]},
            ],
        },
    )
    return schedule.id


@both_engines
def test_schedule_made_released_and_made_again_in_any_order(engine, sandbox, practice):
    client = sandbox.client()
    feed = Feed(sandbox, practice.stripe_customer_id)
    save_card(sandbox, practice)
    sub = subscribe_directly(sandbox, practice, Plan.SEMIANNUAL)
    deliver(feed.take())
    before = snapshot(practice)
    assert before["plan"] == Plan.SEMIANNUAL and before["pending_plan"] is None

    first = schedule_monthly(client, sub.id)
    client.v1.subscription_schedules.release(first)
    second = schedule_monthly(client, sub.id)
    events = feed.take()
    assert {"subscription_schedule.created", "subscription_schedule.released"} <= {e["type"] for e in events}

    state = check_every_order(practice, before, events)
    period_end = sub["items"].data[0].current_period_end
    assert state["pending_plan"] == Plan.MONTHLY
    assert state["schedule_id"] == second
    assert state["pending_plan_at"] == dt.datetime.fromtimestamp(period_end, dt.UTC).replace(tzinfo=None)


def test_the_phase_change_and_a_switch_now_credit_in_any_order(sandbox, practice):
    client = sandbox.client()
    feed = Feed(sandbox, practice.stripe_customer_id)
    save_card(sandbox, practice)
    sub = subscribe_directly(sandbox, practice, Plan.SEMIANNUAL)
    schedule_monthly(client, sub.id)
    deliver(feed.take())
    before = snapshot(practice)
    assert before["pending_plan"] == Plan.MONTHLY

    sandbox.settings(renewal_draft_hours=0)
    try:
        sandbox.advance(seconds=sub["items"].data[0].current_period_end - sandbox.now() + 60)
    finally:
        sandbox.settings(renewal_draft_hours=1)
    state = check_every_order(practice, before, feed.take())
    assert state["plan"] == Plan.MONTHLY
    assert state["pending_plan"] is None and state["schedule_id"] is None

    # Switch back up and down now: the unused time lands on the balance; an adjustment follows.
    before = snapshot(practice)
    item = client.v1.subscriptions.retrieve(sub.id)["items"].data[0]
    client.v1.subscriptions.update(
        sub.id,
        {
            "items": [{"id": item.id, "price": price_id(Plan.SEMIANNUAL.lookup_key)}],
            "proration_behavior": "none",
        },
    )
    sandbox.advance(seconds=5)  # two changes of one second are one state to Stripe's events' clock
    item = client.v1.subscriptions.retrieve(sub.id)["items"].data[0]
    client.v1.subscriptions.update(
        sub.id,
        {
            "items": [{"id": item.id, "price": price_id(Plan.MONTHLY.lookup_key)}],
            "proration_behavior": "always_invoice",
        },
    )
    sandbox.advance(seconds=5)
    client.v1.customers.balance_transactions.create(
        practice.stripe_customer_id, {"amount": -500, "currency": "usd", "description": "Goodwill"}
    )
    state = check_every_order(practice, before, feed.take())
    assert state["customer_balance"] == client.v1.customers.retrieve(practice.stripe_customer_id).balance
    assert state["customer_balance"] < -500


class LockWatch:
    """Stands in for a slow (or unreachable) Stripe on one gateway module's reads (the schedules'
    unless told): at each read it tries to write the database from another connection, as a
    person's request would meanwhile."""

    def __init__(self, app, monkeypatch, *, outage: bool = False, gateway=None) -> None:
        from portal.gateway import schedules as stripe_schedules

        gateway = gateway or stripe_schedules
        self.path = sa.engine.make_url(app.config["SQLALCHEMY_DATABASE_URI"]).database
        self.outage = outage
        self.locked: list[bool] = []
        self.real = gateway.call_stripe
        monkeypatch.setattr(gateway, "call_stripe", self.call)

    def call(self, operation, fn, **context):
        import sqlite3

        from portal.gateway.errors import StripeUnavailable

        other = sqlite3.connect(self.path, timeout=0)
        try:
            other.execute("BEGIN IMMEDIATE")
            other.rollback()
            self.locked.append(False)
        except sqlite3.OperationalError:
            self.locked.append(True)
        finally:
            other.close()
        if self.outage:
            raise StripeUnavailable()
        return self.real(operation, fn, **context)


def _switch_events(sandbox, practice) -> list[dict]:
    client = sandbox.client()
    feed = Feed(sandbox, practice.stripe_customer_id)
    save_card(sandbox, practice)
    sub = subscribe_directly(sandbox, practice, Plan.SEMIANNUAL)
    deliver(feed.take())
    schedule_monthly(client, sub.id)
    return feed.take()


def test_schedule_events_wait_for_stripe_without_holding_the_database(sandbox, practice, app, monkeypatch):
    """Attack 3 F12: the schedule reads of ``subscription_schedule.*`` and ``customer.subscription.updated``
    are made before the event's write transaction, so another writer is never locked out meanwhile."""
    events = _switch_events(sandbox, practice)
    watch = LockWatch(app, monkeypatch)
    deliver(events)
    assert watch.locked and not any(watch.locked)
    assert snapshot(practice)["pending_plan"] == Plan.MONTHLY


def test_schedule_events_fail_fast_in_an_outage_and_hold_nothing(sandbox, practice, app, monkeypatch):
    events = _switch_events(sandbox, practice)
    watch = LockWatch(app, monkeypatch, outage=True)
    outcomes = [receive_event(event, json.dumps(event)) for event in events]
    assert Outcome.FAILED in outcomes and watch.locked and not any(watch.locked)
    assert snapshot(practice)["pending_plan"] is None
    monkeypatch.undo()  # Stripe is back: the redeliveries apply them
    deliver(events)
    assert snapshot(practice)["pending_plan"] == Plan.MONTHLY


def _cancel_event(sandbox, practice) -> dict:
    """The ``customer.subscription.updated`` of a subscribed practice's cancellation at the period's
    end (made at Stripe, not delivered yet)."""
    client = sandbox.client()
    feed = Feed(sandbox, practice.stripe_customer_id)
    save_card(sandbox, practice)
    sub = subscribe_directly(sandbox, practice, Plan.MONTHLY)
    deliver(feed.take())
    client.v1.subscriptions.update(sub.id, {"cancel_at_period_end": True})
    (event,) = [e for e in feed.take() if e["type"] == "customer.subscription.updated"]
    return event


def _stale_cancel_event(sandbox, practice) -> dict:
    """The cancellation's event looking older than the practice's state, as when a later invoice
    event was delivered first: it disagrees with the practice, so the mirror settles it by reading
    the subscription from Stripe."""
    event = _cancel_event(sandbox, practice)
    db.session.execute(
        sa.update(Practice).where(Practice.id == practice.id).values(stripe_state_at=event["created"] + 60)
    )
    db.session.commit()
    return event


def test_an_older_disagreeing_subscription_event_reads_stripe_without_holding_the_database(
    sandbox, practice, app, monkeypatch
):
    """The read that settles an older, disagreeing subscription state is made before the event's
    write transaction, like the schedule reads (it was made inside it, holding SQLite's lock)."""
    from portal.gateway import subscriptions as stripe_subscriptions

    event = _stale_cancel_event(sandbox, practice)
    watch = LockWatch(app, monkeypatch, gateway=stripe_subscriptions)
    assert receive_event(event, json.dumps(event)) is Outcome.PROCESSED
    assert watch.locked and not any(watch.locked)
    db.session.expire_all()
    assert db.session.get(Practice, practice.id).cancel_at_period_end is True


def test_an_older_disagreeing_subscription_event_fails_fast_in_an_outage(sandbox, practice, app, monkeypatch):
    from portal.gateway import subscriptions as stripe_subscriptions

    event = _stale_cancel_event(sandbox, practice)
    watch = LockWatch(app, monkeypatch, outage=True, gateway=stripe_subscriptions)
    assert receive_event(event, json.dumps(event)) is Outcome.FAILED
    assert watch.locked and not any(watch.locked)
    db.session.expire_all()
    assert not db.session.get(Practice, practice.id).cancel_at_period_end
    monkeypatch.undo()  # Stripe is back: the redelivery applies it
    assert receive_event(event, json.dumps(event)) is Outcome.PROCESSED
    db.session.expire_all()
    assert db.session.get(Practice, practice.id).cancel_at_period_end is True


def _same_second_before_cancel(sandbox, practice) -> dict:
    """Stripe's snapshot of the cancellation's second taken before the change (it says no
    cancellation), the practice holding that second's state: the cancellation applied, its stamp
    that second (a later event of the subscription's set-up may not have moved it on)."""
    cancelled = _cancel_event(sandbox, practice)
    deliver([cancelled])
    db.session.execute(
        sa.update(Practice).where(Practice.id == practice.id).values(stripe_state_at=cancelled["created"])
    )
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(Practice, practice.id).cancel_at_period_end is True
    before = json.loads(json.dumps(cancelled))
    before["id"] = cancelled["id"] + "_before"
    before["data"]["object"]["cancel_at_period_end"] = False
    return before


def test_a_same_second_event_that_disagrees_is_settled_by_stripe_not_applied(sandbox, practice):
    """Attack 19 A15: Stripe's ``created`` counts whole seconds, so of two states of one second which
    is newer is unknown; one taken before a change (here: before the cancellation) made the practice
    flap back. An event of the practice's own second that says something else is settled by reading
    the subscription from Stripe."""
    before = _same_second_before_cancel(sandbox, practice)
    assert receive_event(before, json.dumps(before)) is Outcome.PROCESSED
    db.session.expire_all()
    assert db.session.get(Practice, practice.id).cancel_at_period_end is True


def test_a_same_second_event_in_an_outage_is_taken_at_its_word_without_holding_the_database(
    sandbox, practice, app, monkeypatch
):
    """Stripe down: nothing can settle a state of the practice's own second, so it applies as it
    says (a subscription's end still lands in an outage), and the failed read is not tried again
    inside the event's transaction."""
    from portal.gateway import subscriptions as stripe_subscriptions

    before = _same_second_before_cancel(sandbox, practice)
    watch = LockWatch(app, monkeypatch, outage=True, gateway=stripe_subscriptions)
    assert receive_event(before, json.dumps(before)) is Outcome.PROCESSED
    assert watch.locked == [False]  # one read, before the transaction
    db.session.expire_all()
    assert db.session.get(Practice, practice.id).cancel_at_period_end is False
