"""Refunding shop orders through the Stripe sandbox: some units, the rest, never more than remains;
a double submit refunds once; a refund made in Stripe's dashboard (or the portal's, told by webhook
first) is recorded once however its events arrive, and the buyer gets one email per refund."""

from __future__ import annotations

import itertools
import json
import random

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.gateway import refunds as gateway_refunds
from portal.mail.models import OutboundEmail
from portal.shop import purchases, refunds
from portal.shop.errors import RefundRefused
from portal.shop.models import Order, OrderRefund, OrderStatus
from portal.users.models import Role
from portal.wallet import services as wallet
from portal.webhooks.models import WebhookEvent
from portal.webhooks.services import Outcome, receive_event
from tests import conftest as shared
from tests.conftest import both_engines
from tests.factories import make_user
from tests.shop.conftest import make_product, stock_of


@pytest.fixture
def database_url(engine, tmp_path) -> str:
    """The shared rule (``TEST_DATABASE_NAME`` on PostgreSQL), not the shop suite's own database."""
    return shared.postgres_url() if engine == "postgresql" else f"sqlite:///{tmp_path / 'portal.sqlite'}"


@pytest.fixture
def stripe_sandbox(sandbox):
    if not hasattr(sandbox, "client"):
        pytest.skip("the Stripe sandbox is not installed")
    return sandbox


@pytest.fixture
def admin(app):
    return make_user(name="Ada Admin", email="ada@example.com", role=Role.ADMIN)


def paid_order(user, quantity: int = 3, stock: int = 5, price: int = 1250) -> Order:
    product = make_product(stock=stock, price=price)
    card = wallet.attach_card(wallet.user_wallet(user), "pm_card_visa")
    order = purchases.purchase(user, product.id, quantity, card.stripe_id).order
    assert order.status == OrderStatus.PAID
    return order


def emails_of(template: str) -> list[OutboundEmail]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(OutboundEmail).where(OutboundEmail.template == template)))


ATTEMPT = "attempt-aaaaaaaaaaaaaaaa"


@both_engines
def test_units_refund_returns_stock_once_and_never_more_than_remains(app, stripe_sandbox, user, admin):
    order = paid_order(user, quantity=3, stock=5)
    assert stock_of(order.product_id) == 2

    row = refunds.refund_order(admin, order.id, 2, "Two arrived broken", ATTEMPT)
    db.session.commit()

    assert (row.amount, row.units, row.refunded_by_id, row.reason) == (
        2500,
        2,
        admin.id,
        "Two arrived broken",
    )
    assert stock_of(order.product_id) == 4
    refund = stripe_sandbox.client().v1.refunds.retrieve(row.stripe_refund_id)
    assert refund.amount == 2500 and refund.payment_intent == order.payment_intent_id
    assert refund.metadata["units"] == "2" and refund.metadata["orderId"] == str(order.id)
    [email] = emails_of("shop_refund")
    assert email.recipient == user.email and "$25.00" in email.subject
    assert "5-10 days" in email.text_body and "2 x" in email.text_body

    again = refunds.refund_order(admin, order.id, 2, "Two arrived broken", ATTEMPT)  # the double submit
    db.session.commit()
    assert again.stripe_refund_id == row.stripe_refund_id and stock_of(order.product_id) == 4
    assert len(emails_of("shop_refund")) == 1
    assert len(stripe_sandbox.client().v1.refunds.list({"payment_intent": order.payment_intent_id}).data) == 1

    with pytest.raises(RefundRefused) as too_many:
        refunds.refund_order(admin, order.id, 2, "More", "attempt-bbbbbbbbbbbbbbbb")
    db.session.rollback()
    assert (
        too_many.value.message
        == f"Order #{order.id} has 1 of its 3 units left to refund: choose between 1 and 1."
    )

    refunds.refund_order(admin, order.id, 1, "The last one too", "attempt-cccccccccccccccc")
    db.session.commit()
    done = refunds.refunded(db.session.get(Order, order.id))
    assert (done.amount, done.units, done.full) == (3750, 3, True) and stock_of(order.product_id) == 5
    with pytest.raises(RefundRefused, match="already refunded in full"):
        refunds.refund_order(admin, order.id, 1, "Again", "attempt-dddddddddddddddd")


def test_an_order_owed_a_refund_is_refunded_without_touching_stock(app, stripe_sandbox, user, admin):
    from portal.shop.settlement import REFUND_DUE

    order = paid_order(user, quantity=2, stock=2)
    order.status, order.failure_message = OrderStatus.FAILED, REFUND_DUE  # charged after its stock sold
    db.session.commit()
    assert refunds.is_refund_due(order) and refunds.units_left(order) == 2

    refunds.refund_order(admin, order.id, 2, "Sold out before the payment", ATTEMPT)
    db.session.commit()

    assert stock_of(order.product_id) == 0  # none were taken, none come back
    assert refunds.refunded(order).full


def deliver(events: list[dict], seed: int) -> None:
    """Every event twice, shuffled: late, duplicated and out of order."""
    copies = [*events, *events]
    random.Random(seed).shuffle(copies)
    for event in copies:
        assert receive_event(event, json.dumps(event)) in {Outcome.PROCESSED, Outcome.DUPLICATE}


def reset_refunds() -> None:
    for model in (OrderRefund, WebhookEvent, OutboundEmail):
        db.session.execute(sa.delete(model))
    db.session.commit()


def events_about(stripe_sandbox, payment_intent_id: str) -> list[dict]:
    return [
        e
        for kind in ("charge.refunded", "refund.created", "refund.updated")
        for e in stripe_sandbox.events(kind)
        if e["data"]["object"].get("payment_intent") == payment_intent_id
    ]


@both_engines
def test_a_dashboard_refund_is_recorded_once_whatever_the_order_of_its_events(app, stripe_sandbox, user):
    order = paid_order(user, quantity=2, stock=4)
    client = stripe_sandbox.client()
    client.v1.refunds.create({"payment_intent": order.payment_intent_id, "amount": 700})  # in the dashboard
    events = events_about(stripe_sandbox, order.payment_intent_id)
    assert {e["type"] for e in events} >= {"charge.refunded", "refund.created"}

    for seed in range(4):
        reset_refunds()
        deliver(events, seed)
        [row] = db.session.scalars(sa.select(OrderRefund)).all()
        assert (row.amount, row.units, row.refunded_by_id) == (700, None, None)
        assert stock_of(order.product_id) == 2  # an amount, no units: nothing back in stock
        assert len(emails_of("shop_refund")) == 1
    done = refunds.refunded(order)
    assert (done.dashboard_amount, done.full) == (700, False)


@both_engines
def test_the_portals_refund_told_by_webhook_first_returns_its_units_once(app, stripe_sandbox, user, admin):
    order = paid_order(user, quantity=3, stock=3)
    metadata = {
        "orderId": str(order.id),
        "units": "2",
        "refundedBy": str(admin.id),
        "reason": "Lost in the post",
    }
    refund = gateway_refunds.refund_amount(
        order.payment_intent_id, 2500, metadata, key=("t", order.payment_intent_id)
    )
    events = events_about(stripe_sandbox, order.payment_intent_id)

    deliver(events, 7)

    [row] = db.session.scalars(sa.select(OrderRefund)).all()
    assert (row.stripe_refund_id, row.units, row.refunded_by_id, row.reason) == (
        refund.id,
        2,
        admin.id,
        "Lost in the post",
    )
    assert stock_of(order.product_id) == 2 and len(emails_of("shop_refund")) == 1
    assert refunds.units_left(order) == 1


def test_every_order_of_the_events_ends_the_same(app, stripe_sandbox, user):
    order = paid_order(user, quantity=1, stock=1)
    stripe_sandbox.client().v1.refunds.create({"payment_intent": order.payment_intent_id})
    events = events_about(stripe_sandbox, order.payment_intent_id)
    for permutation in itertools.islice(itertools.permutations(events), 6):
        reset_refunds()
        for event in [*permutation, *reversed(permutation)]:
            receive_event(event, json.dumps(event))
        assert refunds.refunded(order).full and len(emails_of("shop_refund")) == 1


def test_an_order_of_one_unit_is_said_in_the_singular(app, stripe_sandbox, user, admin):
    order = paid_order(user, quantity=1)

    with pytest.raises(RefundRefused) as too_many:
        refunds.refund_order(admin, order.id, 2, "Both", ATTEMPT)

    db.session.rollback()
    assert (
        too_many.value.message
        == f"Order #{order.id} has 1 of its 1 unit left to refund: choose between 1 and 1."
    )
