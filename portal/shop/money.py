"""Money as integer minor units with an ISO currency; only two-decimal currencies are sold."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

#: Currencies a product may be priced in (all with two decimal places).
CURRENCIES = ("usd", "eur", "gbp", "cad", "aud")


def to_minor(amount: Decimal) -> int:
    """``Decimal("12.50")`` -> ``1250``."""
    return int((amount * 100).quantize(Decimal("1"), rounding=ROUND_HALF_UP))


def to_major(amount: int) -> Decimal:
    return (Decimal(amount) / 100).quantize(Decimal("0.01"))
