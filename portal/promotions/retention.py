"""The retention coupon setting: a platform admin sets its terms (a coupon at Stripe) or turns it off."""

from __future__ import annotations

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _

from portal.extensions import db
from portal.gateway import discounts as stripe_discounts
from portal.promotions.errors import PromotionError
from portal.promotions.forms import RetentionCouponForm
from portal.promotions.models import RetentionCoupon
from portal.promotions.words import discount_words
from portal.users.models import User


def current_retention_coupon() -> RetentionCoupon | None:
    """The coupon to offer now, if one is configured and on."""
    latest = db.session.scalar(sa.select(RetentionCoupon).order_by(RetentionCoupon.id.desc()).limit(1))
    return latest if latest is not None and latest.enabled else None


def drawn_setting() -> int:
    """The setting a drawn form replaces (the newest row's id, 0: none yet): its ``drawn`` field."""
    return db.session.scalar(sa.select(sa.func.max(RetentionCoupon.id))) or 0


def _require_unchanged(drawn: int) -> None:
    latest = db.session.scalar(
        sa.select(RetentionCoupon)
        .order_by(RetentionCoupon.id.desc())
        .limit(1)
        .execution_options(populate_existing=True)
    )
    if (latest.id if latest else 0) == drawn:
        return
    if latest is not None and latest.enabled:
        now = _(
            "The retention offer changed since this page was drawn: it is now %(terms)s. Nothing was "
            "changed; check it, then send yours again if it should replace it.",
            terms=discount_words(latest),
        )
    else:
        now = _(
            "The retention offer changed since this page was drawn: no offer is made now. Nothing was "
            "changed; check it, then send yours again if it should be offered."
        )
    raise PromotionError(now, status=409)


def configure_retention(
    form: RetentionCouponForm, actor: User, attempt: str, drawn: str | None = None
) -> RetentionCoupon:
    """New terms: a new coupon at Stripe (a coupon's terms never change there), the newest setting.
    ``drawn``: the setting the form was drawn with (``drawn_setting``); a newer one (another admin's
    save meanwhile) is not overwritten (third attack F13: the last of three tabs won silently)."""
    if not (drawn or "").isdigit():
        raise PromotionError(_("Reload the page to see the retention offer, then set it again."), status=409)
    params = form.coupon_params(current_app.config["BILLING_CURRENCY"])
    coupon = stripe_discounts.create_coupon(
        {**params, "name": "Retention offer", "metadata": {"source": "portal_retention"}},
        key=("retention", attempt),
    )
    existing = db.session.scalar(sa.select(RetentionCoupon).where(RetentionCoupon.coupon_id == coupon.id))
    if existing is not None:  # the same form posted twice: Stripe answered the same coupon
        return existing
    if int(drawn):  # the drawn setting's row written first: a concurrent save waits, then sees ours
        db.session.execute(
            sa.update(RetentionCoupon)
            .where(RetentionCoupon.id == int(drawn))
            .values(enabled=RetentionCoupon.enabled)
            .execution_options(synchronize_session=False)
        )
    _require_unchanged(int(drawn))
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
