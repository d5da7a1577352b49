"""Products, and the orders that reserve their stock and pay for it."""

from __future__ import annotations

import datetime as dt
import enum
import secrets

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.database import NEVER_REUSED_IDS, TimestampMixin, surrogate_id, utcnow
from portal.extensions import db
from portal.users.models import User


class Product(TimestampMixin, db.Model):
    __tablename__ = "products"

    id: Mapped[int] = surrogate_id()
    name: Mapped[str] = mapped_column(sa.String(120))
    description: Mapped[str] = mapped_column(sa.Text, default="")
    #: Integer minor units (cents) of ``currency``.
    price: Mapped[int]
    currency: Mapped[str] = mapped_column(sa.String(3), default="usd")
    #: Units available to buy now: reservations for pending orders are already taken off.
    stock: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(default=True)

    __table_args__ = (
        sa.CheckConstraint("stock >= 0", name="stock_not_negative"),
        sa.CheckConstraint("price > 0", name="price_positive"),
        NEVER_REUSED_IDS,
    )

    @property
    def in_stock(self) -> bool:
        return self.stock > 0

    def __repr__(self) -> str:
        return f"<Product {self.id} {self.name!r} stock={self.stock}>"


class OrderStatus(enum.StrEnum):
    PENDING = "pending"  #: stock reserved, payment in progress (or waiting for authentication)
    PAID = "paid"  #: payment succeeded: the reservation became a sale
    FAILED = "failed"  #: payment declined or failed; stock released
    CANCELED = "canceled"  #: abandoned and released by ``flask shop release-stale``


_ORDER_STATUS = sa.Enum(
    OrderStatus, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e]
)


class Order(TimestampMixin, db.Model):
    __tablename__ = "orders"

    id: Mapped[int] = surrogate_id()
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"), index=True)
    #: RESTRICT: a product that was sold stays (deactivate it instead), so its orders keep their line.
    product_id: Mapped[int] = mapped_column(sa.ForeignKey("products.id", ondelete="RESTRICT"), index=True)
    #: Random, fixed at creation: with the id it forms the Stripe idempotency keys, so a database
    #: restored or reset never replays another order's request.
    reference: Mapped[str] = mapped_column(sa.String(32), unique=True, default=lambda: secrets.token_hex(8))
    quantity: Mapped[int]
    #: Price per unit and total, in minor units, as charged (a later price change does not touch it).
    unit_amount: Mapped[int]
    amount: Mapped[int]
    currency: Mapped[str] = mapped_column(sa.String(3))
    status: Mapped[OrderStatus] = mapped_column(_ORDER_STATUS, default=OrderStatus.PENDING, index=True)
    payment_intent_id: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    payment_method_id: Mapped[str | None] = mapped_column(sa.String(64))
    card_brand: Mapped[str | None] = mapped_column(sa.String(32))
    card_last4: Mapped[str | None] = mapped_column(sa.String(4))
    receipt_email: Mapped[str | None] = mapped_column(sa.String(254))
    #: Stripe's words when the payment failed, shown to the buyer.
    failure_message: Mapped[str | None] = mapped_column(sa.String(500))
    paid_at: Mapped[dt.datetime | None]
    #: Set in the same transaction that marks the order paid: the receipt goes out once.
    receipt_sent_at: Mapped[dt.datetime | None]
    released_at: Mapped[dt.datetime | None]
    #: A refund whose request reached Stripe unanswered (its call, key included): no other refund
    #: of the order until Stripe's answer is known (``refunds.settle_pending``).
    pending_refund: Mapped[dict | None] = mapped_column(sa.JSON(none_as_null=True))

    product: Mapped[Product] = relationship()

    __table_args__ = (sa.CheckConstraint("quantity > 0", name="quantity_positive"), NEVER_REUSED_IDS)

    @property
    def product_name(self) -> str:
        return self.product.name if self.product is not None else "Deleted product"

    def __repr__(self) -> str:
        return f"<Order {self.id} {self.status.value} x{self.quantity} product={self.product_id}>"


class OrderRefund(db.Model):
    """Money given back for an order, one row per Stripe refund, whoever made it (the portal or
    Stripe's dashboard): the first writer of a refund id inserts it, later ones find it."""

    __tablename__ = "order_refunds"

    id: Mapped[int] = surrogate_id()
    order_id: Mapped[int] = mapped_column(sa.ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    stripe_refund_id: Mapped[str] = mapped_column(sa.String(64), unique=True)
    amount: Mapped[int] = mapped_column(sa.BigInteger)
    currency: Mapped[str] = mapped_column(sa.String(3))
    #: Units the portal refunded (and returned to stock); None: an amount refunded in Stripe's dashboard.
    units: Mapped[int | None]
    #: Stripe's refund status (``succeeded``, ``pending``, ``failed``, ``canceled``).
    status: Mapped[str] = mapped_column(sa.String(32))
    reason: Mapped[str | None] = mapped_column(sa.String(400))
    refunded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    #: The admin's refund form (its key, made when it was drawn): a double submit finds its refund here.
    attempt_key: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    refunded_by: Mapped[User | None] = relationship()

    __table_args__ = (
        sa.CheckConstraint("units IS NULL OR units > 0", name="refund_units_positive"),
        NEVER_REUSED_IDS,
    )
