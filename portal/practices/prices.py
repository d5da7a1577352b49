"""A plan's price as Stripe will charge it, its discounts taken off (third attack F8: every "then
$99.00 every month" sentence said the list price, whatever discount the subscription carries).

The discounts are the subscription's own (``Practice.discount_terms``, as mirrored from Stripe) and,
in a switch's preview, the typed code's coupon. Stripe takes a percent off and an amount off the
invoice's amount (never below zero); a discount of some months lasts until its ``end``, one of
``once`` the next invoice only, ``forever`` every invoice.
"""

from __future__ import annotations

import calendar
import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

from flask_babel import gettext as _

from portal.database import utcnow
from portal.formatting import format_date, format_money
from portal.practices.models import Practice
from portal.words import PLAN_PRICES, price_per_words


def _when(value: object) -> dt.datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=None)
    return dt.datetime.fromtimestamp(int(value), dt.UTC).replace(tzinfo=None)


def _add_months(start: dt.datetime, months: int) -> dt.datetime:
    year, month = divmod(start.month - 1 + months, 12)
    year, month = start.year + year, month + 1
    return start.replace(year=year, month=month, day=min(start.day, calendar.monthrange(year, month)[1]))


def coupon_term(coupon: dict, starts: dt.datetime | None = None) -> dict:
    """A coupon (a typed code's) as a discount starting ``starts`` (now): the terms ``charged`` reads."""
    end = None
    if coupon.get("duration") == "repeating" and coupon.get("duration_in_months"):
        end = _add_months(starts or utcnow(), int(coupon["duration_in_months"]))
    return {
        "percent_off": coupon.get("percent_off"),
        "amount_off": coupon.get("amount_off"),
        "duration": coupon.get("duration") or "once",
        "end": int(end.replace(tzinfo=dt.UTC).timestamp()) if end else None,
    }


def _take_off(amount: int, terms: list[dict]) -> int:
    for term in terms:
        if term.get("percent_off") is not None:
            off = Decimal(amount) * Decimal(str(term["percent_off"])) / 100
            amount -= int(off.quantize(Decimal(1), rounding=ROUND_HALF_UP))
        else:
            amount -= int(term.get("amount_off") or 0)
    return max(0, amount)


def _known(term: dict) -> bool:
    return term.get("percent_off") is not None or term.get("amount_off") is not None


def charged_words(
    practice: Practice,
    offer: object,
    at: object = None,
    code: dict | None = None,
    once_used: bool = False,
    every: bool = False,
) -> str:
    """``$99.00 per month``, ``$89.00 per month`` (an amount off forever) or ``$99.00 per month,
    $49.50 until 30 Aug 2027``: ``offer`` (a ``PlanOffer``) as charged from ``at`` (the next
    invoice's day; now by default). ``code``: a typed code's coupon terms (``coupon_term``);
    ``once_used``: the next invoice is the one being previewed now, so a ``once`` discount is spent;
    ``every``: "$99.00 every month" (``plan_price_words``'s wording) rather than "per month"."""
    start = _when(at) or utcnow()
    terms = [t for t in (practice.discount_terms or []) if _known(t)] if practice.discount_summary else []
    terms = terms + ([code] if code and _known(code) else [])
    lasting, until, ends = [], [], []
    for term in terms:
        end = _when(term.get("end"))
        if end is not None:
            if end > start:
                until.append(term)
                ends.append(end)
        elif term.get("duration") == "forever":
            lasting.append(term)
        elif term.get("duration") == "once" and not once_used:
            until.append(term)
    price = _take_off(offer.amount, lasting)
    said = format_money(price, offer.currency)
    if every:
        plan = str(getattr(offer.plan, "value", offer.plan))
        words = str(PLAN_PRICES.get(plan, PLAN_PRICES["monthly"])[1]) % {"price": said}
    else:
        words = price_per_words(said, offer.plan)
    if not until:
        return words
    discounted = format_money(_take_off(price, until), offer.currency)
    if ends:
        return _(
            "%(price)s, %(discounted)s until %(day)s",
            price=words,
            discounted=discounted,
            day=format_date(min(ends)),
        )
    return _("%(price)s, %(discounted)s on the next invoice", price=words, discounted=discounted)
