"""What a PaymentIntent's events do to a shop order (``portal.webhooks.handlers.payment_intent`` calls
these). Nothing here commits: the webhook dispatcher commits once, together with marking the event
processed.

Duplicates and any order of arrival are safe: the order's status only moves
through conditional updates (see ``portal.shop.settlement``), so stock changes once.
"""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa

from portal.extensions import db
from portal.gateway.shapes import as_dict
from portal.shop import settlement
from portal.shop.models import Order, OrderStatus
from portal.text import N_

log = logging.getLogger(__name__)


def find_order(payment_intent: Any) -> Order | None:
    """The order a PaymentIntent pays for: by our ``orderId`` metadata, else by the intent id."""
    intent = as_dict(payment_intent)
    order_id = (intent.get("metadata") or {}).get("orderId")
    order = None
    if order_id and str(order_id).isdigit():
        order = db.session.get(Order, int(order_id))
        if order is not None and order.payment_intent_id not in (None, intent.get("id")):
            log.warning("payment intent %s names order %s paid by another intent", intent.get("id"), order_id)
            order = None
    if order is None and intent.get("id"):
        order = db.session.scalar(sa.select(Order).where(Order.payment_intent_id == intent["id"]))
    if order is not None and (intent.get("amount"), intent.get("currency")) != (order.amount, order.currency):
        log.warning("payment intent %s does not match order %s amount/currency", intent.get("id"), order.id)
        return None
    return order


def payment_intent_succeeded(payment_intent: Any) -> Order | None:
    """``payment_intent.succeeded``: the reservation becomes a sale (once)."""
    order = find_order(payment_intent)
    if order is None:
        return None
    settlement.settle_paid(order, as_dict(payment_intent).get("id"))
    return order


def payment_intent_payment_failed(payment_intent: Any) -> Order | None:
    """``payment_intent.payment_failed``: the order fails and its stock comes back (once)."""
    order = find_order(payment_intent)
    if order is None:
        return None
    if order.status == OrderStatus.PENDING:
        if order.payment_intent_id is None:
            order.payment_intent_id = as_dict(payment_intent).get("id")
        settlement.settle_released(
            order, OrderStatus.FAILED, settlement.payment_error_message(payment_intent)
        )
    return order


def payment_intent_canceled(payment_intent: Any) -> Order | None:
    """``payment_intent.canceled``: like a failure, the stock comes back (once)."""
    order = find_order(payment_intent)
    if order is None:
        return None
    settlement.settle_released(order, OrderStatus.CANCELED, N_("The payment was canceled."))
    return order
