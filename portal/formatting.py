"""How amounts and dates read on every page and in every email (the ``money`` and ``day`` filters)."""

from __future__ import annotations

import datetime as dt
import functools

_SYMBOLS = {"usd": "$", "eur": "€", "gbp": "£", "cad": "CA$", "aud": "A$"}


def format_money(amount: int | None, currency: str = "usd") -> str:
    """Minor units of a two-decimal currency: ``format_money(-123456, "usd")`` -> ``"-$1,234.56"``."""
    amount = int(amount or 0)
    units, cents = divmod(abs(amount), 100)
    sign = "-" if amount < 0 else ""
    symbol = _SYMBOLS.get((currency or "").lower())
    value = f"{units:,}.{cents:02d}"
    return f"{sign}{symbol}{value}" if symbol else f"{sign}{value} {(currency or '').upper()}"


def format_date(value: dt.datetime | dt.date | int | None) -> str:
    """``22 Nov 2026``; an int is a Stripe timestamp (seconds, UTC). No date (None, or a template's
    undefined value) reads as a dash."""
    if not value:
        return "—"
    if isinstance(value, int):
        return _format_timestamp(value)
    return f"{value:%d %b %Y}"


@functools.lru_cache(maxsize=4096)
def _format_timestamp(seconds: int) -> str:
    # strftime is the dearest step of an invoice row; a practice's invoice dates repeat page after page.
    return f"{dt.datetime.fromtimestamp(seconds, dt.UTC):%d %b %Y}"
