"""Stripe delivers the same event several times at once: one row, one effect, every answer 2xx."""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import sqlalchemy as sa
from werkzeug.serving import make_server

from portal.extensions import db
from portal.wallet.models import PaymentMethod
from portal.webhooks.handlers import EVENT_HANDLERS
from portal.webhooks.models import EventStatus, WebhookEvent
from tests.conftest import both_engines
from tests.stripe_payloads import make_event, payment_method, signature
from tests.webhooks.conftest import count

DELIVERIES = 8


def _deliver_all_at_once(app, bodies: list[str]) -> list:
    """One thread and one test client per body, released together."""
    barrier = threading.Barrier(len(bodies))

    def post(body: str):
        client = app.test_client()
        headers = {"Stripe-Signature": signature(body)}
        barrier.wait()
        return client.post("/webhooks/stripe", data=body, headers=headers, content_type="application/json")

    with ThreadPoolExecutor(len(bodies)) as pool:
        return list(pool.map(post, bodies))


@both_engines
def test_concurrent_duplicates_run_the_handler_once(app, monkeypatch):
    calls = []
    original = EVENT_HANDLERS["payment_method.attached"]

    def slow_counting_handler(event: dict) -> None:
        calls.append(event["id"])
        time.sleep(0.05)  # widen the window in which a second delivery could slip in
        original(event)

    monkeypatch.setitem(EVENT_HANDLERS, "payment_method.attached", slow_counting_handler)
    event = make_event("payment_method.attached", payment_method("pm_1", "cus_1"))

    responses = _deliver_all_at_once(app, [json.dumps(event)] * DELIVERIES)

    assert [r.status_code for r in responses] == [200] * DELIVERIES, [
        r.get_data(as_text=True) for r in responses
    ]
    assert sorted(r.json["outcome"] for r in responses) == ["duplicate"] * (DELIVERIES - 1) + ["processed"]
    assert calls == [event["id"]]
    db.session.expire_all()
    assert count(WebhookEvent) == 1 and count(PaymentMethod) == 1
    row = db.session.scalar(sa.select(WebhookEvent))
    assert row.status == EventStatus.PROCESSED and row.attempts == 1


@both_engines
def test_concurrent_events_about_one_card_end_in_the_newest_state(app):
    """attached / updated / detached of one card racing each other (and their duplicates)."""
    events = [
        make_event("payment_method.attached", payment_method("pm_1", "cus_1"), created=1000),
        make_event("payment_method.updated", payment_method("pm_1", "cus_1", exp_year=2031), created=1001),
        make_event("payment_method.updated", payment_method("pm_1", "cus_1", exp_year=2032), created=1002),
        make_event("payment_method.detached", payment_method("pm_1", None), created=1003),
    ]
    bodies = [json.dumps(e) for e in events] * 2

    responses = _deliver_all_at_once(app, bodies)

    assert all(r.status_code == 200 for r in responses), [r.get_data(as_text=True) for r in responses]
    db.session.expire_all()
    assert count(WebhookEvent) == len(events)
    assert count(PaymentMethod) == 0


@both_engines
def test_concurrent_duplicates_over_real_http(app):
    """The same race through a real threaded server and sockets, as gunicorn's threads would see it."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    event = make_event("payment_method.attached", payment_method("pm_1", "cus_1"))
    body = json.dumps(event).encode()
    barrier = threading.Barrier(DELIVERIES)

    def post(_: int) -> tuple[int, str]:
        request = urllib.request.Request(
            f"http://127.0.0.1:{server.server_port}/webhooks/stripe",
            data=body,
            headers={"Stripe-Signature": signature(body), "Host": "portal.test"},
            method="POST",
        )
        barrier.wait()
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())["outcome"]

    try:
        with ThreadPoolExecutor(DELIVERIES) as pool:
            results = list(pool.map(post, range(DELIVERIES)))
    finally:
        server.shutdown()
        thread.join()

    assert sorted(results) == [(200, "duplicate")] * (DELIVERIES - 1) + [(200, "processed")]
    db.session.expire_all()
    assert count(WebhookEvent) == 1 and count(PaymentMethod) == 1
