"""The endpoint: verify, store once, dispatch, answer."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.wallet.models import PaymentMethod
from portal.webhooks.handlers import EVENT_HANDLERS
from portal.webhooks.models import EventStatus, WebhookEvent
from tests.stripe_payloads import (
    FIXTURES,
    OLD_SECRET,
    customer,
    deliver,
    make_event,
    payment_method,
    signature,
    stripe_object,
)
from tests.webhooks.conftest import count


def _stored(event_id: str) -> WebhookEvent:
    db.session.expire_all()
    return db.session.scalar(sa.select(WebhookEvent).where(WebhookEvent.stripe_event_id == event_id))


def test_attached_card_is_stored_and_mirrored(client):
    event = make_event("payment_method.attached", payment_method("pm_1", "cus_1", brand="mastercard"))
    response = deliver(client, event)
    assert response.status_code == 200
    assert response.json == {"received": True, "outcome": "processed"}
    row = _stored(event["id"])
    assert row.status == EventStatus.PROCESSED
    assert (row.type, row.object_id, row.created, row.attempts) == (
        "payment_method.attached",
        "pm_1",
        event["created"],
        1,
    )
    assert row.api_version == event["api_version"]
    assert json.loads(row.payload) == event
    assert row.processed_at is not None
    card = db.session.scalar(sa.select(PaymentMethod))
    assert (card.stripe_id, card.customer_id, card.brand, card.last4, card.exp_month, card.exp_year) == (
        "pm_1",
        "cus_1",
        "mastercard",
        "4242",
        8,
        2030,
    )
    assert card.stripe_synced_at == event["created"]


def test_duplicate_is_acknowledged_without_a_second_effect(client, monkeypatch):
    calls = []
    original = EVENT_HANDLERS["payment_method.attached"]
    monkeypatch.setitem(EVENT_HANDLERS, "payment_method.attached", lambda e: (calls.append(e), original(e)))
    event = make_event("payment_method.attached", payment_method("pm_1", "cus_1"))
    first, second = deliver(client, event), deliver(client, event)
    assert (first.status_code, second.status_code) == (200, 200)
    assert second.json["outcome"] == "duplicate"
    assert len(calls) == 1
    assert count(WebhookEvent) == 1 and count(PaymentMethod) == 1
    assert _stored(event["id"]).attempts == 1


def test_unknown_type_is_stored_as_ignored(client):
    event = make_event("plan.created", stripe_object("price"))
    response = deliver(client, event)
    assert response.status_code == 200 and response.json["outcome"] == "ignored"
    row = _stored(event["id"])
    assert row.status == EventStatus.IGNORED and row.attempts == 0
    assert deliver(client, event).status_code == 200
    assert count(WebhookEvent) == 1


def test_stripes_own_example_event_is_accepted(client):
    """The fixture event verbatim (``created`` from 2009, null api_version): the signature's time counts."""
    response = deliver(client, FIXTURES["event"])
    assert response.status_code == 200
    assert _stored(FIXTURES["event"]["id"]).status == EventStatus.IGNORED


@pytest.mark.parametrize(
    "event_type, resource",
    [
        ("customer.updated", "customer"),
        ("customer.deleted", "deleted_customer"),
        ("payment_method.attached", "payment_method"),
        ("payment_method.detached", "payment_method"),
        ("invoice.paid", "invoice"),
        ("invoice.payment_failed", "invoice"),
        ("customer.subscription.updated", "subscription"),
        ("checkout.session.completed", "checkout.session"),
        ("payment_intent.succeeded", "payment_intent"),
        ("setup_intent.succeeded", "setup_intent"),
        ("charge.refunded", "charge"),
        ("product.updated", "product"),
        ("test_helpers.test_clock.ready", "test_helpers.test_clock"),
    ],
)
def test_events_shaped_like_stripes_fixtures_are_accepted(client, event_type, resource):
    event = make_event(event_type, stripe_object(resource))
    response = deliver(client, event)
    assert response.status_code == 200, response.json
    row = _stored(event["id"])
    assert row.status in (EventStatus.PROCESSED, EventStatus.IGNORED)
    assert row.object_id == FIXTURES[resource].get("id")


def test_a_secret_being_rotated_out_is_still_accepted(client):
    event = make_event("customer.updated", customer("cus_1"))
    assert deliver(client, event, secret=OLD_SECRET).status_code == 200


def test_a_bad_signature_writes_nothing(client):
    event = make_event("payment_method.attached", payment_method("pm_1", "cus_1"))
    assert deliver(client, event, secret="whsec_someone_else").status_code == 400
    assert count(WebhookEvent) == 0 and count(PaymentMethod) == 0


def test_no_csrf_token_and_no_session_needed(client):
    """The app enforces CSRF on every other POST; Stripe's calls are exempt (the signature is the proof)."""
    event = make_event("customer.updated", customer("cus_1"))
    body = json.dumps(event)
    response = client.post("/webhooks/stripe", data=body, headers={"Stripe-Signature": signature(body)})
    assert response.status_code == 200


def test_only_post_is_allowed(client):
    assert client.get("/webhooks/stripe").status_code == 405
