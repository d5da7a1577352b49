"""The retention coupon setting: a platform admin sets its terms (a coupon at Stripe) or turns it off."""

from __future__ import annotations

import sqlalchemy as sa
from flask import current_app

from portal.extensions import db
from portal.gateway import discounts as stripe_discounts
from portal.promotions.forms import RetentionCouponForm
from portal.promotions.models import RetentionCoupon
from portal.users.models import User


def current_retention_coupon() -> RetentionCoupon | None:
    """The coupon to offer now, if one is configured and on."""
    latest = db.session.scalar(sa.select(RetentionCoupon).order_by(RetentionCoupon.id.desc()).limit(1))
    return latest if latest is not None and latest.enabled else None


def configure_retention(form: RetentionCouponForm, actor: User, attempt: str) -> RetentionCoupon:
    """New terms: a new coupon at Stripe (a coupon's terms never change there), the newest setting."""
    params = form.coupon_params(current_app.config["BILLING_CURRENCY"])
    coupon = stripe_discounts.create_coupon(
        {**params, "name": "Retention offer", "metadata": {"source": "portal_retention"}},
        key=("retention", attempt),
    )
    existing = db.session.scalar(sa.select(RetentionCoupon).where(RetentionCoupon.coupon_id == coupon.id))
    if existing is not None:  # the same form posted twice: Stripe answered the same coupon
        return existing
    row = RetentionCoupon(
        coupon_id=coupon.id,
        percent_off=params.get("percent_off"),
        amount_off=params.get("amount_off"),
        currency=params.get("currency"),
        duration=params["duration"],
        duration_in_months=params.get("duration_in_months"),
        created_by_id=actor.id,
    )
    db.session.add(row)
    db.session.commit()
    return row


def turn_off_retention() -> None:
    latest = current_retention_coupon()
    if latest is not None:
        latest.enabled = False
        db.session.commit()
