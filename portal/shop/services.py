"""Shop operations: products, purchases, and the stock rules.

Stock is a single counter of units available now. It only ever changes through
conditional updates, so concurrent buyers and duplicate Stripe events cannot
oversell or double count:

* ``reserve_stock``: ``stock = stock - q WHERE stock >= q`` when an order is created
  (before any charge; a refusal is "out of stock").
* ``settle_paid``: ``status = 'paid' WHERE status = 'pending'``: the reservation
  becomes a sale once, whichever of the request and the webhook comes first; the
  receipt email is queued by the same winning update.
* ``settle_released``: ``status = 'failed'|'canceled' WHERE status = 'pending'``,
  and only then ``stock = stock + q``: a reservation is given back once.

The ``settle_*`` functions never commit (webhook handlers share them); the
purchase functions called by views and the API commit their own work.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask import url_for

from portal.database import utcnow
from portal.errors import UserError
from portal.extensions import db
from portal.formatting import format_money
from portal.gateway import payment_intents as stripe_payments
from portal.gateway.errors import BillingError, CardDeclined, InvalidRequest, StripeUnavailable
from portal.gateway.shapes import as_dict, object_id
from portal.mail.outbox import caused_by, queue_email
from portal.shop.models import Order, OrderStatus, Product
from portal.users.models import User
from portal.wallet import services as wallet_services

log = logging.getLogger(__name__)

#: Most units of one product in a single order.
MAX_QUANTITY = 20


class ShopError(UserError):
    """A refusal the buyer can act on; ``order`` is the order it concerns, if one was made."""

    code = "shop_error"

    def __init__(self, message: str, order: Order | None = None) -> None:
        super().__init__(message)
        self.order = order


class ProductNotFound(ShopError):
    status = 404
    code = "not_found"

    def __init__(self) -> None:
        super().__init__("That product does not exist or is no longer for sale.")


class OrderNotFound(ShopError):
    status = 404
    code = "not_found"

    def __init__(self) -> None:
        super().__init__("That order was not found.")


class InvalidQuantity(ShopError):
    code = "invalid_quantity"

    def __init__(self) -> None:
        super().__init__(f"Choose a quantity between 1 and {MAX_QUANTITY}.")


class CurrencyMismatch(ShopError):
    code = "invalid_currency"

    def __init__(self, currency: str) -> None:
        super().__init__(f"This product is sold in {currency.upper()}.")


class OutOfStock(ShopError):
    status = 409
    code = "out_of_stock"

    def __init__(self, product: Product, quantity: int) -> None:
        if product.stock <= 0:
            message = f"Sorry, {product.name} is out of stock. You have not been charged."
        else:
            message = (
                f"Sorry, only {product.stock} of {product.name} left, fewer than the {quantity} "
                "you asked for. You have not been charged."
            )
        super().__init__(message)


class PaymentFailed(ShopError):
    """The card was declined (or the payment failed); the order is failed and its stock released."""

    status = 402
    code = "card_declined"


class PaymentNotSent(ShopError):
    """Stripe never received the charge (refused, connect timeout, breaker open): the order
    failed and its stock is back."""

    status = 503
    code = "stripe_unavailable"


class PaymentOutcomeUnknown(ShopError):
    """The charge was sent and no answer came: the stock stays reserved until the intent is found."""

    status = 503
    code = "stripe_unavailable"

    def __init__(self, order: Order) -> None:
        super().__init__(
            f"Stripe did not answer in time, so we cannot tell yet whether order #{order.id} was "
            "charged. Its items stay reserved for you and the order page shows the outcome once Stripe "
            "answers: please check it before buying again.",
            order,
        )


# --- products -------------------------------------------------------------------------------------------


def list_products(*, include_inactive: bool = False) -> list[Product]:
    query = sa.select(Product).order_by(Product.name, Product.id)
    if not include_inactive:
        query = query.where(Product.active.is_(True))
    return list(db.session.scalars(query))


def get_product(product_id: int, *, include_inactive: bool = False) -> Product:
    product = db.session.get(Product, product_id)
    if product is None or not (product.active or include_inactive):
        raise ProductNotFound()
    return product


PRODUCT_FIELDS = ("name", "description", "price", "currency", "stock", "active")


def create_product(**fields: Any) -> Product:
    product = Product(**{k: v for k, v in fields.items() if k in PRODUCT_FIELDS})
    product.currency = product.currency.lower()
    db.session.add(product)
    db.session.commit()
    return product


def update_product(product: Product, **fields: Any) -> Product:
    """Admin edit. ``stock`` is set as the units available now (pending reservations excluded)."""
    for name, value in fields.items():
        if name in PRODUCT_FIELDS:
            setattr(product, name, value.lower() if name == "currency" else value)
    db.session.commit()
    return product


# --- stock ----------------------------------------------------------------------------------------------


def reserve_stock(product_id: int, quantity: int) -> bool:
    """Take ``quantity`` units if that many are available; atomic, never below zero. No commit."""
    result = db.session.execute(
        sa.update(Product)
        .where(Product.id == product_id, Product.stock >= quantity, Product.active.is_(True))
        .values(stock=Product.stock - quantity)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def _return_stock(product_id: int, quantity: int) -> None:
    db.session.execute(
        sa.update(Product)
        .where(Product.id == product_id)
        .values(stock=Product.stock + quantity)
        .execution_options(synchronize_session=False)
    )


def _expire(*objects: object) -> None:
    for obj in objects:
        if obj is not None and obj in db.session:
            db.session.expire(obj)


# --- settling an order (never commits) ------------------------------------------------------------------


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
        _expire(order, order.product)
        _queue_receipt(order.id)
        log.info("order paid order_id=%s payment_intent_id=%s", order.id, payment_intent_id)
        return True
    _expire(order)
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
        order.failure_message = "Paid after the reservation lapsed and the product sold out: refund due."
        return False
    now = utcnow()
    result = db.session.execute(
        sa.update(Order)
        .where(Order.id == order.id, Order.status == previous)
        .values(status=OrderStatus.PAID, paid_at=now, receipt_sent_at=now, released_at=None)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # someone else settled it meanwhile: give the units back
        _return_stock(order.product_id, order.quantity)
        _expire(order)
        return False
    _expire(order, order.product)
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
        _expire(order)
        return False
    _return_stock(order.product_id, order.quantity)
    _expire(order, order.product)
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
    return error.get("message") or "The payment was not completed."


# --- receipts, queued in the transaction that marks the order paid (see portal.mail.outbox) -----------


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
            f"Your receipt for order #{order['id']}",
            "shop_receipt",
            order=order,
            total=format_money(order["amount"], order["currency"]),
            unit=format_money(order["unit_amount"], order["currency"]),
            link=link,
        )


# --- purchases ------------------------------------------------------------------------------------------


@dataclass
class PurchaseResult:
    order: Order
    #: Set when the browser still has to act (3-D Secure, or confirm a card) with Stripe.js.
    client_secret: str | None = None
    payment_intent_status: str | None = None

    @property
    def requires_action(self) -> bool:
        return self.order.status == OrderStatus.PENDING and self.client_secret is not None


def validate_quantity(quantity: Any) -> int:
    if isinstance(quantity, bool) or not isinstance(quantity, int) or not 1 <= quantity <= MAX_QUANTITY:
        raise InvalidQuantity()
    return quantity


def purchase(
    user: User,
    product_id: int,
    quantity: int,
    payment_method_id: str | None = None,
    *,
    currency: str | None = None,
) -> PurchaseResult:
    """Reserve stock, create the order, and charge the chosen saved card on-session.

    Without ``payment_method_id`` the default card is used; a user with no card at
    all gets an unconfirmed PaymentIntent whose client secret Stripe.js confirms.
    Raises ``ShopError`` subclasses (nothing charged) or ``StripeUnavailable``.
    """
    quantity = validate_quantity(quantity)
    product = get_product(product_id)
    if currency is not None and currency.lower() != product.currency:
        raise CurrencyMismatch(product.currency)
    if product.stock < quantity:  # the cheap early answer; reserve_stock is the real check
        raise OutOfStock(product, quantity)

    wallet = wallet_services.user_wallet(user)  # may create the Stripe customer
    if payment_method_id:
        card = wallet_services.find_card(wallet, payment_method_id)
    else:
        cards = wallet_services.list_cards(wallet.customer_id)
        card = cards[0] if cards else None  # default first

    if not reserve_stock(product.id, quantity):
        db.session.rollback()
        db.session.refresh(product)
        raise OutOfStock(product, quantity)
    order = Order(
        user_id=user.id,
        product_id=product.id,
        quantity=quantity,
        unit_amount=product.price,
        amount=product.price * quantity,
        currency=product.currency,
        status=OrderStatus.PENDING,
        payment_method_id=card.stripe_id if card else None,
        card_brand=card.brand if card else None,
        card_last4=card.last4 if card else None,
        receipt_email=user.email,
    )
    db.session.add(order)
    db.session.commit()  # the reservation and the order, together
    return _charge(user, order, product, wallet.customer_id)


def _charge(user: User, order: Order, product: Product, customer_id: str) -> PurchaseResult:
    try:
        intent = stripe_payments.create_payment_intent(
            amount=order.amount,
            currency=order.currency,
            customer_id=customer_id,
            payment_method_id=order.payment_method_id,
            receipt_email=order.receipt_email,
            metadata={
                "userId": str(user.id),
                "productId": str(product.id),
                "quantity": str(order.quantity),
                "orderId": str(order.id),
                "orderRef": order.reference,
            },
            description=f"{order.quantity} x {product.name} (order #{order.id})",
            key=("order", order.id, order.reference),
        )
    except StripeUnavailable as error:
        intent = _intent_after_no_answer(order, customer_id, error)
    except BillingError as error:
        order.payment_intent_id = getattr(error, "payment_intent_id", None) or order.payment_intent_id
        settle_released(order, OrderStatus.FAILED, error.message)
        db.session.commit()
        if isinstance(error, CardDeclined | InvalidRequest):
            raise PaymentFailed(error.message, order) from None
        raise

    data = as_dict(intent)
    order.payment_intent_id = data["id"]
    db.session.flush()
    status = data.get("status")
    confirmed = order.payment_method_id is not None
    client_secret = None
    if status == "succeeded":
        settle_paid(order, data["id"])
    elif status in ("requires_action", "requires_confirmation") or (
        status == "requires_payment_method" and not confirmed
    ):
        client_secret = data.get("client_secret")
    elif status in ("requires_payment_method", "canceled"):
        message = payment_error_message(data)
        settle_released(order, OrderStatus.FAILED, message)
        db.session.commit()
        raise PaymentFailed(message, order)
    # "processing": stays pending until payment_intent.succeeded or payment_failed arrives.
    db.session.commit()
    return PurchaseResult(order=order, client_secret=client_secret, payment_intent_status=status)


def _intent_after_no_answer(order: Order, customer_id: str, error: StripeUnavailable) -> Any:
    """Stripe gave no answer to the order's PaymentIntent request: what did it do?

    Provably nothing (the request never left): the order fails and its stock is back at
    once. Maybe something (sent, no answer): the intent is looked up; found, the order
    follows it; not found (yet), the reservation stays until ``payment_intent.*`` events
    or ``flask shop release-stale`` settle it, by the same lookup.
    """
    if not error.reached_stripe:
        settle_released(order, OrderStatus.FAILED, error.message)
        db.session.commit()
        raise PaymentNotSent(error.message, order) from None
    try:
        intent = find_order_payment_intent(order, customer_id)
    except StripeUnavailable:
        intent = None
    if intent is None:
        log.warning("payment intent outcome unknown order_id=%s", order.id)
        raise PaymentOutcomeUnknown(order) from None
    return intent


def find_order_payment_intent(order: Order, customer_id: str | None = None) -> Any:
    """The PaymentIntent created for ``order`` (by its reference in the metadata), or None.

    Raises ``StripeUnavailable`` when Stripe cannot be asked.
    """
    if customer_id is None:
        buyer = db.session.get(User, order.user_id) if order.user_id else None
        customer_id = buyer.stripe_customer_id if buyer else None
    if customer_id is None:  # no customer, no intent: ours are always created for one
        return None
    created = order.created_at.replace(tzinfo=dt.UTC).timestamp()
    return stripe_payments.find_payment_intent(
        customer_id, "orderRef", order.reference, created_since=int(created) - 24 * 3600
    )


# --- orders ---------------------------------------------------------------------------------------------


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


# --- abandoned orders -----------------------------------------------------------------------------------


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
    won = settle_released(order, OrderStatus.CANCELED, "The payment was not completed in time.")
    return "released" if won else None
