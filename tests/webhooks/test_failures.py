"""A handler that dies half-way keeps nothing, is recorded, and the redelivery does the work once."""

from __future__ import annotations

import sqlalchemy as sa

from portal.extensions import db
from portal.wallet.models import PaymentMethod
from portal.webhooks.handlers import EVENT_HANDLERS
from portal.webhooks.models import EventStatus, WebhookEvent
from tests.conftest import both_engines
from tests.stripe_payloads import deliver, make_event, payment_method
from tests.webhooks.conftest import count


def _row() -> WebhookEvent:
    db.session.expire_all()
    return db.session.scalar(sa.select(WebhookEvent))


@both_engines
def test_handler_killed_mid_way_then_redelivered(client, monkeypatch):
    original = EVENT_HANDLERS["payment_method.attached"]
    crash = {"on": True}
    effects = []

    def dies_after_writing(event: dict) -> None:
        original(event)  # the card row is written ...
        db.session.flush()
        if crash["on"]:
            raise RuntimeError("worker killed mid-way")  # ... and the worker dies before the end
        effects.append(event["id"])

    monkeypatch.setitem(EVENT_HANDLERS, "payment_method.attached", dies_after_writing)
    event = make_event("payment_method.attached", payment_method("pm_1", "cus_1"))

    response = deliver(client, event)
    assert response.status_code == 500  # Stripe will retry
    row = _row()
    assert row.status == EventStatus.FAILED
    assert row.attempts == 1
    assert "RuntimeError: worker killed mid-way" in row.last_error
    assert count(PaymentMethod) == 0  # the half-done write was rolled back

    assert deliver(client, event).status_code == 500  # still broken: still retried, still nothing kept
    assert _row().attempts == 2 and count(PaymentMethod) == 0

    crash["on"] = False
    response = deliver(client, event)
    assert response.status_code == 200 and response.json["outcome"] == "processed"
    row = _row()
    assert row.status == EventStatus.PROCESSED
    assert row.attempts == 3
    assert row.last_error is None
    assert count(PaymentMethod) == 1 and effects == [event["id"]]

    assert deliver(client, event).status_code == 200  # a late duplicate changes nothing
    assert _row().attempts == 3 and count(PaymentMethod) == 1 and effects == [event["id"]]


def test_a_database_error_in_a_handler_is_recorded_too(client, monkeypatch):
    def violates_a_constraint(event: dict) -> None:
        db.session.add(PaymentMethod(stripe_id="pm_x", customer_id=None, brand="visa", last4="4242"))
        db.session.flush()

    monkeypatch.setitem(EVENT_HANDLERS, "payment_method.attached", violates_a_constraint)
    event = make_event("payment_method.attached", payment_method("pm_1", "cus_1"))
    assert deliver(client, event).status_code == 500
    row = _row()
    assert row.status == EventStatus.FAILED and "IntegrityError" in row.last_error


def test_a_handler_that_commits_fails_and_keeps_nothing(client, monkeypatch):
    def commits_itself(event: dict) -> None:
        db.session.add(PaymentMethod(stripe_id="pm_x", customer_id="cus_1", brand="visa", last4="4242"))
        db.session.commit()

    monkeypatch.setitem(EVENT_HANDLERS, "payment_method.attached", commits_itself)
    event = make_event("payment_method.attached", payment_method("pm_1", "cus_1"))
    assert deliver(client, event).status_code == 500
    row = _row()
    assert row.status == EventStatus.FAILED and "must not commit" in row.last_error
    assert count(PaymentMethod) == 0
