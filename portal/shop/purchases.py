"""Buying a product with a saved card: reserve the stock, charge, settle; commits its own work."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

from portal.extensions import db
from portal.gateway import payment_intents as stripe_payments
from portal.gateway.errors import BillingError, CardDeclined, InvalidRequest, StripeUnavailable
from portal.gateway.shapes import as_dict
from portal.shop.catalog import get_product, reserve_stock
from portal.shop.errors import (
    MAX_QUANTITY,
    CurrencyMismatch,
    InvalidQuantity,
    OutOfStock,
    PaymentFailed,
    PaymentNotSent,
    PaymentOutcomeUnknown,
)
from portal.shop.models import Order, OrderStatus, Product
from portal.shop.settlement import payment_error_message, said, settle_paid, settle_released
from portal.users.models import User
from portal.wallet import services as wallet_services

log = logging.getLogger(__name__)


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
        raise PaymentFailed(said(message), order)
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
