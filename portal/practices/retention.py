"""The retention offer (issue 17): before an owner or admin cancels, the platform's retention coupon
is offered once per subscription. Accepting applies it at Stripe (one idempotency key per
subscription, so two tabs apply it once) and keeps the subscription; declining goes on to the
cancellation form. The offer row (unique per subscription) is the "once"."""

from __future__ import annotations

import logging

import sqlalchemy as sa
from flask_babel import gettext as _

from portal.database import upsert_insert, utcnow
from portal.extensions import db
from portal.gateway.errors import BillingError
from portal.practices import audit, plan_changes, unconfirmed
from portal.practices.discounts import mirror_discounts
from portal.practices.errors import PracticeError
from portal.practices.members import require_manager
from portal.practices.models import Practice, RetentionOffer
from portal.promotions.models import RetentionCoupon
from portal.promotions.retention import current_retention_coupon
from portal.promotions.words import said_terms, terms_words
from portal.text import N_
from portal.users.models import User

log = logging.getLogger(__name__)

NO_OFFER = N_("There is no offer to accept for this subscription.")


def _offer_row(practice: Practice, lock: bool = False) -> RetentionOffer | None:
    query = sa.select(RetentionOffer).where(RetentionOffer.subscription_id == practice.stripe_subscription_id)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    return db.session.scalar(query)


def _same_currency(coupon: RetentionCoupon, practice: Practice) -> bool:
    """An amount off is in one currency (the default one): Stripe refuses it on a subscription in
    another, so a practice paying in VND is not offered a dollar amount (a percentage suits all)."""
    return not coupon.amount_off or (coupon.currency or "").lower() == (practice.currency or "usd").lower()


def offer_for(practice: Practice) -> RetentionCoupon | None:
    """The coupon to offer before the cancellation form: one is configured, the subscription is live
    and not set to end, and it was never offered (accepted or declined) to this subscription."""
    if not practice.subscription_live or practice.cancel_at_period_end or practice.cancel_at:
        return None
    if practice.subscription_status != "active":
        return None
    coupon = current_retention_coupon()
    if coupon is None or not _same_currency(coupon, practice):
        return None
    row = _offer_row(practice)
    return coupon if row is None or row.outcome == "offered" else None


def _claim(practice: Practice, coupon: RetentionCoupon) -> RetentionOffer:
    """The offer's row, made once per subscription whatever the concurrency (the unique id decides)."""
    db.session.execute(
        upsert_insert(RetentionOffer.__table__)
        .values(
            practice_id=practice.id,
            subscription_id=practice.stripe_subscription_id,
            coupon_id=coupon.coupon_id,
            terms=terms_words(coupon, said=False)[:120],
            outcome="offered",
            created_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["subscription_id"])
    )
    return _offer_row(practice, lock=True)


OFFER_CHANGED = N_("The offer changed since this page was loaded; here is the current one.")
OFFER_NOT_SHOWN = N_("Reload the page to see the offer before accepting it; nothing was applied.")
OFFER_WITHDRAWN = N_("The platform has withdrawn this offer since this page was loaded; nothing was applied.")


def accept_offer(practice: Practice, actor: User, shown: str | None) -> RetentionOffer:
    """Apply the offer's coupon: ``shown`` is the coupon the page offered (its form carries it), so
    an offer the admin changed or withdrew meanwhile is refused in words, never swapped, and an
    acceptance that names no coupon accepts nothing. Stripe's answer lost: the acceptance is written
    as asked and learned later (``unconfirmed``)."""
    require_manager(practice, actor)
    coupon = offer_for(practice)
    row = _offer_row(practice, lock=True)
    if row is not None and row.outcome == "accepted":
        _keep_through_switch(practice)  # finishes what an outage cut short
        raise PracticeError(
            _("The offer was already accepted: %(terms)s.", terms=said_terms(row.terms)), status=409
        )
    if not shown:
        raise PracticeError(OFFER_NOT_SHOWN, status=409)
    if (coupon is None or coupon.coupon_id != shown) and (row is None or row.coupon_id != shown):
        raise PracticeError(OFFER_WITHDRAWN if coupon is None else OFFER_CHANGED, status=409)
    if coupon is None:
        raise PracticeError(NO_OFFER, status=409)
    row = _claim(practice, coupon)
    if row.outcome != "offered":
        raise PracticeError(NO_OFFER, status=409)
    keep = [{"discount": d} for d in (practice.discount_ids or "").split(",") if d]
    coupon_id = row.coupon_id

    def asked() -> None:  # written when the person accepts, whatever Stripe answers later
        claimed = _claim(practice, coupon)
        claimed.outcome, claimed.decided_by_id, claimed.decided_at = "accepted", actor.id, utcnow()
        audit.record(practice, "retention_accepted", claimed.terms, actor_id=actor.id)

    call = unconfirmed.subscription_update(
        practice.stripe_subscription_id,
        {"discounts": [*keep, {"coupon": coupon_id}], "expand": ["discounts.source.coupon"]},
        ("retention", practice.stripe_subscription_id),
    )
    updated = unconfirmed.send(practice, call, asked)
    asked()
    mirror_discounts(practice, updated)
    db.session.commit()
    _keep_through_switch(practice)
    return _offer_row(practice)


def _keep_through_switch(practice: Practice) -> None:
    """A switch waits for the period's end: its phases take the offer too, or the switch drops it
    (attack 3 F5). Once per subscription (its key). Stripe unreachable: said, with the way out (a
    switch scheduled again takes the subscription's discounts); a double submit tries it again."""
    try:
        plan_changes.carry_discounts(practice, ("retention-schedule", practice.stripe_subscription_id))
    except BillingError as error:
        log.warning("offer not carried into schedule practice_id=%s: %s", practice.id, error)
        raise PracticeError(
            _(
                "The offer applies now, but Stripe could not be reached to keep it after the switch to "
                "%(plan)s. To keep it after the switch, undo the switch and schedule it again.",
                plan=practice.pending_plan.label if practice.pending_plan else "",
            ),
            status=503,
        ) from error
    db.session.commit()


def decline_offer(practice: Practice, actor: User) -> None:
    """No thanks: the offer is not made to this subscription again; the cancellation form follows."""
    require_manager(practice, actor)
    coupon = offer_for(practice)
    if coupon is None:
        return
    row = _claim(practice, coupon)
    if row.outcome == "offered":
        row.outcome, row.decided_by_id, row.decided_at = "declined", actor.id, utcnow()
        audit.record(practice, "retention_declined", row.terms, actor_id=actor.id)
    db.session.commit()
