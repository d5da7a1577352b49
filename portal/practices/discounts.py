"""The subscription's discount on the practice (issue 17): mirrored from Stripe, never computed here.

A subscription event carries its discounts as ids only; when they differ from the mirror's, the
subscription is read fresh with its discounts and their coupons expanded (so a late or repeated
event cannot bring an old discount back). A person's action that changed them mirrors the answer.
"""

from __future__ import annotations

import datetime as dt
import logging

import sqlalchemy as sa
from flask_babel import gettext as _

from portal.database import utcnow
from portal.extensions import db
from portal.formatting import format_date
from portal.gateway import discounts as stripe_discounts
from portal.gateway.errors import BillingError
from portal.gateway.shapes import as_dict, object_id
from portal.practices.mirror import to_datetime
from portal.practices.models import BillingAuditEntry, Practice
from portal.promotions.words import amount_words, said_amount

log = logging.getLogger(__name__)


def _ids(sub: dict) -> str:
    return ",".join(filter(None, (object_id(entry) for entry in sub.get("discounts") or [])))[:255]


def mirror_discounts(practice: Practice, subscription: object) -> None:
    """Apply a subscription whose ``discounts`` are expanded (``discounts.source.coupon``)."""
    sub = as_dict(subscription)
    entries = [as_dict(entry) for entry in sub.get("discounts") or [] if not isinstance(entry, str)]
    practice.discount_ids = _ids(sub) or None
    if not entries:
        practice.discount_summary = practice.discount_duration = practice.discount_end = None
        practice.discount_terms = None
        return
    terms = [_terms(entry) for entry in entries]  # every one: Stripe stacks them (an offer and a code)
    first = terms[0]
    practice.discount_summary, practice.discount_duration = first["summary"], first["duration"]
    practice.discount_end = to_datetime(first["end"])
    practice.discount_terms = terms


def _terms(entry: dict) -> dict:
    coupon = as_dict((entry.get("source") or {}).get("coupon"))
    return {
        "id": entry.get("id"),
        "summary": amount_words(
            coupon.get("percent_off"), coupon.get("amount_off"), coupon.get("currency"), said=False
        ),
        "duration": coupon.get("duration"),
        "end": entry.get("end"),
        # The numbers, for the price as charged (``prices.charged_words``).
        "percent_off": coupon.get("percent_off"),
        "amount_off": coupon.get("amount_off"),
    }


def used_code_refusal(practice: Practice, code: str) -> str | None:
    """A promotion code counts once per practice, at Checkout as on a switch (third attack F16: a
    practice re-subscribing took the same code again each time): why not, in words, or None."""
    escaped = code.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    used = db.session.scalar(
        sa.select(BillingAuditEntry.id)
        .where(
            BillingAuditEntry.practice_id == practice.id,
            BillingAuditEntry.action.in_(("promotion_code_used", "promotion_code_redeemed")),
            sa.or_(
                BillingAuditEntry.detail == f"{code} with the switch",
                BillingAuditEntry.detail.like(f"{escaped} at Checkout, %", escape="\\"),
            ),
        )
        .limit(1)
    )
    return _("%(code)s was already used by this practice.", code=code) if used is not None else None


def discounts_to_read(practice: Practice | None, sub: dict) -> bool:
    """Whether ``refresh_discounts`` reads ``sub``'s discounts: the practice's current subscription,
    whose discounts differ from the ones shown."""
    if practice is None or sub.get("id") != practice.stripe_subscription_id:
        return False
    return _ids(sub) != (practice.discount_ids or "")


def refresh_discounts(practice: Practice | None, sub: dict) -> None:
    """From a ``customer.subscription.*`` event: the practice's current subscription only."""
    if not discounts_to_read(practice, sub):
        return
    try:  # even to none: an older event's list must not take a newer discount away
        mirror_discounts(practice, stripe_discounts.subscription_discounts(sub["id"]))
    except BillingError as error:  # the next event (or action) tries again
        log.warning("could not read discounts of %s: %s", sub.get("id"), error)


def discount_lines(practice: Practice, now: dt.datetime | None = None) -> list[str]:
    """Each of the subscription's discounts as the billing page says it: "30% off until 28 Feb 2027",
    "30% off the next invoice", "$10.00 off every invoice"; one that ended is not said."""
    if not practice.discount_summary or not practice.subscription_live:
        return []
    terms = practice.discount_terms or [
        {
            "summary": practice.discount_summary,
            "duration": practice.discount_duration,
            "end": int(practice.discount_end.replace(tzinfo=dt.UTC).timestamp())
            if practice.discount_end
            else None,
        }
    ]
    now = now or utcnow()
    lines = []
    for term in terms:
        end = (
            dt.datetime.fromtimestamp(int(term["end"]), dt.UTC).replace(tzinfo=None)
            if term.get("end")
            else None
        )
        summary = said_amount(term["summary"])
        if end is not None:
            if end > now:
                lines.append(_("%(discount)s until %(day)s", discount=summary, day=format_date(end)))
        elif term.get("duration") == "once":
            lines.append(_("%(discount)s the next invoice", discount=summary))
        else:
            lines.append(_("%(discount)s every invoice", discount=summary))
    return lines
