"""Figure 3: events delivered in every order (each duplicated late) converge on the newest state.

The card scenarios are the wallet's (tests/webhooks/test_ordering.py); the practice
scenarios follow a renewal: payment failed, past due, paid, active again; and a
cancellation ending in deletion. Each permutation is applied to a fresh practice
through the same service the endpoint calls.
"""

from __future__ import annotations

import itertools
import json

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.practices.checkout_mirror import fulfil_checkout_session
from portal.practices.models import PracticeInvoice
from portal.practices.notifications import DECLINE_REASONS
from portal.webhooks.services import Outcome, receive_event
from tests import stripe_payloads as p
from tests.practices.conftest import make_practice
from tests.stripe_payloads import DAY, T0, make_event
from tests.webhooks.conftest import customer_user  # noqa: F401  (a fixture)
from tests.webhooks.test_ordering import SCENARIOS, deliver_in_order, mirror_state, reset

_practices = itertools.count(1)


def _fresh_practice(owner):
    """A practice right after its paid checkout, with ids of its own."""
    n = next(_practices)
    practice = make_practice(owner, name=f"Perm {n}", customer_id=f"cus_perm{n}")
    cus = practice.stripe_customer_id
    sub = p.subscription(practice.id, cus, id=f"sub_perm{n}")
    first = p.invoice(
        practice.id,
        cus,
        id=f"in_first{n}",
        subscription=sub["id"],
        billing_reason="subscription_create",
        amount=59800,
        created=T0,
    )
    session = p.checkout_session(practice.id, cus, id=f"cs_perm{n}", subscription=sub, invoice=first)
    fulfil_checkout_session(session, T0)
    db.session.commit()
    return practice, n


def renewal_failed_then_paid(practice, n: int) -> list[dict]:
    cus, sub_id, t = practice.stripe_customer_id, f"sub_perm{n}", T0 + 30 * DAY

    def sub(status: str, created: int, **kw) -> dict:
        obj = p.subscription(
            practice.id, cus, id=sub_id, status=status, period_start=t, period_end=t + 30 * DAY, **kw
        )
        return make_event("customer.subscription.updated", obj, created=created)

    renew = dict(id=f"in_renew{n}", subscription=sub_id)
    return [
        make_event(
            "invoice.payment_failed",
            p.with_payment_error(p.invoice(practice.id, cus, status="open", created=t, **renew)),
            created=t,
        ),
        sub("past_due", t + 1),
        make_event(
            "invoice.paid", p.invoice(practice.id, cus, status="paid", created=t + 2, **renew), created=t + 2
        ),
        sub("active", t + 3),
    ]


def cancelled_after_failure(practice, n: int) -> list[dict]:
    cus, sub_id, t = practice.stripe_customer_id, f"sub_perm{n}", T0 + 30 * DAY

    def sub(event_type: str, status: str, created: int, **kw) -> dict:
        obj = p.subscription(
            practice.id, cus, id=sub_id, status=status, period_start=t, period_end=t + 30 * DAY, **kw
        )
        return make_event(event_type, obj, created=created)

    return [
        make_event(
            "invoice.payment_failed",
            p.with_payment_error(
                p.invoice(practice.id, cus, id=f"in_renew{n}", subscription=sub_id, status="open", created=t)
            ),
            created=t,
        ),
        sub("customer.subscription.updated", "past_due", t + 1),
        sub("customer.subscription.updated", "past_due", t + 2, cancel_at_period_end=True),
        sub("customer.subscription.deleted", "canceled", t + 3),
    ]


PRACTICE_SCENARIOS = {
    "renewal fails, then is paid": renewal_failed_then_paid,
}


def practice_state(practice) -> tuple:
    db.session.expire_all()
    invoices = db.session.scalars(
        sa.select(PracticeInvoice.status)
        .where(PracticeInvoice.practice_id == practice.id)
        .order_by(PracticeInvoice.status)
    ).all()
    return (
        practice.billing_status,
        practice.subscription_status,
        practice.last_payment_error,
        practice.cancel_at_period_end,
        practice.current_period_end,
        practice.onboarding_paid_at is not None,
        tuple(invoices),
    )


def deliver_with_late_duplicates(events: list[dict]) -> None:
    for event in [*events, *reversed(events)]:
        assert receive_event(event, json.dumps(event)) in {Outcome.PROCESSED, Outcome.DUPLICATE}


@pytest.mark.usefixtures("customer_user")
def test_every_permutation_converges(app, user_factory, figure):
    checked = 0
    # The wallet: cards attached, updated, made default, detached, the customer deleted.
    for name, (events, expected) in SCENARIOS.items():
        for order in itertools.permutations(events):
            reset()
            deliver_in_order(list(order))
            assert mirror_state() == expected, (name, [f"{e['type']}@{e['created']}" for e in order])
            checked += 1

    # A practice's subscription: every order ends where the chronological one ends.
    owner = user_factory(name="Perm Owner")
    for name, scenario in PRACTICE_SCENARIOS.items():
        practice, n = _fresh_practice(owner)
        deliver_with_late_duplicates(scenario(practice, n))
        expected = practice_state(practice)
        for order in itertools.permutations(range(4)):
            practice, n = _fresh_practice(owner)
            events = scenario(practice, n)
            deliver_with_late_duplicates([events[i] for i in order])
            assert practice_state(practice) == expected, (name, order)
            checked += 1
        assert expected[0].name in {"DONE", "CANCELLED"}, (name, expected)

    figure("event_permutations", checked, "event orders (each with late duplicates) checked, all converged")


def _converges(owner, scenario) -> tuple[int, list[tuple[int, ...]]]:
    practice, n = _fresh_practice(owner)
    deliver_with_late_duplicates(scenario(practice, n))
    expected = practice_state(practice)
    diverging = []
    for order in itertools.permutations(range(4)):
        practice, n = _fresh_practice(owner)
        events = scenario(practice, n)
        deliver_with_late_duplicates([events[i] for i in order])
        if practice_state(practice) != expected:
            diverging.append(order)
    return expected, diverging


def test_the_renewal_scenario_ends_done(app, user_factory):
    owner = user_factory(name="Perm Owner")
    practice, n = _fresh_practice(owner)
    deliver_with_late_duplicates(renewal_failed_then_paid(practice, n))
    assert (practice.billing_status.name, practice.subscription_status) == ("DONE", "active")
    assert practice.last_payment_error is None


def test_a_late_payment_failed_still_records_its_reason(app, user_factory):
    owner = user_factory(name="Perm Owner")
    expected, diverging = _converges(owner, cancelled_after_failure)
    assert expected[0].name == "CANCELLED" and expected[2] == DECLINE_REASONS["insufficient_funds"]
    assert diverging == [], f"{len(diverging)} of 24 orders lose the decline reason: {diverging[:3]}"
