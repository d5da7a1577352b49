"""How amounts and dates read on every page and in every email (the ``money`` and ``day`` filters).

Both read in the language and time zone in force (``portal.i18n``): the reader's on a page, the
recipient's in an email (the outbox renders it inside ``portal.i18n.reading_as``; a day or amount
made before, for a subject or the template's context, is passed lazily: ``lazy_date``, ``lazy_money``).
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from decimal import Decimal

from babel import dates as babel_dates
from babel import numbers as babel_numbers
from flask_babel import LazyString

from portal.i18n import current_locale, current_timezone

#: Stripe's zero-decimal currencies (https://docs.stripe.com/currencies#zero-decimal): an amount is
#: in whole units (``499000`` VND is 499,000 ₫).
ZERO_DECIMAL_CURRENCIES = frozenset(
    {
        "bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga",
        "pyg", "rwf", "ugx", "vnd", "vuv", "xaf", "xof", "xpf",
    }
)  # fmt: skip
#: Stripe's three-decimal currencies (https://docs.stripe.com/currencies#three-decimal): thousandths
#: (for cards the last digit must be 0).
THREE_DECIMAL_CURRENCIES = frozenset({"bhd", "jod", "kwd", "omr", "tnd"})

#: How a day reads: English keeps the portal's unambiguous "01 Nov 2026"; others CLDR's medium date.
DATE_FORMATS = {"en": "dd MMM y"}
#: The time after the day in ``format_moment``, with the zone's short name ("UTC", "PST", "+0700").
TIME_FORMAT = "HH:mm z"


def minor_unit_exponent(currency: str | None) -> int:
    """How many digits Stripe's amounts carry after the point: 0, 2 or 3."""
    code = (currency or "").lower()
    if code in ZERO_DECIMAL_CURRENCIES:
        return 0
    if code in THREE_DECIMAL_CURRENCIES:
        return 3
    return 2  # ISK, HUF, TWD included: Stripe's API writes them with two decimals


def format_money(amount: int | None, currency: str = "usd") -> str:
    """Stripe's minor units in the reader's language: ``format_money(-123456, "usd")`` -> ``-$1,234.56``
    in English, ``-1.234,56 US$`` in Vietnamese; ``format_money(499000, "vnd")`` -> ``₫499,000``,
    ``499.000 ₫``. The digits are the currency's own (Babel's CLDR data)."""
    return _format_money(int(amount or 0), (currency or "usd").upper(), current_locale())


@functools.lru_cache(maxsize=4096)
def _format_money(amount: int, currency: str, locale: str) -> str:
    value = Decimal(amount).scaleb(-minor_unit_exponent(currency))
    return babel_numbers.format_currency(value, currency, locale=locale)


def format_percent(value: float | None) -> str:
    """A share given in percent (``97.5``), one decimal, in the reader's language: ``97.5%`` in
    English, ``97,5%`` in Vietnamese (Babel's CLDR symbols); empty for None."""
    if value is None:
        return ""
    return babel_numbers.format_percent(Decimal(str(value)) / 100, format="#,##0.0%", locale=current_locale())


def format_date(value: dt.datetime | dt.date | int | None) -> str:
    """``22 Nov 2026`` (``22 thg 11, 2026`` in Vietnamese), the day in the reader's time zone: an
    int is a Stripe timestamp (seconds, UTC), a naive datetime is UTC (as the database stores it).
    No date (None, or a template's undefined value) reads as a dash."""
    if not value:
        return "—"
    locale, zone = current_locale(), current_timezone()
    if isinstance(value, int):
        return _format_timestamp(value, locale, zone)
    if isinstance(value, dt.datetime):
        value = to_local(value, zone).date()
    return _format_day(value, locale)


def format_moment(value: dt.datetime | int | None) -> str:
    """``22 Nov 2026, 14:05 UTC``: the day as every page writes it, then the time, both in the
    reader's time zone (``23 Nov 2026, 06:30 +0700`` in Ho Chi Minh City for 23:30 UTC)."""
    if not value:
        return "—"
    locale, zone = current_locale(), current_timezone()
    if isinstance(value, int):
        value = dt.datetime.fromtimestamp(value, dt.UTC)
    local = to_local(value, zone)
    time = babel_dates.format_time(local, TIME_FORMAT, tzinfo=zone, locale=locale)
    return f"{_format_day(local.date(), locale)}, {time}"


def to_local(value: dt.datetime, zone: dt.tzinfo) -> dt.datetime:
    """``value`` (naive: UTC) in ``zone``."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(zone)


@functools.lru_cache(maxsize=4096)
def _format_timestamp(seconds: int, locale: str, zone: dt.tzinfo) -> str:
    # Formatting is the dearest step of an invoice row; a practice's invoice dates repeat page after page.
    return _format_day(to_local(dt.datetime.fromtimestamp(seconds, dt.UTC), zone).date(), locale)


def _format_day(day: dt.date, locale: str) -> str:
    return babel_dates.format_date(day, DATE_FORMATS.get(locale, "medium"), locale=locale)


def lazy_date(value: dt.datetime | dt.date | int | None) -> LazyString:
    """``format_date`` when read, not when made: a day in an email's subject or context reads in
    its recipient's language and zone (``portal.mail.outbox.queue_email`` renders it there)."""
    return LazyString(format_date, value)


def lazy_money(amount: int | None, currency: str = "usd") -> LazyString:
    """``format_money`` when read (in the recipient's language, for an email)."""
    return LazyString(format_money, amount, currency)


#: An amount kept in stored text (a History line's detail, a discount's stored terms) as Stripe's
#: minor units and currency, said in the reader's language when the text is drawn (``said_money``):
#: text stored already formatted would read in the writer's language ("150,00 US$" on English pages).
MONEY_TOKEN = re.compile(r"\[money (-?\d{1,18}) ([a-z]{3})\]")


def money_token(amount: int | None, currency: str | None = "usd") -> str:
    """``[money 15000 usd]``: an amount to store in text (``said_money`` says it)."""
    return f"[money {int(amount or 0)} {(currency or 'usd').lower()}]"


def said_money(text: str | None) -> str:
    """Stored text with each ``money_token`` said in the reader's language (other text as it is,
    so lines stored before the tokens, already formatted, still read)."""
    return MONEY_TOKEN.sub(lambda match: format_money(int(match[1]), match[2]), text or "")
