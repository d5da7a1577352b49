"""A buyer's orders, confirming one after 3-D Secure, and releasing abandoned ones
(``flask shop release-stale``)."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

import sqlalchemy as sa

from portal.database import utcnow
from portal.extensions import db
from portal.gateway import payment_intents as stripe_payments
from portal.gateway.errors import BillingError, StripeUnavailable
from portal.gateway.shapes import as_dict, object_id
from portal.shop.errors import OrderNotFound
from portal.shop.models import Order, OrderStatus
from portal.shop.purchases import find_order_payment_intent
from portal.shop.settlement import apply_payment_intent, settle_paid, settle_released
from portal.text import N_
from portal.users.models import User

log = logging.getLogger(__name__)


def list_orders(user: User) -> list[Order]:
    return list(
        db.session.scalars(
            sa.select(Order)
            .where(Order.user_id == user.id)
            .order_by(Order.created_at.desc(), Order.id.desc())
        )
    )


def get_user_order(user: User, order_id: int) -> Order:
    order = db.session.get(Order, order_id)
    if order is None or order.user_id != user.id:
        raise OrderNotFound()
    return order


def authentication_client_secret(order: Order) -> str | None:
    """The client secret while the order's PaymentIntent waits for the buyer; else settles it."""
    if order.status != OrderStatus.PENDING or not order.payment_intent_id:
        return None
    intent = as_dict(stripe_payments.retrieve_payment_intent(order.payment_intent_id))
    if intent.get("status") in ("requires_action", "requires_confirmation"):
        return intent.get("client_secret")
    apply_payment_intent(order, intent)
    db.session.commit()
    return None


def confirm_order(user: User, order_id: int) -> Order:
    """After Stripe.js finished authentication in the browser: read the intent and settle the order."""
    order = get_user_order(user, order_id)
    if order.status == OrderStatus.PENDING and order.payment_intent_id:
        intent = stripe_payments.retrieve_payment_intent(order.payment_intent_id)
        if object_id(as_dict(intent).get("customer")) not in (None, user.stripe_customer_id):
            raise OrderNotFound()
        apply_payment_intent(order, intent)
        db.session.commit()
    return order


@dataclass
class ReleaseSummary:
    released: int = 0
    paid: int = 0
    skipped: int = 0


def release_stale_orders(older_than: dt.timedelta) -> ReleaseSummary:
    """Give back the stock of orders pending longer than ``older_than``.

    The PaymentIntent is canceled first, so it cannot succeed after its stock is
    gone; one that turns out to have succeeded marks the order paid instead. An order
    whose create got no answer has its intent looked up first. When Stripe cannot be
    reached the order is left for the next run.
    """
    summary = ReleaseSummary()
    cutoff = utcnow() - older_than
    stale_ids = db.session.scalars(
        sa.select(Order.id)
        .where(Order.status == OrderStatus.PENDING, Order.created_at < cutoff)
        .order_by(Order.id)
    ).all()
    for order_id in stale_ids:
        order = db.session.get(Order, order_id)
        try:
            outcome = _release_one(order)
        except StripeUnavailable:
            db.session.rollback()
            summary.skipped += 1
            continue
        db.session.commit()
        if outcome == "paid":
            summary.paid += 1
        elif outcome == "released":
            summary.released += 1
    return summary


def _release_one(order: Order) -> str | None:
    if not order.payment_intent_id:
        # Its create got no answer: Stripe may hold an intent for it all the same (and have charged).
        found = find_order_payment_intent(order)
        if found is not None:
            order.payment_intent_id = as_dict(found)["id"]
    if order.payment_intent_id:
        try:
            intent = stripe_payments.cancel_payment_intent(
                order.payment_intent_id, key=("order", order.id, order.reference)
            )
        except BillingError as error:
            if isinstance(error, StripeUnavailable):
                raise
            # Not cancelable: it may have succeeded (or failed) meanwhile. Ask for its state.
            intent = stripe_payments.retrieve_payment_intent(order.payment_intent_id)
        data = as_dict(intent)
        if data.get("status") == "succeeded":
            return "paid" if settle_paid(order, data["id"]) else None
    won = settle_released(order, OrderStatus.CANCELED, N_("The payment was not completed in time."))
    return "released" if won else None
