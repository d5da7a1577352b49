"""``PortalForm``: the base of every form. Each text field refuses what ``portal.text`` refuses, and
WTForms' own messages ("Not a valid integer value.") come from the portal's catalogue: WTForms ships
no Vietnamese, so Flask-WTF's i18n (its ``wtforms`` domain) would leave them in English."""

from __future__ import annotations

from decimal import Decimal

import flask_babel
from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_wtf import FlaskForm
from wtforms import Field, HiddenField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, StopValidation, ValidationError

from portal.formatting import minor_unit_exponent
from portal.text import N_, text_problem

#: How each currency a price or an amount off may be in reads in a form's select.
CURRENCY_NAMES = {"usd": _l("US dollars (USD)"), "vnd": _l("Vietnamese dong (VND)")}


def price_currencies() -> list[str]:
    """The currencies the portal prices in: ``BILLING_CURRENCY`` first (``usd``), then
    ``BILLING_OTHER_CURRENCIES`` (``vnd``), each with its own prices (``BILLING_VND_*``)."""
    cfg = current_app.config
    base = cfg["BILLING_CURRENCY"].lower()
    others = cfg.get("BILLING_OTHER_CURRENCIES") or ()
    return [base, *(code.lower() for code in others if code.lower() != base)]


class PlainText:
    """Refuse control characters, bidi marks and (unless ``multiline``) line breaks; runs first."""

    def __init__(self, multiline: bool = False) -> None:
        self.multiline = multiline

    def __call__(self, form: FlaskForm, field: Field) -> None:
        if isinstance(field.data, str):
            problem = text_problem(field.data, self.multiline)
            if problem:
                raise StopValidation(problem)


class CatalogueTranslations:
    """WTForms' translations object: its messages read in the request's language, from the portal's
    own catalogue (``WTFORMS_MESSAGES`` puts them there); WTForms fills their placeholders after."""

    def gettext(self, string: str) -> str:
        return flask_babel.get_translations().gettext(string)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return flask_babel.get_translations().ngettext(singular, plural, n)


CATALOGUE_TRANSLATIONS = CatalogueTranslations()

#: WTForms' own messages a field of ours can show (those with no message of our own), marked for
#: pybabel's extraction; the plural ones are in ``_wtforms_plural_messages``.
WTFORMS_MESSAGES = (
    N_("This field is required."),
    N_("Invalid input."),
    N_("Invalid email address."),
    N_("Not a valid choice."),
    N_("Invalid Choice: could not coerce."),
    N_("Not a valid integer value."),
    N_("Not a valid decimal value."),
    N_("Not a valid float value."),
    N_("Not a valid date value."),
    N_("Not a valid datetime value."),
    N_("Number must be at least %(min)s."),
    N_("Number must be at most %(max)s."),
    N_("Number must be between %(min)s and %(max)s."),
    N_("Field must be equal to %(other_name)s."),
    N_("Field must be between %(min)d and %(max)d characters long."),
    N_("Invalid URL."),
)


def _wtforms_plural_messages() -> None:  # pragma: no cover - never called: it marks for extraction
    ngettext(
        "Field must be at least %(min)d character long.", "Field must be at least %(min)d characters long.", 1
    )
    ngettext(
        "Field cannot be longer than %(max)d character.", "Field cannot be longer than %(max)d characters.", 1
    )


class PortalForm(FlaskForm):
    """Every form's base: text fields (names, emails, passwords, hidden keys, textareas) get
    ``PlainText`` without each form having to remember it. tests/edges/test_text_fields.py checks
    that every form derives from this one."""

    class Meta:
        def get_translations(self, form):
            return CATALOGUE_TRANSLATIONS

        def bind_field(self, form, unbound_field, options):
            field = super().bind_field(form, unbound_field, options)
            if isinstance(field, StringField):
                multiline = isinstance(field, TextAreaField)
                field.validators = [PlainText(multiline), *field.validators]
            return field


#: The longest reason a refund keeps (Stripe's metadata value holds 500 characters).
REFUND_REASON_MAX = 400


def refund_reason_field(label: str) -> TextAreaField:
    """The admin's own words for a refund (History keeps them), on every refund form."""
    return TextAreaField(
        label,
        validators=[
            DataRequired(_l("Say why you are refunding.")),
            Length(
                max=REFUND_REASON_MAX,
                message=_l("Keep the reason under %(most)s characters.", most=REFUND_REASON_MAX),
            ),
        ],
    )


class RefundForm(PortalForm):
    """A platform admin's refund form: at most ``most`` (what is left, in the form's own unit) of
    something paid in ``currency``; ``attempt`` is the key made when the form was drawn (a double
    submit refunds once) and ``left_when_drawn`` what was left then (a tab drawn before another
    refund refunds nothing: the admin decided on a figure that is no longer true)."""

    attempt = HiddenField()
    left_when_drawn = HiddenField()

    def __init__(self, *args, most: int = 1, currency: str = "usd", **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.most = most
        self.currency = currency

    def validate_left_when_drawn(self, field: HiddenField) -> None:
        text = field.data or ""
        if not (text.isascii() and text.isdigit() and len(text) <= 15):
            raise ValidationError(_("This form has expired. Reload the page and try again."))

    @property
    def form_problem(self) -> str | None:
        """A hidden field's error: no field shows it, so the page says it above the form."""
        return next(iter(self.left_when_drawn.errors), None)

    @property
    def drawn_left(self) -> int:
        return int(self.left_when_drawn.data)

    def draw(self, left: int) -> None:
        """Drawn now, for what is left now (a refused form comes back showing today's figure)."""
        self.left_when_drawn.data = str(left)


def minor_units(text: str, currency: str) -> int | None:
    """An amount typed in the currency's main unit -> Stripe's minor units, with the currency's own
    digits (``"25.5"`` USD -> 2550, ``"1,025"`` VND -> 1025); None for anything else (signs,
    letters, more digits after the point than the currency has)."""
    digits = minor_unit_exponent(currency)
    whole, dot, fraction = (text or "").strip().replace(",", "").partition(".")
    if not (whole.isascii() and whole.isdigit()) or len(whole) > 12 - digits:
        return None
    if dot and not (fraction.isascii() and fraction.isdigit() and 1 <= len(fraction) <= digits):
        return None
    return int(whole) * 10**digits + int((fraction or "0").ljust(digits, "0")[:digits] or "0")


def amount_text(minor: int, currency: str) -> str:
    """Minor units as typed into an amount field: ``"598.00"`` USD, ``"499000"`` VND."""
    digits = minor_unit_exponent(currency)
    return f"{Decimal(minor).scaleb(-digits):.{digits}f}"
