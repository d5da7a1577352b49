"""A discount in words: "30% off for 3 months", "$15.00 off once", "10% off forever"."""

from __future__ import annotations

from flask_babel import format_decimal, ngettext
from flask_babel import gettext as _

from portal.formatting import format_money


def amount_words(percent_off: float | None, amount_off: int | None, currency: str | None) -> str:
    if percent_off is not None:
        return f"{percent_off:g}% off"
    return f"{format_money(amount_off or 0, currency or 'usd')} off"


def duration_words(duration: str, months: int | None) -> str:
    if duration == "repeating" and months:
        return f"for {months} month{'s' if months != 1 else ''}"
    if duration == "forever":
        return "forever"
    return "on one invoice"


def terms_words(terms: object) -> str:
    """``terms``: anything with the coupon's columns (a mirror row, a retention setting)."""
    amount = amount_words(
        getattr(terms, "percent_off", None),
        getattr(terms, "amount_off", None),
        getattr(terms, "currency", None),
    )
    duration = duration_words(getattr(terms, "duration", "once"), getattr(terms, "duration_in_months", None))
    return f"{amount} {duration}"


def coupon_words(coupon: dict) -> str:
    """A Stripe coupon (a dict) in words."""
    amount = amount_words(coupon.get("percent_off"), coupon.get("amount_off"), coupon.get("currency"))
    return f"{amount} {duration_words(coupon.get('duration') or 'once', coupon.get('duration_in_months'))}"


def discount_words(terms: object) -> str:
    """``terms_words`` in the reader's language (the ``discount_terms`` filter: what pages show;
    ``terms_words`` stays the English kept in the database)."""
    percent_off = getattr(terms, "percent_off", None)
    if percent_off is not None:
        amount = _("%(percent)s%% off", percent=format_decimal(percent_off, format="0.##"))
    else:
        money = format_money(
            getattr(terms, "amount_off", None) or 0, getattr(terms, "currency", None) or "usd"
        )
        amount = _("%(amount)s off", amount=money)
    duration, months = getattr(terms, "duration", "once"), getattr(terms, "duration_in_months", None)
    if duration == "repeating" and months:
        return ngettext(
            "%(discount)s for %(num)d month", "%(discount)s for %(num)d months", months, discount=amount
        )
    if duration == "forever":
        return _("%(discount)s forever", discount=amount)
    return _("%(discount)s on one invoice", discount=amount)
