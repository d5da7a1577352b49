"""Many buyers, few items: the conditional stock update never sells the same unit twice."""

from __future__ import annotations

import threading

import sqlalchemy as sa

from portal.extensions import db
from portal.shop import errors, purchases
from portal.shop.models import Order, OrderStatus
from portal.users.models import User
from tests.conftest import both_engines
from tests.factories import make_user
from tests.shop.conftest import give_card, make_product, stock_of

BUYERS = 20
UNITS = 5


@both_engines
def test_twenty_buyers_of_the_last_five_items(app, engine, fake_payments):
    product_id = make_product(stock=UNITS).id
    user_ids = []
    for _ in range(BUYERS):
        buyer = make_user()
        give_card(buyer, "pm_card_visa")
        user_ids.append(buyer.id)
    db.session.remove()

    start = threading.Barrier(BUYERS, timeout=30)
    outcomes: dict[int, str] = {}
    lock = threading.Lock()

    def buy(user_id: int) -> None:
        with app.app_context():
            start.wait()  # no connection held here: the pool (15) is smaller than the crowd
            try:
                user = db.session.get(User, user_id)
                result = purchases.purchase(user, product_id, 1)
                outcome = result.order.status.value
            except errors.OutOfStock:
                outcome = "out_of_stock"
            except Exception as error:  # pragma: no cover - reported by the assertion below
                outcome = f"error: {error!r}"
            finally:
                db.session.remove()
            with lock:
                outcomes[user_id] = outcome

    threads = [threading.Thread(target=buy, args=(uid,)) for uid in user_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert sorted(outcomes.values()) == ["out_of_stock"] * (BUYERS - UNITS) + ["paid"] * UNITS, outcomes
    assert stock_of(product_id) == 0
    paid = db.session.scalar(sa.select(sa.func.count(Order.id)).where(Order.status == OrderStatus.PAID))
    assert paid == UNITS
    assert db.session.scalar(sa.select(sa.func.count(Order.id))) == UNITS  # no order without stock
    # Stripe was asked to charge exactly the buyers who got an item: nobody charged without stock.
    assert len(fake_payments.calls) == UNITS == len(fake_payments.charged())
    charged_orders = {int(c["metadata"]["orderId"]) for c in fake_payments.calls}
    assert charged_orders == set(
        db.session.scalars(sa.select(Order.id).where(Order.status == OrderStatus.PAID))
    )
