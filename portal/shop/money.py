"""Money as integer minor units with an ISO currency; only two-decimal currencies are sold."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

#: Currencies a product may be priced in (all with two decimal places).
CURRENCIES = ("usd", "eur", "gbp", "cad", "aud")
_SYMBOLS = {"usd": "$", "eur": "€", "gbp": "£", "cad": "CA$", "aud": "A$"}


def to_minor(amount: Decimal) -> int:
    """``Decimal("12.50")`` -> ``1250``."""
    return int((amount * 100).quantize(Decimal("1"), rounding=ROUND_HALF_UP))


def to_major(amount: int) -> Decimal:
    return (Decimal(amount) / 100).quantize(Decimal("0.01"))


def format_money(amount: int, currency: str) -> str:
    """``format_money(1250, "usd")`` -> ``"$12.50"``; unknown currencies get their code."""
    currency = currency.lower()
    value = f"{to_major(amount):,}"
    symbol = _SYMBOLS.get(currency)
    return f"{symbol}{value}" if symbol else f"{value} {currency.upper()}"
