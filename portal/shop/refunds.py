"""Refunding shop orders: a platform admin's refund of some units (or all), and any refund Stripe tells
us of (made in Stripe's dashboard too). Nothing here commits.

One row per Stripe refund (``order_refunds``, unique by the refund's id): the admin's request and the
``refund.created`` / ``charge.refunded`` / ``refund.updated`` webhooks all write it with one
insert-or-nothing, so whichever comes first records it and the rest find it. Only the insert that
wins returns the units to stock (for refunds the portal started, which name their units in the
refund's metadata; a dashboard refund is an amount, with no units) and queues the buyer's email,
keyed by the refund id.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask import url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext

from portal.database import insert_once, utcnow
from portal.extensions import db
from portal.formatting import format_money, lazy_money
from portal.gateway import refunds as stripe_refunds
from portal.gateway.errors import BillingError, StripeUnavailable
from portal.gateway.shapes import as_dict
from portal.mail.outbox import caused_by, queue_email
from portal.shop.catalog import expire_loaded, return_stock
from portal.shop.errors import OrderNotFound, RefundRefused, RefundUnconfirmed
from portal.shop.models import Order, OrderRefund, OrderStatus
from portal.shop.settlement import REFUND_DUE

log = logging.getLogger(__name__)

#: Refund statuses that give money back (``failed`` and ``canceled`` ones do not count).
COUNTED = ("succeeded", "pending", "requires_action")
MAX_REASON = 400
ATTEMPT_KEY = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


@dataclass(frozen=True)
class Refunded:
    """What has been given back for an order so far."""

    amount: int
    units: int
    #: Refunded in Stripe's dashboard: an amount, no units (none of it went back to stock).
    dashboard_amount: int
    full: bool


def refunded(order: Order) -> Refunded:
    rows = db.session.scalars(
        sa.select(OrderRefund).where(OrderRefund.order_id == order.id, OrderRefund.status.in_(COUNTED))
    ).all()
    amount = sum(row.amount for row in rows)
    return Refunded(
        amount=amount,
        units=sum(row.units or 0 for row in rows),
        dashboard_amount=sum(row.amount for row in rows if row.units is None),
        full=amount >= order.amount,
    )


def refunds_of(order: Order) -> list[OrderRefund]:
    return list(
        db.session.scalars(
            sa.select(OrderRefund).where(OrderRefund.order_id == order.id).order_by(OrderRefund.id)
        )
    )


def is_refund_due(order: Order) -> bool:
    """Charged after its stock was released and sold: the whole amount is owed back."""
    return order.status != OrderStatus.PAID and order.failure_message == REFUND_DUE


def refundable(order: Order) -> bool:
    return bool(order.payment_intent_id) and (order.status == OrderStatus.PAID or is_refund_due(order))


def units_left(order: Order) -> int:
    """Units that can still be refunded: those not refunded, within the amount not yet given back."""
    done = refunded(order)
    return max(0, min(order.quantity - done.units, (order.amount - done.amount) // order.unit_amount))


def refund_order(
    admin: Any, order_id: int, units: int, reason: str, attempt: str, *, drawn_units: int | None = None
) -> OrderRefund:
    """Refund ``units`` of the order (units x unit price) at Stripe, once per ``attempt`` (the form's
    key): a double submit answers the refund the first made. Refused with a message, before any
    Stripe call, when the order was not paid, fewer units remain, or (``drawn_units``: the units
    left the admin's form showed) another refund was made since the form was drawn."""
    if not ATTEMPT_KEY.match(attempt or ""):
        raise RefundRefused(_("This form has expired. Reload the page and try again."))
    # The first statement writes the order's row: a second admin's refund waits for this one.
    touched = db.session.execute(
        sa.update(Order)
        .where(Order.id == order_id)
        .values(updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    order = db.session.get(Order, order_id)
    if touched.rowcount != 1 or order is None:
        raise OrderNotFound()
    expire_loaded(order)
    earlier = db.session.scalar(sa.select(OrderRefund).where(OrderRefund.attempt_key == attempt))
    if earlier is not None and earlier.order_id == order.id:
        return earlier
    if earlier is not None:  # another order's form's key (forged or mixed up): not this order's refund
        raise RefundRefused(_("This form has expired. Reload the page and try again."))
    if order.pending_refund:
        row = _settle_first(order, attempt)
        if row is not None:
            return row
        order = db.session.get(Order, order_id)
    _check_drawn(order, drawn_units)
    _check(order, units, reason)
    call = {
        "amount": units * order.unit_amount,
        "metadata": {
            "orderId": str(order.id),
            "units": str(units),
            "refundedBy": str(admin.id),
            "reason": reason.strip(),
            "attempt": attempt,
        },
        "key": ["order", order.id, order.reference, attempt],
        "attempt": attempt,
    }
    try:
        refund = _create(order, call)
    except StripeUnavailable as error:
        if not error.reached_stripe:
            raise
        db.session.rollback()
        log.warning("refund outcome unknown order_id=%s", order_id)
        order = db.session.get(Order, order_id)
        order.pending_refund = {**call, "asked_at": int(utcnow().timestamp())}
        db.session.commit()
        raise RefundUnconfirmed() from error
    record_refund(order, as_dict(refund))
    row = db.session.scalar(sa.select(OrderRefund).where(OrderRefund.stripe_refund_id == refund.id))
    return row


def _settle_first(order: Order, attempt: str) -> OrderRefund | None:
    """The order's unanswered refund, learned before another: the same form's refund (or refused
    if Stripe did not make it); another form is told what Stripe made; None: go on (commits)."""
    pending = order.pending_refund
    row = settle_pending(order)
    db.session.commit()
    if pending["attempt"] == attempt:  # the same form again: its refund, as Stripe made it
        if row is None:
            raise RefundRefused(_("Stripe did not make that refund. Reload the page to refund again."))
        return row
    if row is not None:  # a form drawn while that refund was unknown: it is known now
        raise RefundRefused(
            ngettext(
                "Stripe made the earlier refund of %(amount)s of order #%(order)s; %(left)s unit is "
                "left. Nothing more was refunded: refund again if more is due.",
                "Stripe made the earlier refund of %(amount)s of order #%(order)s; %(left)s units are "
                "left. Nothing more was refunded: refund again if more is due.",
                units_left(order),
                amount=format_money(row.amount, row.currency),
                order=order.id,
                left=units_left(order),
            )
        )
    return None


def _create(order: Order, call: dict) -> Any:
    return stripe_refunds.refund_amount(
        order.payment_intent_id, call["amount"], call["metadata"], key=tuple(call["key"])
    )


def settle_pending(order: Order) -> OrderRefund | None:
    """Learn what became of the order's unanswered refund: the refund Stripe made for it (its
    metadata names the attempt; one list of the PaymentIntent's refunds) is adopted; none there, the
    same call is sent with the same Idempotency-Key (Stripe refunds once, or answers what it made).
    The refund's row, or None if Stripe refused it. Still no answer: ``RefundUnconfirmed``. No commit."""
    call = order.pending_refund
    if not call:
        return None
    try:
        made = stripe_refunds.payment_intent_refunds(order.payment_intent_id)
        refund = next((r for r in made if (r.get("metadata") or {}).get("attempt") == call["attempt"]), None)
        if refund is None:
            refund = as_dict(_create(order, call))
    except StripeUnavailable as error:
        raise RefundUnconfirmed() from error
    except BillingError:  # Stripe refused the same call: it did not happen
        order.pending_refund = None
        return None
    record_refund(order, refund)
    order.pending_refund = None
    return db.session.scalar(sa.select(OrderRefund).where(OrderRefund.stripe_refund_id == refund["id"]))


def _check_drawn(order: Order, drawn_units: int | None) -> None:
    """Refused when another refund was made since the form showed ``drawn_units`` left."""
    if drawn_units is not None and refundable(order) and drawn_units != units_left(order):
        raise RefundRefused(
            ngettext(
                "Since this page was drawn, the refunds of order #%(order)s changed: %(left)s unit "
                "is left. Nothing was refunded now: check and refund again if more is due.",
                "Since this page was drawn, the refunds of order #%(order)s changed: %(left)s units "
                "are left. Nothing was refunded now: check and refund again if more is due.",
                units_left(order),
                order=order.id,
                left=units_left(order),
            )
        )


def _check(order: Order, units: int, reason: str) -> None:
    if not refundable(order):
        raise RefundRefused(
            _("Order #%(order)s was not paid, so there is nothing to refund.", order=order.id)
        )
    if not reason or not reason.strip():
        raise RefundRefused(_("Say why you are refunding (the History of the order keeps it)."))
    if len(reason.strip()) > MAX_REASON:
        raise RefundRefused(_("Keep the reason under %(most)s characters.", most=MAX_REASON))
    left = units_left(order)
    if left == 0:
        raise RefundRefused(_("Order #%(order)s is already refunded in full.", order=order.id))
    if not isinstance(units, int) or units < 1 or units > left:
        raise RefundRefused(
            ngettext(
                "Order #%(order)s has %(left)s of its %(quantity)s unit left to refund: "
                "choose between 1 and %(left)s.",
                "Order #%(order)s has %(left)s of its %(quantity)s units left to refund: "
                "choose between 1 and %(left)s.",
                order.quantity,
                order=order.id,
                left=left,
                quantity=order.quantity,
            )
        )


def _portal_units(order: Order, metadata: dict) -> int | None:
    """The units a refund the portal started names (its metadata); None for any other refund."""
    if metadata.get("orderId") != str(order.id) or not str(metadata.get("units", "")).isdigit():
        return None
    return int(metadata["units"]) or None


def _actor(metadata: dict) -> int | None:
    actor = str(metadata.get("refundedBy", ""))
    return int(actor) if actor.isdigit() else None


def record_refund(order: Order, refund: dict) -> bool:
    """Write Stripe's refund of ``order`` (once; later calls update its status). True if this call
    recorded it: then the portal's units are back in stock and the buyer's email is queued."""
    metadata = refund.get("metadata") or {}
    units = _portal_units(order, metadata)
    waiting = (order.pending_refund or {}).get("attempt")
    if waiting and metadata.get("attempt") == waiting:
        order.pending_refund = None  # the unanswered refund, known now (its webhook came first)
    table = OrderRefund.__table__
    recorded = insert_once(
        table,
        {
            "order_id": order.id,
            "stripe_refund_id": refund["id"],
            "amount": int(refund.get("amount") or 0),
            "currency": refund.get("currency") or order.currency,
            "units": units,
            "status": refund.get("status") or "succeeded",
            "reason": (metadata.get("reason") or refund.get("reason") or None),
            "refunded_by_id": _actor(metadata),
            "attempt_key": metadata.get("attempt") if units else None,
            "created_at": utcnow(),
        },
        table.c.stripe_refund_id,
        refresh=("status",),
    )
    if not recorded:
        return False
    if units and order.status == OrderStatus.PAID and refund.get("status") in COUNTED:
        return_stock(order.product_id, units)
    expire_loaded(order, order.product)
    log.info("order refunded order_id=%s refund_id=%s units=%s", order.id, refund["id"], units)
    _queue_email(order, refund, units)
    return True


def _queue_email(order: Order, refund: dict, units: int | None) -> None:
    if not order.receipt_email:
        return
    try:
        link = url_for("shop.order", order_id=order.id, _external=True)
    except RuntimeError:  # outside a request and without SERVER_NAME
        link = None
    amount = lazy_money(int(refund.get("amount") or 0), refund.get("currency") or order.currency)
    with caused_by(f"refund:{refund['id']}"):
        queue_email(
            order.receipt_email,
            _l("Your refund of %(amount)s for order #%(order)s", amount=amount, order=order.id),
            "shop_refund",
            sent_once=True,
            order=order,
            product=order.product_name,
            amount=amount,
            units=units,
            link=link,
        )


def refund_changed(refund: Any) -> bool:
    """A refund Stripe tells of (``refund.created``/``updated``, a ``charge.refunded``'s refunds):
    recorded against the order its PaymentIntent paid. False if it is no order's."""
    refund = as_dict(refund)
    intent = refund.get("payment_intent")
    order = db.session.scalar(sa.select(Order).where(Order.payment_intent_id == intent)) if intent else None
    if order is None:
        return False
    record_refund(order, refund)
    return True


def by_attempt(order: Order, attempt: str | None) -> OrderRefund | None:
    """The refund an earlier post of the same form made (a double submit finds it)."""
    if not attempt:
        return None
    return db.session.scalar(
        sa.select(OrderRefund).where(OrderRefund.order_id == order.id, OrderRefund.attempt_key == attempt)
    )


PER_PAGE = 50


def charged_orders(page: int = 1, per_page: int = PER_PAGE) -> tuple[list[tuple[Order, Refunded]], bool]:
    """The admin's list: paid orders and those owed a refund, newest first, with what was refunded;
    one page of them, and whether older ones follow (so every order can be reached from the list)."""
    orders = list(
        db.session.scalars(
            sa.select(Order)
            .where(
                Order.payment_intent_id.is_not(None),
                sa.or_(Order.status == OrderStatus.PAID, Order.failure_message == REFUND_DUE),
            )
            .order_by(Order.created_at.desc(), Order.id.desc())
            .offset((page - 1) * per_page)
            .limit(per_page + 1)
        )
    )
    return [(order, refunded(order)) for order in orders[:per_page]], len(orders) > per_page


def get_order(order_id: int) -> Order:
    order = db.session.get(Order, order_id)
    if order is None:
        raise OrderNotFound()
    return order
