"""The local mirror of the platform's promotion codes, and the retention coupon setting."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from portal.database import NEVER_REUSED_IDS, surrogate_id, utcnow
from portal.extensions import db


class DiscountTerms:
    """What a coupon takes off and for how long (the columns both tables share)."""

    percent_off: Mapped[float | None] = mapped_column(sa.Float)
    amount_off: Mapped[int | None] = mapped_column(sa.BigInteger)
    currency: Mapped[str | None] = mapped_column(sa.String(3))
    #: ``once``, ``repeating`` (for ``duration_in_months``) or ``forever``, as at Stripe.
    duration: Mapped[str] = mapped_column(sa.String(16))
    duration_in_months: Mapped[int | None]


class PromotionCode(DiscountTerms, db.Model):
    """A promotion code at Stripe and its coupon's terms: the admin page lists these, no Stripe call."""

    __tablename__ = "promotion_codes"
    __table_args__ = (NEVER_REUSED_IDS,)

    id: Mapped[int] = surrogate_id()
    stripe_id: Mapped[str] = mapped_column(sa.String(64), unique=True)
    code: Mapped[str] = mapped_column(sa.String(500))
    coupon_id: Mapped[str] = mapped_column(sa.String(64))
    active: Mapped[bool] = mapped_column(default=True)
    max_redemptions: Mapped[int | None]
    times_redeemed: Mapped[int] = mapped_column(default=0)
    expires_at: Mapped[dt.datetime | None]
    #: Stripe time of the state mirrored; an older event never overwrites it.
    stripe_synced_at: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class RetentionCoupon(DiscountTerms, db.Model):
    """The coupon offered once to a subscription whose owner starts cancelling: the newest row is the
    setting (``enabled`` False: no offer); each configuration is its own coupon at Stripe."""

    __tablename__ = "retention_coupons"
    __table_args__ = (NEVER_REUSED_IDS,)

    id: Mapped[int] = surrogate_id()
    coupon_id: Mapped[str] = mapped_column(sa.String(64))
    enabled: Mapped[bool] = mapped_column(default=True)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
