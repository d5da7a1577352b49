"""Purchases and the stock rules, through the services (no HTTP)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.shop import errors, orders, purchases
from portal.shop.models import Order, OrderStatus
from tests.shop.conftest import give_card, make_product, stock_of


def test_purchase_with_saved_card_pays_and_sells_stock(app, buyer, product, fake_payments, mailbox):
    result = purchases.purchase(buyer, product.id, 3, f"pm_card_visa__u{buyer.id}")

    order = result.order
    assert order.status == OrderStatus.PAID and order.paid_at is not None
    assert (order.quantity, order.unit_amount, order.amount) == (3, 1999, 5997)
    assert stock_of(product.id) == 7
    (call,) = fake_payments.calls
    assert call["customer_id"] == buyer.stripe_customer_id
    assert call["receipt_email"] == buyer.email
    assert call["payment_method_id"] == f"pm_card_visa__u{buyer.id}"
    assert call["metadata"] == {
        "userId": str(buyer.id),
        "productId": str(product.id),
        "quantity": "3",
        "orderId": str(order.id),
        "orderRef": order.reference,
    }
    assert call["key"] == ("order", order.id, order.reference)
    assert order.payment_intent_id == fake_payments.charged()[0]["id"]
    assert mailbox.wait_for(buyer.email, f"Your receipt for order #{order.id}")


def test_default_card_is_used_when_none_is_chosen(app, buyer, product, fake_payments):
    result = purchases.purchase(buyer, product.id, 1)
    assert result.order.status == OrderStatus.PAID
    assert fake_payments.calls[0]["payment_method_id"] == f"pm_card_visa__u{buyer.id}"


def test_declined_card_fails_order_and_releases_stock(app, user, product, fake_payments):
    give_card(user, "pm_card_chargeDeclined")
    with pytest.raises(errors.PaymentFailed) as caught:
        purchases.purchase(user, product.id, 2, f"pm_card_chargeDeclined__u{user.id}")

    assert caught.value.message == "Your card was declined."
    order = caught.value.order
    db.session.refresh(order)
    assert order.status == OrderStatus.FAILED
    assert order.failure_message == "Your card was declined."
    assert order.payment_intent_id.startswith("pi_fake")
    assert stock_of(product.id) == 10


def test_card_needing_authentication_keeps_reservation_until_confirmed(app, user, product, fake_payments):
    give_card(user, "pm_card_threeDSecure2Required")
    result = purchases.purchase(user, product.id, 2)

    assert result.requires_action and result.client_secret.endswith("_secret_x")
    assert result.order.status == OrderStatus.PENDING
    assert stock_of(product.id) == 8  # reserved

    fake_payments.authenticate(result.order.payment_intent_id)
    order = orders.confirm_order(user, result.order.id)
    assert order.status == OrderStatus.PAID
    assert stock_of(product.id) == 8
    assert orders.confirm_order(user, order.id).status == OrderStatus.PAID  # a second post: no change


def test_failed_authentication_releases_stock(app, user, product, fake_payments):
    give_card(user, "pm_card_threeDSecure2Required")
    result = purchases.purchase(user, product.id, 2)
    fake_payments.authenticate(result.order.payment_intent_id, approve=False)

    order = orders.confirm_order(user, result.order.id)
    assert order.status == OrderStatus.FAILED
    assert "unable to authenticate" in order.failure_message
    assert stock_of(product.id) == 10


def test_out_of_stock_is_refused_before_any_charge(app, buyer, fake_payments):
    product = make_product(stock=2)
    with pytest.raises(errors.OutOfStock) as caught:
        purchases.purchase(buyer, product.id, 3)
    assert "only 2" in caught.value.message and "not been charged" in caught.value.message
    assert fake_payments.calls == []
    assert db.session.scalar(sa.select(sa.func.count(Order.id))) == 0


def test_inactive_or_unknown_product_and_bad_quantity(app, buyer, fake_payments):
    hidden = make_product(active=False)
    with pytest.raises(errors.ProductNotFound):
        purchases.purchase(buyer, hidden.id, 1)
    with pytest.raises(errors.ProductNotFound):
        purchases.purchase(buyer, 9999, 1)
    product = make_product()
    for bad in (0, -1, purchases.MAX_QUANTITY + 1, "2", True):
        with pytest.raises(errors.InvalidQuantity):
            purchases.purchase(buyer, product.id, bad)
    with pytest.raises(errors.CurrencyMismatch):
        purchases.purchase(buyer, product.id, 1, currency="eur")
    assert fake_payments.calls == []


def test_another_customers_card_is_not_found(app, buyer, user_factory, product, fake_payments):
    other = user_factory()
    give_card(other, "pm_card_visa")
    from portal.wallet.services import CardNotFound

    with pytest.raises(CardNotFound):
        purchases.purchase(buyer, product.id, 1, f"pm_card_visa__u{other.id}")
    assert stock_of(product.id) == 10 and fake_payments.calls == []


def test_stripe_down_keeps_reservation_for_release_stale(app, buyer, product, fake_payments):
    fake_payments.unavailable = True  # a 5xx or a read timeout: the charge may have happened
    with pytest.raises(errors.PaymentOutcomeUnknown):
        purchases.purchase(buyer, product.id, 1)
    order = db.session.scalar(sa.select(Order))
    assert order.status == OrderStatus.PENDING and stock_of(product.id) == 9
