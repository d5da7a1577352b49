"""Promotion codes: an admin makes one (a coupon, then its code, at Stripe) or turns one off; the
mirror follows Stripe's answers and its ``promotion_code.*`` events; a practice's typed code is
resolved here before it reaches Checkout or a plan switch."""

from __future__ import annotations

import datetime as dt
import secrets

import sqlalchemy as sa
from flask import abort, current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from portal.database import upsert_insert, utcnow
from portal.extensions import db
from portal.formatting import format_money
from portal.gateway import discounts as stripe_discounts
from portal.gateway.errors import BillingError, InvalidRequest
from portal.gateway.gateway import stripe_time
from portal.gateway.shapes import as_dict, object_id
from portal.promotions.errors import PromotionError
from portal.promotions.forms import CODE_RULE, PromotionCodeForm
from portal.promotions.models import PromotionCode
from portal.text import N_
from portal.users.models import User

#: What a practice is told about a code that cannot be used, whatever the reason at Stripe.
#: (msgids: said in the reader's language with ``_(UNKNOWN_CODE, code=...)``).
UNKNOWN_CODE = N_("%(code)s is not a promotion code we know. Check the spelling, or leave it empty.")
EMPTY_CODE = N_("That is not a promotion code we know. Check the spelling, or leave it empty.")
EXPIRED_CODE = N_("%(code)s has expired.")
DISABLED_CODE = N_("%(code)s is no longer offered.")
OTHER_CUSTOMER_CODE = N_("%(code)s cannot be used by this practice.")
USED_UP_CODE = N_("%(code)s has been used as often as it could be.")


#: The list's words for a code's state (``status_of``'s answer, kept as the row's ``data-status``).
STATUS_WORDS = {"Off": _l("Off"), "Expired": _l("Expired"), "Used up": _l("Used up"), "Active": _l("Active")}


def status_words(state: str) -> str:
    """``status_of``'s answer in the reader's language."""
    return str(STATUS_WORDS.get(state, state))


def status_of(row: PromotionCode, now: int) -> str:
    """The list's word for a code at ``now`` (Stripe's clock): Stripe keeps an expired or used-up
    code ``active``, yet refuses it, so the list says why it can no longer be used."""
    if not row.active:
        return "Off"
    if row.expires_at is not None and row.expires_at.replace(tzinfo=dt.UTC).timestamp() <= now:
        return "Expired"
    if row.max_redemptions and row.times_redeemed >= row.max_redemptions:
        return "Used up"
    return "Active"


def codes_page(page: int, per_page: int = 50):
    """One page of the list, newest first; a page past the last is 404 (the first is always a page)."""
    found = db.paginate(
        sa.select(PromotionCode).order_by(PromotionCode.id.desc()),
        page=page,
        per_page=per_page,
        max_per_page=per_page,
        error_out=False,
    )
    if page > 1 and not found.items:
        abort(404)
    return found


def refresh_codes() -> int:
    """The admin's list: the newest codes read from Stripe in one list call and mirrored (uses and
    state as Stripe has them now); Stripe's clock (to tell an expired code), else ours when Stripe
    does not answer (the list then shows the mirror as it is)."""
    try:
        listed = stripe_discounts.recent_promotion_codes()
    except BillingError:
        db.session.rollback()
        return int(dt.datetime.now(dt.UTC).timestamp())
    at = stripe_time(listed)
    listed = {as_dict(promo)["id"]: promo for promo in listed.data}
    known = db.session.scalars(sa.select(PromotionCode.stripe_id).where(PromotionCode.stripe_id.in_(listed)))
    for stripe_id in known.all():  # a code made elsewhere arrives with its promotion_code.created
        mirror_code(listed[stripe_id], at)
    db.session.commit()
    return at


def create_code(form: PromotionCodeForm, actor: User, attempt: str) -> PromotionCode:
    """A coupon with the form's terms and its code; ``attempt`` (the rendered form's key) makes a
    double submit one coupon and one code at Stripe (same idempotency keys, same answers)."""
    code = form.code.data.strip()
    currency = form.amount_currency()
    coupon = stripe_discounts.create_coupon(
        {**form.coupon_params(currency), "name": code, "metadata": {"source": "portal_admin"}},
        key=("promo", attempt),
    )
    try:
        promo = stripe_discounts.create_promotion_code(
            coupon.id, code, form.code_params(), key=("promo", attempt)
        )
    except InvalidRequest as error:
        if error.stripe_code == "resource_already_exists":
            already = _("An active code %(code)s already exists at Stripe.", code=code)
            raise PromotionError(already, field="code") from error
        raise PromotionError(error.message, field="code") from error
    row = mirror_code(promo, stripe_time(promo), coupon=as_dict(coupon))
    if row.created_by_id is None:
        row.created_by_id = actor.id
    db.session.commit()
    return row


def set_active(row_id: int, active: bool, attempt: str) -> PromotionCode:
    """Turn the code on or off at Stripe, then here; ``attempt``: the form's key (one per drawn form)."""
    row = db.session.get(PromotionCode, row_id)
    if row is None:
        raise PromotionError(_("No such promotion code."), status=404)
    if row.active == active:
        return row  # already so: nothing to ask Stripe
    promo = stripe_discounts.set_promotion_code_active(row.stripe_id, active, attempt)
    mirror_code(promo, stripe_time(promo))
    db.session.commit()
    return row


def _timestamp(value: int | None) -> dt.datetime | None:
    return dt.datetime.fromtimestamp(int(value), dt.UTC).replace(tzinfo=None) if value else None


def _locked_row(stripe_id: str) -> PromotionCode | None:
    query = sa.select(PromotionCode).where(PromotionCode.stripe_id == stripe_id).with_for_update()
    return db.session.scalar(query.execution_options(populate_existing=True))


def mirror_code(promo: object, stripe_at: int, coupon: dict | None = None) -> PromotionCode:
    """Upsert the mirror row of a promotion code (a Stripe answer or an event's object); state older
    than the row's is ignored. ``coupon``: its coupon, when the promotion code does not expand it."""
    data = as_dict(promo)
    linked = (data.get("promotion") or {}).get("coupon")
    coupon = coupon or (as_dict(linked) if isinstance(linked, dict) or hasattr(linked, "to_dict") else None)
    # Insert-or-nothing first: the request that made the code and its ``promotion_code.created``
    # webhook both mirror it, and whichever inserts second finds the other's row (no read-then-insert).
    table = PromotionCode.__table__
    db.session.execute(
        upsert_insert(table)
        .values(
            stripe_id=data["id"],
            code=data["code"],
            coupon_id=object_id(linked) or "",
            duration="once",
            stripe_synced_at=0,
            created_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=[table.c.stripe_id])
    )
    row = _locked_row(data["id"])
    if stripe_at < row.stripe_synced_at:
        return row
    row.code = data["code"]
    row.active = bool(data.get("active"))
    row.max_redemptions = data.get("max_redemptions")
    row.times_redeemed = int(data.get("times_redeemed") or 0)
    # A code is used no more once its coupon cannot be redeemed (``redeem_by``, on Stripe's clock):
    # the list says "Expired" then, as Stripe refuses it (third attack F13).
    ends = [int(v) for v in (data.get("expires_at"), (coupon or {}).get("redeem_by")) if v]
    row.expires_at = _timestamp(min(ends)) if ends else None
    if coupon:
        row.coupon_id = coupon["id"]
        row.percent_off = coupon.get("percent_off")
        row.amount_off = coupon.get("amount_off")
        row.currency = coupon.get("currency")
        row.duration = coupon.get("duration") or "once"
        row.duration_in_months = coupon.get("duration_in_months")
    row.stripe_synced_at = stripe_at
    db.session.flush()
    return row


def apply_code_event(obj: dict, event_created: int) -> PromotionCode | None:
    """``promotion_code.created``/``.updated``: the code as the event has it (a code made in Stripe's
    dashboard gets its coupon's terms read fresh)."""
    row = db.session.scalar(sa.select(PromotionCode).where(PromotionCode.stripe_id == obj.get("id")))
    if row is None or not row.coupon_id:
        fresh = stripe_discounts.retrieve_promotion_code(obj["id"])
        return mirror_code(fresh, max(event_created, stripe_time(fresh)))
    return mirror_code(obj, event_created)


def resolve_code(typed: str, customer_id: str | None = None, currency: str | None = None) -> dict:
    """The promotion code a practice typed, if it can be redeemed now: ``{"id", "code", "coupon"}``;
    else a ``PromotionError`` under the field that says why, in words (never Stripe's ids: a code
    made for another customer is said by its code, not Stripe's "promo_..." refusal). ``currency``:
    the practice's; an amount off in another is refused (Stripe would refuse it on the invoice)."""
    code = (typed or "").strip()
    shown = code if len(code) <= 40 else code[:40] + "…"
    if not CODE_RULE.fullmatch(code):
        refusal = _(UNKNOWN_CODE, code=shown) if shown else _(EMPTY_CODE)
        raise PromotionError(refusal, field="promotion_code", status=422)
    page = stripe_discounts.find_promotion_codes(code)
    now = stripe_time(page)  # Stripe's clock: an expiry is Stripe's to judge
    found = [as_dict(p) for p in page.data]
    if not found:
        raise PromotionError(_(UNKNOWN_CODE, code=code), field="promotion_code", status=422)
    usable = [p for p in found if p.get("active")]
    if not usable:
        raise PromotionError(_(DISABLED_CODE, code=code), field="promotion_code", status=422)
    promo = usable[0]
    coupon = as_dict((promo.get("promotion") or {}).get("coupon"))
    owner = object_id(promo.get("customer"))
    if owner and owner != customer_id:
        raise PromotionError(_(OTHER_CUSTOMER_CODE, code=code), field="promotion_code", status=422)
    if promo.get("expires_at") and promo["expires_at"] <= now:
        raise PromotionError(_(EXPIRED_CODE, code=code), field="promotion_code", status=422)
    _check_coupon(code, coupon, now)
    limit = promo.get("max_redemptions")
    if (limit is not None and promo.get("times_redeemed", 0) >= limit) or not coupon.get("valid", True):
        raise PromotionError(_(USED_UP_CODE, code=code), field="promotion_code", status=422)
    _refuse_other_currency(code, coupon, currency)
    return {"id": promo["id"], "code": promo["code"], "coupon": coupon}


def _refuse_other_currency(code: str, coupon: dict, currency: str | None) -> None:
    """An amount off is in one currency: Stripe applies it only to invoices in that currency."""
    currency = (currency or current_app.config["BILLING_CURRENCY"]).lower()
    theirs = (coupon.get("currency") or "").lower()
    if not coupon.get("amount_off") or not theirs or theirs == currency:
        return
    if currency in (coupon.get("currency_options") or {}):  # priced in this currency too
        return
    raise PromotionError(
        _(
            "%(code)s is an amount off in %(coupon_currency)s (%(amount)s); this practice pays in "
            "%(practice_currency)s, so it cannot use this code.",
            code=code,
            amount=format_money(coupon["amount_off"], theirs),
            coupon_currency=theirs.upper(),
            practice_currency=currency.upper(),
        ),
        field="promotion_code",
        status=422,
    )


def _check_coupon(code: str, coupon: dict, now: int) -> None:
    """What Stripe would refuse of the code's coupon, said before any call uses it (third attack F3:
    Stripe's raw "Coupon expired: ..." reached the page): a ``redeem_by`` passed on Stripe's clock.
    (Another currency: ``_refuse_other_currency``.)"""
    redeem_by = coupon.get("redeem_by")
    if redeem_by is not None and int(redeem_by) <= now:
        raise PromotionError(_(EXPIRED_CODE, code=code), field="promotion_code", status=422)


def attempt_key() -> str:
    return secrets.token_hex(8)
