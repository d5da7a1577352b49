"""A discount in words: "30% off for 3 months", "$15.00 off once", "10% off forever".

Terms are stored in English (a retention offer's ``terms``, a practice's ``discount_terms`` summary:
``said=False``) and said in the reader's language where a page shows them (``said=True``, or
``said_terms`` / ``said_amount`` of the stored English).
"""

from __future__ import annotations

import re

from flask_babel import format_decimal, ngettext
from flask_babel import gettext as _

from portal.formatting import format_money, money_token, said_money
from portal.text import N_

PERCENT_OFF = N_("%(percent)s%% off")
AMOUNT_OFF = N_("%(amount)s off")
FOR_MONTHS = ("for %(num)d month", "for %(num)d months")  # ngettext below says them
FOREVER = N_("forever")
ONCE = N_("on one invoice")


def _for_months(months: int) -> str:
    return ngettext("for %(num)d month", "for %(num)d months", months)


def _said(text: str, said: bool, **values: object) -> str:
    return _(text, **values) if said else text % values


def amount_words(
    percent_off: float | None, amount_off: int | None, currency: str | None, said: bool = True
) -> str:
    if percent_off is not None:
        return _said(PERCENT_OFF, said, percent=f"{percent_off:g}")
    if not said:  # stored: the amount said in its reader's language when drawn (``said_amount``)
        return AMOUNT_OFF % {"amount": money_token(amount_off or 0, currency or "usd")}
    return _(AMOUNT_OFF, amount=format_money(amount_off or 0, currency or "usd"))


def duration_words(duration: str, months: int | None, said: bool = True) -> str:
    if duration == "repeating" and months:
        if said:
            return _for_months(months)
        return (FOR_MONTHS[0] if months == 1 else FOR_MONTHS[1]) % {"num": months}
    if duration == "forever":
        return _(FOREVER) if said else FOREVER
    return _(ONCE) if said else ONCE


def terms_words(terms: object, said: bool = True) -> str:
    """``terms``: anything with the coupon's columns (a mirror row, a retention setting)."""
    amount = amount_words(
        getattr(terms, "percent_off", None),
        getattr(terms, "amount_off", None),
        getattr(terms, "currency", None),
        said,
    )
    duration = duration_words(
        getattr(terms, "duration", "once"), getattr(terms, "duration_in_months", None), said
    )
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


_STORED_AMOUNT = re.compile(r"^(?:(?P<percent>[\d.]+)% off|(?P<amount>.+) off)$")
_STORED_TERMS = re.compile(
    r"^(?P<amount>.+ off) (?:for (?P<months>\d+) months?|(?P<forever>forever)|on one invoice)$"
)


def said_amount(stored: str | None) -> str:
    """``30% off`` as stored, in the reader's words (anything else as it is)."""
    match = _STORED_AMOUNT.match(stored or "")
    if not match:
        return said_money(stored)
    if match["percent"] is not None:
        return _(PERCENT_OFF, percent=match["percent"])
    return _(AMOUNT_OFF, amount=said_money(match["amount"]))


def said_terms(stored: str | None) -> str:
    """``30% off for 3 months`` as stored, in the reader's words (anything else as it is)."""
    match = _STORED_TERMS.match(stored or "")
    if not match:
        return said_amount(stored)
    if match["months"]:
        duration = _for_months(int(match["months"]))
    else:
        duration = _(FOREVER) if match["forever"] else _(ONCE)
    return f"{said_amount(match['amount'])} {duration}"
