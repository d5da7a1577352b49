"""Figure 2: the same event delivered 8 times at once, for several event types, has one effect each."""

from __future__ import annotations

import json
import time

import sqlalchemy as sa

from portal.extensions import db
from portal.practices.models import PracticeInvoice
from portal.wallet.models import PaymentMethod
from portal.webhooks.handlers import EVENT_HANDLERS
from portal.webhooks.models import EventStatus, WebhookEvent
from tests import stripe_payloads as p
from tests.conftest import both_engines
from tests.practices.conftest import make_practice
from tests.practices.test_mirror import subscribed
from tests.stripe_payloads import DAY, T0, customer, make_event, payment_method
from tests.webhooks.test_concurrency import DELIVERIES, _deliver_all_at_once


def _events(practice) -> dict[str, dict]:
    """One real-shaped event per type, about the practice's customer (or a card's)."""
    cus = practice.stripe_customer_id
    t = T0 + 30 * DAY
    failed = p.with_payment_error(p.invoice(practice.id, cus, id="in_renew", status="open", created=t))
    return {
        "payment_method.attached": make_event("payment_method.attached", payment_method("pm_dup", cus)),
        "customer.updated": make_event("customer.updated", customer(cus, default_payment_method="pm_dup")),
        "invoice.payment_failed": make_event("invoice.payment_failed", failed, created=t),
        "customer.subscription.updated": make_event(
            "customer.subscription.updated",
            p.subscription(practice.id, cus, status="past_due", period_start=t, period_end=t + 30 * DAY),
            created=t + 1,
        ),
        "invoice.paid": make_event(
            "invoice.paid",
            p.invoice(practice.id, cus, id="in_renew", status="paid", created=t + 2),
            created=t + 2,
        ),
    }


@both_engines
def test_concurrent_duplicates_have_one_effect(app, user_factory, mailbox, monkeypatch, figure, engine):
    owner = user_factory(name="Olive Owner")
    practice = make_practice(owner)
    subscribed(practice)
    mailbox.clear()
    runs: dict[str, list[str]] = {}

    def counting(event_type: str):
        original = EVENT_HANDLERS[event_type]

        def handler(event: dict) -> None:
            runs.setdefault(event_type, []).append(event["id"])
            time.sleep(0.03)  # widen the window in which a second delivery could slip in
            original(event)

        return handler

    events = _events(practice)
    for event_type in events:
        monkeypatch.setitem(EVENT_HANDLERS, event_type, counting(event_type))

    for event_type, event in events.items():  # in order: each type raced by its own duplicates
        responses = _deliver_all_at_once(app, [json.dumps(event)] * DELIVERIES)
        assert [r.status_code for r in responses] == [200] * DELIVERIES, event_type
        outcomes = sorted(r.json["outcome"] for r in responses)
        assert outcomes == ["duplicate"] * (DELIVERIES - 1) + ["processed"], (event_type, outcomes)

    db.session.expire_all()
    assert {t: len(ids) for t, ids in runs.items()} == dict.fromkeys(events, 1)
    rows = db.session.scalars(sa.select(WebhookEvent)).all()
    assert len(rows) == len(events)
    assert all(row.status == EventStatus.PROCESSED and row.attempts == 1 for row in rows)
    assert db.session.scalar(sa.select(sa.func.count(PaymentMethod.id))) == 1
    assert (
        db.session.scalar(
            sa.select(sa.func.count(PracticeInvoice.id)).where(PracticeInvoice.stripe_id == "in_renew")
        )
        == 1
    )
    mailbox.wait_for(owner.email, "a payment failed")
    mailbox.wait_for(owner.email, "receipt for invoice")
    time.sleep(0.3)
    subjects = sorted(str(message["Subject"]).partition(": ")[2] for message in mailbox.to(owner.email))
    assert subjects == ["a payment failed", "receipt for invoice PB-0001"]  # one of each, not eight

    effects = sum(len(ids) for ids in runs.values())
    figure(
        f"concurrent_duplicates[{engine}]",
        len(events),
        f"event types x {DELIVERIES} concurrent identical deliveries -> {effects} handler runs "
        f"(1 each), {len(rows)} inbox rows, 1 email of each kind (payment failed, receipt)",
    )
