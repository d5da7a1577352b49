"""payment_intent.* events: duplicates and any order of arrival change stock once."""

from __future__ import annotations

from portal.extensions import db
from portal.shop import orders, payment_events, purchases
from portal.shop.models import OrderStatus
from tests.shop.conftest import give_card, stock_of
from tests.stripe_payloads import payment_intent


def _pending_order(user, product, fake_payments, quantity=2):
    give_card(user, "pm_card_threeDSecure2Required")
    result = purchases.purchase(user, product.id, quantity)
    assert result.order.status == OrderStatus.PENDING
    return result.order


def _intent(order, status, **extra):
    fields = {
        "id": order.payment_intent_id,
        "amount": order.amount,
        "currency": order.currency,
        "customer": f"cus_test{order.user_id:05d}",
        "status": status,
        "metadata": {
            "userId": str(order.user_id),
            "productId": str(order.product_id),
            "quantity": str(order.quantity),
            "orderId": str(order.id),
        },
    }
    return payment_intent(**{**fields, **extra})


def test_succeeded_twice_sells_once_and_sends_one_receipt(app, user, product, fake_payments, mailbox):
    order = _pending_order(user, product, fake_payments)
    for _ in range(2):
        payment_events.payment_intent_succeeded(_intent(order, "succeeded"))
        db.session.commit()
    db.session.refresh(order)
    assert order.status == OrderStatus.PAID
    assert stock_of(product.id) == 8
    assert mailbox.wait_for(user.email, f"Your receipt for order #{order.id}")
    assert len([m for m in mailbox.messages if f"order #{order.id}" in m["Subject"]]) == 1


def test_failed_after_succeeded_changes_nothing(app, user, product, fake_payments):
    order = _pending_order(user, product, fake_payments)
    payment_events.payment_intent_succeeded(_intent(order, "succeeded"))
    db.session.commit()
    failed = _intent(order, "requires_payment_method", last_payment_error={"message": "Declined."})
    payment_events.payment_intent_payment_failed(failed)
    payment_events.payment_intent_payment_failed(failed)
    db.session.commit()
    db.session.refresh(order)
    assert order.status == OrderStatus.PAID and stock_of(product.id) == 8


def test_failed_twice_releases_once(app, user, product, fake_payments):
    order = _pending_order(user, product, fake_payments)
    failed = _intent(order, "requires_payment_method", last_payment_error={"message": "Insufficient funds."})
    for _ in range(3):
        payment_events.payment_intent_payment_failed(failed)
        db.session.commit()
    db.session.refresh(order)
    assert order.status == OrderStatus.FAILED and order.failure_message == "Insufficient funds."
    assert stock_of(product.id) == 10


def test_succeeded_after_failed_takes_stock_again_once(app, user, product, fake_payments):
    """A retried payment that succeeds after the failure event: a sale, counted once."""
    order = _pending_order(user, product, fake_payments)
    payment_events.payment_intent_payment_failed(_intent(order, "requires_payment_method"))
    db.session.commit()
    assert stock_of(product.id) == 10
    for _ in range(2):
        payment_events.payment_intent_succeeded(_intent(order, "succeeded"))
        db.session.commit()
    db.session.refresh(order)
    assert order.status == OrderStatus.PAID and stock_of(product.id) == 8


def test_request_and_event_race_settles_once(app, user, product, fake_payments, mailbox):
    """The browser's confirm and payment_intent.succeeded both arrive: one sale, one receipt."""
    order = _pending_order(user, product, fake_payments)
    fake_payments.authenticate(order.payment_intent_id)
    payment_events.payment_intent_succeeded(_intent(order, "succeeded"))
    db.session.commit()
    orders.confirm_order(user, order.id)
    db.session.refresh(order)
    assert order.status == OrderStatus.PAID and stock_of(product.id) == 8
    mailbox.wait_for(user.email, f"Your receipt for order #{order.id}")
    assert len([m for m in mailbox.messages if f"order #{order.id}" in m["Subject"]]) == 1


def test_events_for_unknown_or_mismatched_intents_are_ignored(app, user, product, fake_payments):
    order = _pending_order(user, product, fake_payments)
    assert payment_events.payment_intent_succeeded(payment_intent(id="pi_other", metadata={})) is None
    tampered = _intent(order, "succeeded", amount=1)
    assert payment_events.payment_intent_succeeded(tampered) is None
    other_intent = _intent(order, "succeeded", id="pi_someone_else")
    assert payment_events.payment_intent_succeeded(other_intent) is None
    db.session.commit()
    db.session.refresh(order)
    assert order.status == OrderStatus.PENDING and stock_of(product.id) == 8


def test_canceled_event_releases(app, user, product, fake_payments):
    order = _pending_order(user, product, fake_payments)
    payment_events.payment_intent_canceled(_intent(order, "canceled"))
    db.session.commit()
    db.session.refresh(order)
    assert order.status == OrderStatus.CANCELED and stock_of(product.id) == 10
