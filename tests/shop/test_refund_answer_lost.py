"""F19 for the shop: a unit refund whose answer Stripe lost says Stripe may have made it, blocks any
other refund of the order until Stripe's answer is known, and the page adopts the refund Stripe made:
one refund, its units back in stock once. F24: money left at Stripe that no whole unit fits is said."""

# ruff: noqa: F811 (the fixtures are imported from the suites they extend)
from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.shop.models import Order, OrderRefund
from tests.shop.conftest import stock_of
from tests.shop.test_refund_views import _form, admin_client, stripe_sandbox  # noqa: F401
from tests.shop.test_refunds import paid_order


@pytest.fixture
def app_overrides() -> dict:
    return {
        "STRIPE_CONNECT_TIMEOUT_SECONDS": 1,
        "STRIPE_READ_TIMEOUT_SECONDS": 0.4,
        "STRIPE_ACTION_BUDGET_SECONDS": 3,
    }


@pytest.fixture
def slow(stripe_sandbox):
    yield stripe_sandbox
    stripe_sandbox.set_latency(0)


def _refunds_at_stripe(sandbox, order: Order) -> list:
    return sandbox.client().v1.refunds.list({"payment_intent": order.payment_intent_id}).data


def test_a_lost_refund_answer_blocks_a_second_refund_and_is_adopted(admin_client, user_factory, slow):
    order = paid_order(user_factory(email="buyer@example.com"), quantity=3, stock=3)
    stale = _form(admin_client, order.id)  # a second tab drawn before
    slow.set_latency(1500)
    answer = admin_client.post(
        f"/shop/admin/orders/{order.id}/refund",
        data={**_form(admin_client, order.id), "units": "1", "reason": "Broken"},
    )
    text = answer.get_data(as_text=True)
    assert answer.status_code == 202
    assert "Stripe may have made the refund; we are checking" in text and "try again" not in text.lower()
    slow.set_latency(0)
    deadline = time.monotonic() + 10
    while not _refunds_at_stripe(slow, order):
        assert time.monotonic() < deadline
        time.sleep(0.1)

    retry = admin_client.post(
        f"/shop/admin/orders/{order.id}/refund", data={**stale, "units": "1", "reason": "Broken"}
    )
    assert retry.status_code == 409
    assert "Stripe made the earlier refund of $12.50" in retry.get_data(as_text=True)
    assert len(_refunds_at_stripe(slow, order)) == 1
    db.session.expire_all()
    [row] = db.session.scalars(sa.select(OrderRefund)).all()
    assert row.units == 1 and stock_of(order.product_id) == 1
    page = admin_client.get(f"/shop/admin/orders/{order.id}").get_data(as_text=True)
    assert "2 of 3 left to refund" in page


def test_money_left_that_no_unit_fits_is_said(admin_client, user_factory, stripe_sandbox):
    order = paid_order(user_factory(email="buyer@example.com"), quantity=2, stock=2)
    # Stripe's dashboard refunds $20.00 of the $25.00: $5.00 is left, less than a unit.
    stripe_sandbox.client().v1.refunds.create({"payment_intent": order.payment_intent_id, "amount": 2000})
    from portal.shop import refunds

    for refund in _refunds_at_stripe(stripe_sandbox, order):
        refunds.refund_changed(refund)
    db.session.commit()
    page = admin_client.get(f"/shop/admin/orders/{order.id}").get_data(as_text=True)
    assert "Nothing is left to refund" not in page
    assert "$5.00 of the charge is still refundable" in page


def test_every_charged_order_is_reached_from_the_list(admin_client, user_factory, stripe_sandbox):
    """F35: past the newest 50, "Older" pages on; a page past the last is 404."""
    from portal.shop import refunds

    buyer = user_factory(email="buyer@example.com")
    first = paid_order(buyer, quantity=1, stock=1)
    newer = [paid_order(buyer, quantity=1, stock=1) for _ in range(2)]
    orders, has_older = refunds.charged_orders(1, per_page=2)
    assert [o.id for o, _ in orders] == [newer[1].id, newer[0].id] and has_older
    orders, has_older = refunds.charged_orders(2, per_page=2)
    assert [o.id for o, _ in orders] == [first.id] and not has_older
    page = admin_client.get("/shop/admin/orders").get_data(as_text=True)
    assert f'data-order="{first.id}"' in page
    assert admin_client.get("/shop/admin/orders?page=9").status_code == 404
