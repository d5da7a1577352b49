"""Settling an order, each outcome once; nothing here commits (the webhook handlers share it).

* ``settle_paid``: ``status = 'paid' WHERE status = 'pending'``: the reservation
  becomes a sale once, whichever of the request and the webhook comes first; the
  receipt email is queued (in the outbox, like every email) by the same winning update.
* ``settle_released``: ``status = 'failed'|'canceled' WHERE status = 'pending'``,
  and only then ``stock = stock + q``: a reservation is given back once.
"""

from __future__ import annotations

import logging
from typing import Any

import flask_babel
import sqlalchemy as sa
from flask import url_for
from flask_babel import lazy_gettext as _l

from portal.database import utcnow
from portal.extensions import db
from portal.formatting import lazy_money
from portal.gateway.shapes import as_dict
from portal.mail.outbox import caused_by, queue_email
from portal.shop.catalog import expire_loaded, reserve_stock, return_stock
from portal.shop.models import Order, OrderStatus, Product
from portal.text import N_

log = logging.getLogger(__name__)


def said(stored: str | None) -> str:
    """A message kept on an order in the reader's language when the catalogue has it (the portal's
    own, marked ``N_``: stored in English, as written); Stripe's own words stay as they came."""
    return flask_babel.gettext(stored) if stored else ""


#: An order Stripe charged after its stock was given back and sold: the buyer is owed the money
#: (a platform admin refunds it from the admin's order page, ``portal.shop.refunds``).
REFUND_DUE = N_("Paid after the reservation lapsed and the product sold out: refund due.")
#: A payment that ended with no word from Stripe on why.
NOT_COMPLETED = N_("The payment was not completed.")


def settle_paid(order: Order, payment_intent_id: str | None = None) -> bool:
    """Pending -> paid, once. Queues the receipt email for after the commit. True if this call won."""
    now = utcnow()
    values: dict = {"status": OrderStatus.PAID, "paid_at": now, "receipt_sent_at": now}
    if payment_intent_id:
        values["payment_intent_id"] = sa.func.coalesce(Order.payment_intent_id, payment_intent_id)
    result = db.session.execute(
        sa.update(Order)
        .where(Order.id == order.id, Order.status == OrderStatus.PENDING)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount == 1:
        expire_loaded(order, order.product)
        _queue_receipt(order.id)
        log.info("order paid order_id=%s payment_intent_id=%s", order.id, payment_intent_id)
        return True
    expire_loaded(order)
    if order.status in (OrderStatus.FAILED, OrderStatus.CANCELED):
        return _settle_paid_after_release(order, payment_intent_id)
    return False


def _settle_paid_after_release(order: Order, payment_intent_id: str | None) -> bool:
    """Stripe says paid, but we had already given the stock back: take it again if we can."""
    previous = order.status
    if not reserve_stock(order.product_id, order.quantity):
        log.error(
            "order paid after its stock was released and sold; refund due order_id=%s payment_intent_id=%s",
            order.id,
            payment_intent_id,
        )
        order.failure_message = REFUND_DUE
        return False
    now = utcnow()
    result = db.session.execute(
        sa.update(Order)
        .where(Order.id == order.id, Order.status == previous)
        .values(status=OrderStatus.PAID, paid_at=now, receipt_sent_at=now, released_at=None)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # someone else settled it meanwhile: give the units back
        return_stock(order.product_id, order.quantity)
        expire_loaded(order)
        return False
    expire_loaded(order, order.product)
    _queue_receipt(order.id)
    log.warning("order paid after release; stock taken again order_id=%s", order.id)
    return True


def settle_released(order: Order, status: OrderStatus, message: str | None = None) -> bool:
    """Pending -> failed/canceled and the reserved units back in stock, once. True if this call won."""
    assert status in (OrderStatus.FAILED, OrderStatus.CANCELED)
    result = db.session.execute(
        sa.update(Order)
        .where(Order.id == order.id, Order.status == OrderStatus.PENDING)
        .values(status=status, failure_message=(message or None) and message[:500], released_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        expire_loaded(order)
        return False
    return_stock(order.product_id, order.quantity)
    expire_loaded(order, order.product)
    log.info("order released order_id=%s status=%s", order.id, status.value)
    return True


def apply_payment_intent(order: Order, payment_intent: Any) -> None:
    """Bring a pending order in line with its PaymentIntent's status. No commit."""
    intent = as_dict(payment_intent)
    status = intent.get("status")
    if status == "succeeded":
        settle_paid(order, intent.get("id"))
    elif status in ("requires_payment_method", "canceled"):
        settle_released(
            order,
            OrderStatus.CANCELED if status == "canceled" else OrderStatus.FAILED,
            payment_error_message(intent),
        )


def payment_error_message(payment_intent: Any) -> str:
    error = as_dict(payment_intent).get("last_payment_error") or {}
    return error.get("message") or NOT_COMPLETED


def _queue_receipt(order_id: int) -> None:
    """The receipt email of a just-paid order: sent after the commit, once per order."""
    row = db.session.execute(
        sa.select(Order.__table__, Product.name.label("product_name"))
        .join(Product, Product.id == Order.product_id)
        .where(Order.id == order_id)
    ).one()
    order = row._asdict()
    if not order.get("receipt_email"):
        return
    try:
        link = url_for("shop.order", order_id=order["id"], _external=True)
    except RuntimeError:  # outside a request and without SERVER_NAME
        link = None
    with caused_by(f"order:{order['id']}"):
        queue_email(
            order["receipt_email"],
            _l("Your receipt for order #%(order)s", order=order["id"]),
            "shop_receipt",
            order=order,
            total=lazy_money(order["amount"], order["currency"]),
            unit=lazy_money(order["unit_amount"], order["currency"]),
            link=link,
        )
