"""payment_intent.* events as the webhook inbox delivers them (a whole event around the intent)."""

from __future__ import annotations

import itertools
import json
import time

import pytest

from portal.extensions import db
from portal.shop import purchases
from portal.shop.models import OrderStatus
from portal.webhooks.handlers import EVENT_HANDLERS
from tests.shop.conftest import give_card, stock_of
from tests.stripe_payloads import current_secret, deliver, make_event, payment_intent

_event_ids = itertools.count(1)


def _event(event_type: str, order, status: str, created: int, **extra) -> dict:
    intent = payment_intent(
        id=order.payment_intent_id,
        amount=order.amount,
        currency=order.currency,
        status=status,
        metadata={
            "orderId": str(order.id),
            "productId": str(order.product_id),
            "quantity": str(order.quantity),
        },
        **extra,
    )
    return make_event(event_type, intent, created=created)


@pytest.fixture
def pending_order(user, product, fake_payments):
    give_card(user, "pm_card_threeDSecure2Required")
    return purchases.purchase(user, product.id, 2).order


def test_handlers_apply_events_in_any_order_once(app, pending_order, product):
    now = int(time.time())
    failed = _event("payment_intent.payment_failed", pending_order, "requires_payment_method", now)
    succeeded = _event("payment_intent.succeeded", pending_order, "succeeded", now + 5)
    for event in (succeeded, failed, succeeded, failed):  # late, duplicated, out of order
        EVENT_HANDLERS[event["type"]](event)
        db.session.commit()
    db.session.refresh(pending_order)
    assert pending_order.status == OrderStatus.PAID and stock_of(product.id) == 8


def test_webhook_endpoint_settles_once(app, client, pending_order, product, mailbox):
    event = _event("payment_intent.succeeded", pending_order, "succeeded", int(time.time()))
    payload = json.dumps(event)
    for _ in range(2):  # Stripe delivers twice
        response = deliver(client, payload, secret=current_secret(app))
        assert response.status_code == 200, response.get_data(as_text=True)
    db.session.expire_all()
    assert pending_order.status == OrderStatus.PAID and stock_of(product.id) == 8
    mailbox.wait_for(pending_order.receipt_email, f"order #{pending_order.id}")
    assert len([m for m in mailbox.messages if f"order #{pending_order.id}" in m["Subject"]]) == 1
