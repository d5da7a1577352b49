"""Finding 6: a purchase during a Stripe outage must not hold stock it cannot sell (issue 14).

When Stripe provably never received the PaymentIntent request (connection refused,
connect timeout, breaker open) the order fails and its stock comes back at once.
When the outcome is unknown (the request was sent, no answer came) the stock stays
reserved until the PaymentIntent is looked up: found and paid, the order is paid;
nowhere at Stripe, the stock comes back.
"""

from __future__ import annotations

import datetime as dt
import time

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.shop import catalog, errors, orders, purchases
from portal.shop.models import Order, OrderStatus
from portal.wallet import services as wallet
from tests.conftest import extract_csrf
from tests.factories import OrderFactory
from tests.shop.conftest import make_product, stock_of

BREAKER_MESSAGE = "Stripe is not answering; nothing was charged; try again in a minute."
READ_TIMEOUT = 0.3


@pytest.fixture
def app_overrides() -> dict:
    return {
        "STRIPE_CONNECT_TIMEOUT_SECONDS": 1,
        "STRIPE_READ_TIMEOUT_SECONDS": READ_TIMEOUT,
        "STRIPE_ACTION_BUDGET_SECONDS": 3,
    }


@pytest.fixture
def slow_sandbox(sandbox):
    """The sandbox, whose added latency (``set_latency``) is always reset after the test."""
    yield sandbox
    sandbox.set_latency(0)


def _saved_card(user, test_card: str = "pm_card_visa") -> str:
    return wallet.attach_card(wallet.user_wallet(user), test_card).stripe_id


def _only_order() -> Order:
    db.session.expire_all()
    return db.session.scalar(sa.select(Order))


def _intents_at_stripe(sandbox, customer_id: str) -> list:
    return sandbox.client().v1.payment_intents.list({"customer": customer_id}).data


def test_a_refused_connection_fails_the_order_and_gives_the_stock_back_at_once(logged_in, user, sandbox):
    product = make_product(stock=4)
    card = _saved_card(user)
    token = extract_csrf(logged_in.get(f"/shop/products/{product.id}").get_data(as_text=True))
    with sandbox.outage(refuse=True):
        response = logged_in.post(
            f"/shop/products/{product.id}/buy",
            data={"quantity": 3, "payment_method": card, "csrf_token": token},
        )
    page = response.get_data(as_text=True)
    assert response.status_code == 503
    assert "Stripe could not be reached, so nothing was charged" in page
    order = _only_order()
    assert order.status == OrderStatus.FAILED and "nothing was charged" in order.failure_message
    assert stock_of(product.id) == 4
    assert _intents_at_stripe(sandbox, user.stripe_customer_id) == []


def test_an_open_breaker_fails_the_purchase_fast_and_gives_the_stock_back(app, user, sandbox):
    product = make_product(stock=4)
    card = _saved_card(user)
    breaker = app.extensions["stripe_breaker"]
    for _ in range(breaker.threshold):
        breaker.record_failure()
    with app.extensions["stripe_call_counter"].watch() as calls:
        started = time.monotonic()
        with pytest.raises(errors.ShopError) as caught:
            purchases.purchase(user, product.id, 2, card)
    assert time.monotonic() - started < 0.5 and calls == []
    assert caught.value.message == BREAKER_MESSAGE and caught.value.status == 503
    assert _only_order().status == OrderStatus.FAILED and stock_of(product.id) == 4


def test_a_timed_out_purchase_keeps_its_stock_until_the_intent_is_looked_up(app, user, slow_sandbox):
    product = make_product(stock=4)
    card = _saved_card(user)
    slow_sandbox.set_latency(1000)  # every answer comes after the portal's read timeout
    with pytest.raises(errors.ShopError) as caught:
        purchases.purchase(user, product.id, 2, card)
    assert caught.value.status == 503 and "cannot tell yet" in caught.value.message
    order = _only_order()
    assert order.status == OrderStatus.PENDING and stock_of(product.id) == 2

    # The request had reached Stripe: the card was charged after the portal stopped waiting.
    slow_sandbox.set_latency(0)
    deadline = time.monotonic() + 10
    while not _intents_at_stripe(slow_sandbox, user.stripe_customer_id):
        assert time.monotonic() < deadline, "the sandbox never created the intent"
        time.sleep(0.1)
    [intent] = _intents_at_stripe(slow_sandbox, user.stripe_customer_id)
    assert intent.status == "succeeded"

    summary = orders.release_stale_orders(dt.timedelta(seconds=-1))
    assert (summary.paid, summary.released) == (1, 0)
    order = _only_order()
    assert order.status == OrderStatus.PAID and order.payment_intent_id == intent.id
    assert stock_of(product.id) == 2  # sold, not given back while the money was taken


def _pending_order_without_intent(user, product, quantity: int = 1) -> Order:
    """An order whose PaymentIntent request never got an answer (no intent id recorded)."""
    assert catalog.reserve_stock(product.id, quantity)
    return OrderFactory(user=user, product=product, quantity=quantity, receipt_email=user.email)


def test_release_stale_looks_the_intent_up_before_giving_stock_back(app, user, sandbox):
    _saved_card(user)  # the buyer has a Stripe customer
    product = make_product(stock=4)
    order = _pending_order_without_intent(user, product, 3)

    with sandbox.outage():  # the lookup cannot be made: the order waits for the next run
        summary = orders.release_stale_orders(dt.timedelta(seconds=-1))
    assert (summary.skipped, summary.released) == (1, 0)
    assert _only_order().status == OrderStatus.PENDING and stock_of(product.id) == 1

    summary = orders.release_stale_orders(dt.timedelta(seconds=-1))  # Stripe has no intent for it
    assert (summary.skipped, summary.released) == (0, 1)
    assert _only_order().status == OrderStatus.CANCELED and stock_of(product.id) == 4
    assert order.id == _only_order().id


def test_a_lost_answer_is_found_at_once_and_the_order_follows_it(app, buyer, product, fake_payments):
    fake_payments.lose_answers = True
    result = purchases.purchase(buyer, product.id, 2)
    assert result.order.status == OrderStatus.PAID and stock_of(product.id) == 8
    [intent] = fake_payments.charged()
    assert result.order.payment_intent_id == intent["id"]
