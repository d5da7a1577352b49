"""A trial and a pause, their events delivered in every order, each twice: the mirror ends in the
newest state, and the trial's email goes at most once (none when the trial had already ended)."""

from __future__ import annotations

import itertools
import json

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.mail.models import OutboundEmail
from portal.practices.models import BillingAuditEntry, Practice
from portal.webhooks.models import WebhookEvent
from portal.webhooks.services import Outcome, receive_event
from tests.factories import PracticeFactory, UserFactory
from tests.stripe_payloads import DAY, T0, event, subscription

CUS = "cus_trial_pause"
TRIAL_END = T0 + 14 * DAY


def sub_state(practice_id: int, at: int, *, status: str, pause: dict | None = None) -> dict:
    trialing = status == "trialing"
    sub = subscription(
        practice_id,
        CUS,
        status=status,
        period_start=T0 if trialing else TRIAL_END,
        period_end=TRIAL_END if trialing else TRIAL_END + 30 * DAY,
    )
    sub.update(trial_start=T0, trial_end=TRIAL_END, pause_collection=pause)
    return sub


def scenario(practice_id: int, paused_last: bool) -> list[dict]:
    pause = {"behavior": "void", "resumes_at": TRIAL_END + 60 * DAY}
    events = [
        event("customer.subscription.created", sub_state(practice_id, T0, status="trialing"), T0),
        event(
            "customer.subscription.trial_will_end",
            sub_state(practice_id, TRIAL_END - 3 * DAY, status="trialing"),
            TRIAL_END - 3 * DAY,
        ),
        event("customer.subscription.updated", sub_state(practice_id, TRIAL_END, status="active"), TRIAL_END),
    ]
    if paused_last:
        paused = sub_state(practice_id, TRIAL_END + DAY, status="active", pause=pause)
        events.append(event("customer.subscription.updated", paused, TRIAL_END + DAY))
    return events


def reset(practice: Practice) -> None:
    for model in (WebhookEvent, OutboundEmail, BillingAuditEntry):
        db.session.execute(sa.delete(model))
    db.session.execute(
        sa.update(Practice)
        .where(Practice.id == practice.id)
        .values(
            stripe_subscription_id=None,
            subscription_status=None,
            stripe_state_at=0,
            trial_end=None,
            pause_behavior=None,
            pause_resumes_at=None,
        )
    )
    db.session.commit()


def deliver(events: list[dict]) -> None:
    """Each event, then each again in reverse: duplicates arrive late, after newer events."""
    for one in [*events, *reversed(events)]:
        assert receive_event(one, json.dumps(one)) in {Outcome.PROCESSED, Outcome.DUPLICATE}


def state(practice_id: int) -> tuple:
    db.session.expire_all()
    practice = db.session.get(Practice, practice_id)
    return (
        practice.subscription_status,
        practice.trial_end,
        practice.pause_behavior,
        practice.pause_resumes_at,
    )


def trial_emails() -> int:
    query = sa.select(sa.func.count()).where(OutboundEmail.template == "practice_trial_ending")
    return db.session.scalar(query)


@pytest.mark.parametrize("paused_last", [False, True], ids=["trial ends", "then paused"])
def test_every_order_ends_in_the_newest_state_and_emails_once_at_most(app, paused_last):
    owner = UserFactory(name="Olive Owner")
    practice = PracticeFactory(name="Harbour Dental", owner=owner, stripe_customer_id=CUS)
    events = scenario(practice.id, paused_last)
    deliver(sorted(events, key=lambda e: e["created"]))
    expected = state(practice.id)
    assert expected[0] == "active" and (expected[2] == "void") is paused_last
    # In Stripe's order the notice came while the subscription was on trial: one email.
    assert trial_emails() == 1

    for order in itertools.permutations(events):
        reset(practice)
        deliver(list(order))
        names = [f"{e['type']}@{e['created']}" for e in order]
        assert state(practice.id) == expected, names
        assert trial_emails() <= 1, names
        # A notice delivered after the trial ended (the newer state) sends nothing.
        notice = [e["type"] for e in order].index("customer.subscription.trial_will_end")
        first_after_trial = min(i for i, e in enumerate(order) if e["created"] >= TRIAL_END)
        if notice > first_after_trial:
            assert trial_emails() == 0, names
