"""The admin's forms: a promotion code, and the retention coupon. Every number is checked here with
a message under its field, so Stripe is asked only for what it will accept."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

from flask import current_app
from flask_babel import format_number
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import DateField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Optional

from portal.formatting import format_money, minor_unit_exponent
from portal.forms import (
    CURRENCY_NAMES,
    PortalForm,
    UnclearNumber,
    amount_text,
    minor_units,
    price_currencies,
    read_number,
)

#: Letters, digits and dashes (Stripe's rule for a code), 3 to 40 of them (a code people type).
CODE_RULE = re.compile(r"[A-Za-z0-9-]{3,40}")
MAX_MONTHS = 36
MAX_REDEMPTIONS = 1_000_000
#: The largest amount off, in the currency's minor units ($100,000.00, ₫10,000,000).
MAX_AMOUNT_OFF = 10_000_000


def _whole(text: str | None) -> int | None:
    """A whole number as the page's language writes it ("1,000" in English, "1.000" in Vietnamese);
    None for anything else (full-width or other digits, signs, decimals, separators out of place)."""
    try:
        value = read_number(text, 0)
    except UnclearNumber:
        return None
    return int(value) if value is not None and value < 10**9 else None


class DiscountTermsForm(PortalForm):
    """How much (a percentage, or an amount in the billing currency) and for how long."""

    kind = SelectField(
        _l("Discount"),
        choices=[SelectChoice("percent", _l("Percent off")), SelectChoice("amount", _l("Amount off"))],
    )
    percent_off = StringField(_l("Percent off"))
    amount_off = StringField(_l("Amount off"))
    duration = SelectField(
        _l("For how long"),
        choices=[
            SelectChoice("once", _l("The first invoice")),
            SelectChoice("repeating", _l("A number of months")),
            SelectChoice("forever", _l("Every invoice")),
        ],
    )
    duration_in_months = StringField(_l("Months"))

    def __init__(self, *args, currency: str | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._amount_currency = (currency or current_app.config["BILLING_CURRENCY"]).lower()

    @property
    def example(self) -> str:
        """An amount off as this form takes it in the page's language: ``15.00``, ``15,00``, ``15`` (VND)."""
        currency = self.amount_currency()
        return amount_text(15 * 10 ** minor_unit_exponent(currency), currency)

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        if self.kind.data == "percent":
            valid = self._check_percent() and valid
        else:
            valid = self._check_amount() and valid
        if self.duration.data == "repeating":
            months = _whole(self.duration_in_months.data)
            if months is None or not 1 <= months <= MAX_MONTHS:
                self.duration_in_months.errors.append(
                    _("Enter a whole number of months from 1 to %(most)s.", most=MAX_MONTHS)
                )
                valid = False
        return valid

    def _check_percent(self) -> bool:
        try:
            percent = read_number(self.percent_off.data, 9)
        except UnclearNumber as unclear:
            self.percent_off.errors.append(unclear.message)
            return False
        if percent is None or not 0 < percent <= 100:
            self.percent_off.errors.append(_("Enter a percentage above 0 and at most 100, such as 30."))
            return False
        if percent != percent.quantize(Decimal("0.01")):
            self.percent_off.errors.append(_("Use at most two decimal places."))
            return False
        return True

    def _check_amount(self) -> bool:
        try:
            amount = minor_units(self.amount_off.data, self.amount_currency())
        except UnclearNumber as unclear:
            self.amount_off.errors.append(unclear.message)
            return False
        if amount is None or not 0 < amount <= MAX_AMOUNT_OFF:
            self.amount_off.errors.append(
                _(
                    "Enter an amount above 0 and at most %(most)s, such as %(example)s.",
                    most=format_money(MAX_AMOUNT_OFF, self.amount_currency()),
                    example=self.example,
                )
            )
            return False
        return True

    def amount_currency(self) -> str:
        """The currency of an amount off: the form's (the retention coupon's: the default billing one)."""
        return self._amount_currency

    def coupon_params(self, currency: str | None = None) -> dict:
        """The terms as Stripe's coupon parameters (an amount in the currency's minor units: ``15.00``
        USD -> 1500, ``50000`` VND -> 50000). Only after ``validate``."""
        currency = (currency or self.amount_currency()).lower()
        params: dict = {"duration": self.duration.data}
        if self.kind.data == "percent":
            params["percent_off"] = float(read_number(self.percent_off.data, 9))
        else:
            params["amount_off"] = minor_units(self.amount_off.data, currency)
            params["currency"] = currency
        if self.duration.data == "repeating":
            params["duration_in_months"] = _whole(self.duration_in_months.data)
        return params


class PromotionCodeForm(DiscountTermsForm):
    code = StringField(_l("Code"))
    #: An amount off is in one currency: only a practice paying in it can use the code.
    currency = SelectField(_l("Currency of the amount off"))
    expires_on = DateField(_l("Last day it can be used (optional)"), validators=[Optional()])
    max_redemptions = StringField(_l("Most uses (optional)"))

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.currency.choices = [
            SelectChoice(code, str(CURRENCY_NAMES.get(code, code.upper()))) for code in price_currencies()
        ]
        if not self.currency.raw_data:  # not posted: the default currency
            self.currency.data = price_currencies()[0]

    def amount_currency(self) -> str:
        return self.currency.data if self.currency.data in price_currencies() else price_currencies()[0]

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        code = (self.code.data or "").strip()
        if not self.code.errors and not CODE_RULE.fullmatch(code):
            self.code.errors.append(_("Use 3 to 40 letters, digits or dashes, such as SPRING-30."))
            valid = False
        if self.expires_on.data and self.expires_on.data < dt.datetime.now(dt.UTC).date():
            self.expires_on.errors.append(_("Choose today or a later day."))
            valid = False
        limit = (self.max_redemptions.data or "").strip()
        if limit and not (_whole(limit) and 1 <= _whole(limit) <= MAX_REDEMPTIONS):
            self.max_redemptions.errors.append(
                _(
                    "Enter a whole number from 1 to %(most)s, or leave it empty.",
                    most=format_number(MAX_REDEMPTIONS),
                )
            )
            valid = False
        return valid

    def code_params(self) -> dict:
        params: dict = {}
        if self.expires_on.data:
            end = dt.datetime.combine(self.expires_on.data, dt.time(23, 59, 59), dt.UTC)
            params["expires_at"] = int(end.timestamp())
        if _whole(self.max_redemptions.data):
            params["max_redemptions"] = _whole(self.max_redemptions.data)
        return params


class RetentionCouponForm(DiscountTermsForm):
    """The retention offer's terms (e.g. 30% off for 3 months)."""
