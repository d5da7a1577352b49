"""Amounts read in the reader's language, from Stripe's minor units with the currency's own digits."""

from __future__ import annotations

import pytest

from portal.formatting import format_money, minor_unit_exponent
from tests.i18n.conftest import reading

NBSP = "\xa0"  # Vietnamese keeps the amount and its symbol on one line


@pytest.mark.parametrize(
    ("amount", "currency", "english", "vietnamese"),
    [
        (123456, "usd", "$1,234.56", f"1.234,56{NBSP}US$"),
        (-123456, "usd", "-$1,234.56", f"-1.234,56{NBSP}US$"),
        (0, "usd", "$0.00", f"0,00{NBSP}US$"),
        (None, "usd", "$0.00", f"0,00{NBSP}US$"),
        # Zero-decimal at Stripe: 499000 is 499,000 đồng, not 4,990.00.
        (499000, "vnd", "₫499,000", f"499.000{NBSP}₫"),
        (-499000, "vnd", "-₫499,000", f"-499.000{NBSP}₫"),
        (0, "vnd", "₫0", f"0{NBSP}₫"),
        (1000, "jpy", "¥1,000", f"1.000{NBSP}¥"),
        (-5, "jpy", "-¥5", f"-5{NBSP}¥"),
        (0, "jpy", "¥0", f"0{NBSP}¥"),
        (1500000, "krw", "₩1,500,000", f"1.500.000{NBSP}₩"),
        (4990, "eur", "€49.90", f"49,90{NBSP}€"),
        (-2550, "EUR", "-€25.50", f"-25,50{NBSP}€"),
        (0, "eur", "€0.00", f"0,00{NBSP}€"),
        # Three-decimal at Stripe (cards: the last digit 0): thousandths of a dinar.
        (12340, "bhd", "BHD12.340", f"12,340{NBSP}BHD"),
        (-5, "bhd", "-BHD0.005", f"-0,005{NBSP}BHD"),
        (0, "kwd", "KWD0.000", f"0,000{NBSP}KWD"),
    ],
)
def test_money_in_english_and_vietnamese(app, amount, currency, english, vietnamese):
    with reading(app, "en"):
        assert format_money(amount, currency) == english
    with reading(app, "vi"):
        assert format_money(amount, currency) == vietnamese


def test_the_money_filter_reads_in_the_language_in_force(app):
    template = app.jinja_env.from_string("{{ fee|money('usd') }} / {{ local|money('vnd') }}")
    with reading(app, "en"):
        assert template.render(fee=49900, local=499000) == "$499.00 / ₫499,000"
    with reading(app, "vi"):
        assert template.render(fee=49900, local=499000) == f"499,00{NBSP}US$ / 499.000{NBSP}₫"


def test_outside_a_request_money_reads_in_english():
    assert format_money(-123456, "usd") == "-$1,234.56"


@pytest.mark.parametrize(
    ("currency", "digits"),
    [
        ("usd", 2),
        ("VND", 0),
        ("jpy", 0),
        ("ugx", 0),
        ("xof", 0),
        ("bhd", 3),
        ("tnd", 3),
        ("isk", 2),
        ("huf", 2),
    ],
)
def test_stripe_minor_units(currency, digits):
    """Stripe's lists (ISK and HUF: two decimals in its API, for backwards compatibility)."""
    assert minor_unit_exponent(currency) == digits


def test_stored_terms_and_history_say_an_amount_in_the_readers_language(app):
    """Terms and History lines written on a Vietnamese page keep the amount, not its Vietnamese text:
    each reader reads it in their own language (a line stored formatted before reads as written)."""
    from portal.practices.history_words import describe
    from portal.promotions.words import said_terms, terms_words

    class Terms:
        percent_off, amount_off, currency, duration, duration_in_months = None, 1500, "usd", "once", None

    with reading(app, "vi"):
        stored = terms_words(Terms(), said=False)
        line = "[money 15000 usd] of invoice A-1, re_1: Sai số"
    with reading(app, "en"):
        assert said_terms(stored) == "$15.00 off on one invoice"
        assert describe("invoice_refunded", line, "Ada").sentence == "Refunded $150.00 of invoice A-1: Sai số"
        assert (
            describe("retention_accepted", stored, "Ada").sentence
            == "Accepted the retention offer: $15.00 off on one invoice"
        )
        old = describe("invoice_refunded", "150,00 US$ of invoice A-1, re_1: x", "Ada").sentence
        assert old == "Refunded 150,00 US$ of invoice A-1: x"
    with reading(app, "vi"):
        assert f"15,00{NBSP}US$" in said_terms(stored)
