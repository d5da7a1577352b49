"""Amounts and dates as every page and email shows them."""

from __future__ import annotations

import datetime as dt

import pytest

from portal.formatting import format_date, format_money


@pytest.mark.parametrize(
    ("amount", "currency", "shown"),
    [
        (9900, "usd", "$99.00"),
        (123456789, "USD", "$1,234,567.89"),
        (5, "eur", "€0.05"),
        (-2550, "gbp", "-£25.50"),
        (1999, "chf", "CHF19.99"),  # CLDR English writes the code before the amount
        (None, "usd", "$0.00"),
    ],
)
def test_money_in_minor_units(amount, currency, shown):
    assert format_money(amount, currency) == shown


def test_dates_from_datetimes_and_stripe_timestamps():
    assert format_date(dt.datetime(2026, 11, 22, 23, 59)) == "22 Nov 2026"
    assert format_date(1_795_305_600) == "22 Nov 2026"  # 2026-11-22T00:00:00Z
    assert format_date(None) == "—"


def test_templates_use_the_same_filters(app):
    rendered = app.jinja_env.from_string("{{ 4990|money('usd') }} {{ 1795305600|day }}").render()
    assert rendered == "$49.90 22 Nov 2026"
    assert app.jinja_env.from_string("{{ practice.cancel_at|day }}").render(practice={}) == "—"
