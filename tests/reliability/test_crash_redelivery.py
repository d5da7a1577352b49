"""Figure 4: a handler that dies half-way keeps nothing; Stripe's redelivery then has exactly one effect.

Each handler runs its real work (rows written, emails due), then the worker "dies"
before the end. The delivery answers 500 and nothing of it is kept; the redelivery
is processed once, and a late duplicate changes nothing.
"""

from __future__ import annotations

import time

from portal.extensions import db
from portal.webhooks.handlers import EVENT_HANDLERS
from portal.webhooks.models import EventStatus, WebhookEvent
from tests.practices.conftest import make_practice
from tests.practices.test_mirror import subscribed
from tests.reliability.conftest import row_counts
from tests.reliability.test_concurrent_duplicates import _events
from tests.stripe_payloads import deliver


def _effects() -> dict[str, int]:
    counts = row_counts()
    counts.pop(WebhookEvent.__tablename__)
    return counts


def test_crash_then_redelivery_has_one_effect(client, user_factory, mailbox, monkeypatch, figure):
    owner = user_factory(name="Olive Owner")
    practice = make_practice(owner)
    subscribed(practice)
    mailbox.clear()
    crashes: set[str] = set()
    completed: list[str] = []

    def dies_once(event_type: str):
        original = EVENT_HANDLERS[event_type]

        def handler(event: dict) -> None:
            original(event)  # the real work: rows written, emails due ...
            db.session.flush()
            if event["id"] not in crashes:
                crashes.add(event["id"])
                raise RuntimeError("worker killed mid-way")  # ... and the worker dies before the end
            completed.append(event["id"])

        return handler

    events = _events(practice)
    for event_type in events:
        monkeypatch.setitem(EVENT_HANDLERS, event_type, dies_once(event_type))

    for event_type, event in events.items():
        before = _effects()
        response = deliver(client, event)
        assert response.status_code == 500, event_type  # Stripe will retry
        assert _effects() == before, f"{event_type}: the crashed run left effects behind"
        row = db.session.scalar(db.select(WebhookEvent).filter_by(stripe_event_id=event["id"]))
        assert row.status == EventStatus.FAILED and "worker killed" in row.last_error

        response = deliver(client, event)  # Stripe's redelivery
        assert response.status_code == 200 and response.json["outcome"] == "processed", event_type
        after = _effects()
        response = deliver(client, event)  # and a late duplicate
        assert response.json["outcome"] == "duplicate"
        assert _effects() == after
        db.session.expire_all()
        row = db.session.scalar(db.select(WebhookEvent).filter_by(stripe_event_id=event["id"]))
        assert row.status == EventStatus.PROCESSED and row.attempts == 2

    assert sorted(completed) == sorted(e["id"] for e in events.values())
    mailbox.wait_for(owner.email, "a payment failed")
    mailbox.wait_for(owner.email, "receipt for invoice")
    time.sleep(0.3)
    emails = sorted(m["Subject"] for m in mailbox.to(owner.email))
    assert emails == [  # one of each, not one per run
        f"{practice.name}: a payment failed",
        f"{practice.name}: receipt for invoice PB-0001",
    ], emails

    figure(
        "crash_redelivery",
        len(events),
        f"event types crashed mid-handler then redelivered -> {len(completed)} effects (1 each), "
        f"0 left by the crashed runs, {len(emails)} email",
    )
