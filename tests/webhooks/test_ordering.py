"""Stripe may send events late, twice and out of order: every order ends in the newest state.

Each scenario is a set of events about one customer's cards. Every permutation
is delivered (each event followed later by its duplicate) through the same
service the endpoint calls; the mirror must end exactly where delivering the
events in ``created`` order ends, and that state is spelled out by hand.
"""

from __future__ import annotations

import itertools
import json

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.users.models import User
from portal.wallet.models import PaymentMethod, StripeObjectVersion
from portal.webhooks.models import WebhookEvent
from portal.webhooks.services import Outcome, receive_event
from tests.conftest import both_engines
from tests.stripe_payloads import customer, deleted_customer, make_event, payment_method

CUS = "cus_test_1"


def attached(pm_id: str, created: int, **card) -> dict:
    return make_event("payment_method.attached", payment_method(pm_id, CUS, **card), created=created)


def updated(pm_id: str, created: int, **card) -> dict:
    return make_event("payment_method.updated", payment_method(pm_id, CUS, **card), created=created)


def detached(pm_id: str, created: int) -> dict:
    return make_event("payment_method.detached", payment_method(pm_id, None), created=created)


def default_is(pm_id: str | None, created: int) -> dict:
    return make_event("customer.updated", customer(CUS, default_payment_method=pm_id), created=created)


def customer_gone(created: int) -> dict:
    return make_event("customer.deleted", deleted_customer(CUS), created=created)


def card(pm_id, brand="visa", last4="4242", exp=(8, 2030), default=False, synced_at=0):
    return (pm_id, CUS, brand, last4, *exp, default, synced_at)


SCENARIOS = {
    "two cards, the default moves, one card renewed": (
        [
            attached("pm_a", 100),
            attached("pm_b", 110, brand="mastercard", last4="4444"),
            default_is("pm_a", 120),
            updated("pm_a", 130, exp_month=9, exp_year=2031),
            default_is("pm_b", 140),
        ],
        {
            "cards": [
                card("pm_a", exp=(9, 2031), synced_at=130),
                card("pm_b", brand="mastercard", last4="4444", default=True, synced_at=110),
            ],
            "user_customer": CUS,
        },
    ),
    "the default card is detached; a late attach must not revive it": (
        [
            attached("pm_a", 100),
            attached("pm_b", 105, last4="1881"),
            updated("pm_a", 110, exp_year=2032),
            default_is("pm_b", 115),
            detached("pm_b", 130),
        ],
        {"cards": [card("pm_a", exp=(8, 2032), synced_at=110)], "user_customer": CUS},
    ),
    "the customer is deleted": (
        [
            attached("pm_a", 100),
            default_is("pm_a", 110),
            updated("pm_a", 115, exp_year=2033),
            customer_gone(120),
        ],
        {"cards": [], "user_customer": None},
    ),
}


def mirror_state() -> dict:
    db.session.expire_all()
    cards = db.session.execute(
        sa.select(
            PaymentMethod.stripe_id,
            PaymentMethod.customer_id,
            PaymentMethod.brand,
            PaymentMethod.last4,
            PaymentMethod.exp_month,
            PaymentMethod.exp_year,
            PaymentMethod.is_default,
            PaymentMethod.stripe_synced_at,
        ).order_by(PaymentMethod.stripe_id)
    ).all()
    user_customer = db.session.scalar(sa.select(User.stripe_customer_id))
    return {"cards": [tuple(row) for row in cards], "user_customer": user_customer}


def reset() -> None:
    for model in (WebhookEvent, PaymentMethod, StripeObjectVersion):
        db.session.execute(sa.delete(model))
    db.session.execute(sa.update(User).values(stripe_customer_id=CUS))
    db.session.commit()


def deliver_in_order(events: list[dict]) -> None:
    """Each event, then every duplicate again in reverse: duplicates arrive late, after newer events."""
    for event in [*events, *reversed(events)]:
        assert receive_event(event, json.dumps(event)) in {Outcome.PROCESSED, Outcome.DUPLICATE}


@pytest.mark.parametrize("name", SCENARIOS)
def test_every_order_ends_in_the_newest_state(app, customer_user, name):
    events, expected = SCENARIOS[name]
    chronological = sorted(events, key=lambda e: e["created"])
    deliver_in_order(chronological)
    assert mirror_state() == expected

    for order in itertools.permutations(events):
        reset()
        deliver_in_order(list(order))
        assert mirror_state() == expected, [f"{e['type']}@{e['created']}" for e in order]


@both_engines
def test_reverse_order_on_both_engines(app, customer_user):
    events, expected = SCENARIOS["the default card is detached; a late attach must not revive it"]
    deliver_in_order(sorted(events, key=lambda e: -e["created"]))
    assert mirror_state() == expected
