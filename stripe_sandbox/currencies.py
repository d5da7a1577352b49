"""Currencies as Stripe knows them: which exist, which have no minor unit, each one's minimum charge.

https://docs.stripe.com/currencies (presentment currencies, #zero-decimal and
#minimum-and-maximum-charge-amounts).
"""

from __future__ import annotations

#: Every presentment currency Stripe accepts for card payments (lower-case ISO 4217).
SUPPORTED = frozenset(
    """
    usd aed afn all amd ang aoa ars aud awg azn bam bbd bdt bgn bif bmd bnd bob brl bsd bwp byn bzd
    cad cdf chf clp cny cop crc cve czk djf dkk dop dzd egp etb eur fjd fkp gbp gel gip gmd gnf gtq
    gyd hkd hnl htg huf idr ils inr isk jmd jpy kes kgs khr kmf krw kyd kzt lak lbp lkr lrd lsl mad
    mdl mga mkd mmk mnt mop mur mvr mwk mxn myr mzn nad ngn nio nok npr nzd pab pen pgk php pkr pln
    pyg qar ron rsd rub rwf sar sbd scr sek sgd shp sle sos srd std szl thb tjs top try ttd twd tzs
    uah ugx uyu uzs vnd vuv wst xaf xcd xof xpf yer zar zmw
    """.split()  # noqa: SIM905 - a word list reads better than 135 quoted strings
)

#: Amounts in these are whole units: ``amount=250000`` with ``vnd`` is 250,000 VND (#zero-decimal).
ZERO_DECIMAL = frozenset(
    "bif clp djf gnf jpy kmf krw mga pyg rwf ugx vnd vuv xaf xof xpf".split()  # noqa: SIM905
)

#: The smallest charge, in the currency's smallest unit (#minimum-and-maximum-charge-amounts).
#: Currencies not listed settle in USD and must come to at least its 0.50 (an approximate rate).
MINIMUM_CHARGE = {
    "usd": 50, "aed": 200, "aud": 50, "bgn": 100, "brl": 50, "cad": 50, "chf": 50, "czk": 1500,
    "dkk": 250, "eur": 50, "gbp": 30, "hkd": 400, "huf": 17500, "inr": 50, "jpy": 50, "mxn": 1000,
    "myr": 200, "nok": 300, "nzd": 50, "pln": 200, "ron": 200, "sek": 300, "sgd": 50, "thb": 1000,
    # Zero-decimal currencies Stripe settles in USD: about USD 0.50 in whole units.
    "vnd": 13000, "krw": 700, "clp": 500, "pyg": 3700, "ugx": 1900, "xaf": 300, "xof": 300,
}  # fmt: skip

#: The largest charge: eight digits in the smallest unit, e.g. $999,999.99
#: (https://docs.stripe.com/currencies#minimum-and-maximum-charge-amounts).
MAXIMUM_CHARGE = 99_999_999

_SYMBOLS = {"usd": "$", "eur": "€", "gbp": "£", "jpy": "¥"}


def exponent(currency: str) -> int:
    """Digits after the decimal point: 0 for zero-decimal currencies, else 2."""
    return 0 if currency.lower() in ZERO_DECIMAL else 2


def minimum_charge(currency: str) -> int:
    return MINIMUM_CHARGE.get(currency.lower(), 50)


def format_amount(amount: int, currency: str) -> str:
    """``$12.50``, ``€9.00``, ``250,000 VND``: the amount in the currency's own units."""
    currency = currency.lower()
    digits = exponent(currency)
    value = f"{amount / 10**digits:,.{digits}f}"
    symbol = _SYMBOLS.get(currency)
    return f"{symbol}{value}" if symbol else f"{value} {currency.upper()}"
