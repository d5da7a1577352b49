"""Purchases through the real SDK against the Stripe sandbox: success, decline, 3-D Secure."""

from __future__ import annotations

import pytest

from portal.gateway.shapes import as_dict
from portal.shop import errors, orders, purchases
from portal.shop.models import OrderStatus
from portal.wallet import services as wallet
from tests.shop.conftest import make_product, stock_of


@pytest.fixture
def stripe_sandbox(sandbox):
    if not hasattr(sandbox, "client"):
        pytest.skip("the Stripe sandbox is not installed")
    return sandbox


def _saved_card(user, test_card: str) -> str:
    card = wallet.attach_card(wallet.user_wallet(user), test_card)
    return card.stripe_id


def test_sandbox_purchase_succeeds_with_metadata(app, stripe_sandbox, user, mailbox):
    product = make_product(stock=4)
    pm = _saved_card(user, "pm_card_visa")
    result = purchases.purchase(user, product.id, 2, pm)

    assert result.order.status == OrderStatus.PAID and stock_of(product.id) == 2
    intent = as_dict(stripe_sandbox.client().v1.payment_intents.retrieve(result.order.payment_intent_id))
    assert intent["status"] == "succeeded" and intent["amount"] == 2 * product.price
    assert intent["customer"] == user.stripe_customer_id and intent["receipt_email"] == user.email
    assert intent["metadata"] == {
        "userId": str(user.id),
        "productId": str(product.id),
        "quantity": "2",
        "orderId": str(result.order.id),
        "orderRef": result.order.reference,
    }
    assert mailbox.wait_for(user.email, f"Your receipt for order #{result.order.id}")


def test_sandbox_decline_releases_stock(app, stripe_sandbox, user):
    """4000000000000341 saves fine but every charge fails."""
    product = make_product(stock=4)
    pm = _saved_card(user, "pm_card_chargeCustomerFail")
    with pytest.raises(errors.PaymentFailed) as caught:
        purchases.purchase(user, product.id, 3, pm)
    assert caught.value.message == "Your card was declined."
    order = caught.value.order
    assert order.status == OrderStatus.FAILED and order.payment_intent_id
    assert stock_of(product.id) == 4


def test_sandbox_authentication_then_confirm(app, stripe_sandbox, user):
    product = make_product(stock=4)
    pm = _saved_card(user, "pm_card_authenticationRequired")
    result = purchases.purchase(user, product.id, 1, pm)
    assert result.requires_action and result.client_secret
    assert stock_of(product.id) == 3

    stripe_sandbox.authenticate(result.order.payment_intent_id, "complete")
    assert orders.confirm_order(user, result.order.id).status == OrderStatus.PAID
    assert stock_of(product.id) == 3


def test_sandbox_authentication_failed_releases(app, stripe_sandbox, user):
    product = make_product(stock=4)
    pm = _saved_card(user, "pm_card_authenticationRequired")
    result = purchases.purchase(user, product.id, 2, pm)
    stripe_sandbox.authenticate(result.order.payment_intent_id, "fail")
    order = orders.confirm_order(user, result.order.id)
    assert order.status == OrderStatus.FAILED and "authenticate" in order.failure_message
    assert stock_of(product.id) == 4


def test_sandbox_release_stale_cancels_the_intent(app, stripe_sandbox, user):
    import datetime as dt

    product = make_product(stock=4)
    pm = _saved_card(user, "pm_card_authenticationRequired")
    result = purchases.purchase(user, product.id, 2, pm)
    summary = orders.release_stale_orders(dt.timedelta(seconds=-1))
    assert (summary.released, summary.paid) == (1, 0)
    assert stock_of(product.id) == 4
    intent = stripe_sandbox.client().v1.payment_intents.retrieve(result.order.payment_intent_id)
    assert intent.status == "canceled"
