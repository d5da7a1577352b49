"""``PortalForm``: the base of every form. Each text field refuses what ``portal.text`` refuses, and
WTForms' own messages ("Not a valid integer value.") come from the portal's catalogue: WTForms ships
no Vietnamese, so Flask-WTF's i18n (its ``wtforms`` domain) would leave them in English."""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal

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


class UnclearNumber(ValueError):
    """A number typed with separators the page's language does not use that way ("1,50" on an English
    page: one dollar fifty, or a hundred and fifty?). Its ``message`` says how to write it."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def read_number(text: str | None, places: int, locale: str | None = None) -> Decimal | None:
    """A number typed the way the page's language writes it (``locale``, else the page's): ``"1,50"``
    is 1.5 in Vietnamese; ``"1,234.5"`` 1234.5 in English. The one reader of every typed amount,
    percentage and price (Babel's ``parse_decimal``, strict): ASCII digits and the language's two
    separators only (no sign, exponent, full-width or other script's digits), at most ``places``
    digits after the decimal separator. None for anything else; ``UnclearNumber`` when the
    separators do not fit the language ("1,50" or "1.234,5" in English), never a guess."""
    from babel.numbers import NumberFormatError, get_decimal_symbol, get_group_symbol, parse_decimal

    from portal.i18n import current_locale

    locale = locale or current_locale()
    text = (text or "").strip()
    point, group = get_decimal_symbol(locale), get_group_symbol(locale)
    if not text or any(not ("0" <= c <= "9") and c not in (point, group) for c in text):
        return None
    if not any("0" <= c <= "9" for c in text):
        return None
    try:
        value = parse_decimal(text, locale=locale, strict=True)
    except NumberFormatError as problem:
        if not problem.suggestions:
            return None
        raise UnclearNumber(_separators_message(places, locale)) from None
    if not value.is_finite() or -value.as_tuple().exponent > places:
        return None
    return value


def _separators_message(places: int, locale: str) -> str:
    from babel.numbers import get_decimal_symbol, get_group_symbol

    example = format_typed(
        Decimal("1234.5678").quantize(Decimal(1).scaleb(-places), ROUND_DOWN), places, locale, group=True
    )
    if places:
        return _(
            "We cannot tell which number that is. Write it like %(example)s: "
            "“%(group)s” between thousands, “%(point)s” before the decimals.",
            example=example,
            group=get_group_symbol(locale),
            point=get_decimal_symbol(locale),
        )
    return _(
        "We cannot tell which number that is. Write it like %(example)s, with no decimals.",
        example=example,
    )


def format_typed(value: Decimal, places: int, locale: str | None = None, group: bool = False) -> str:
    """A number as ``read_number`` takes it in ``locale`` (else the page's): ``25.00`` in English,
    ``25,00`` in Vietnamese; ``group`` adds the thousands separators (an example, not a form value)."""
    from babel.numbers import format_decimal

    from portal.i18n import current_locale

    pattern = ("#,##0" if group else "0") + ("." + "0" * places if places else "")
    return format_decimal(value, format=pattern, locale=locale or current_locale(), decimal_quantization=True)


def minor_units(text: str, currency: str, locale: str | None = None) -> int | None:
    """An amount typed in the currency's main unit, in the page's language (``read_number``) ->
    Stripe's minor units, with the currency's own digits (``"25.5"`` USD -> 2550, ``"1,025"`` VND ->
    1025 in English; ``"25,5"`` USD -> 2550 in Vietnamese); None for anything else (signs,
    letters, more digits after the point than the currency has). Raises ``UnclearNumber``."""
    digits = minor_unit_exponent(currency)
    value = read_number(text, digits, locale)
    if value is None:
        return None
    minor = int(value.scaleb(digits))
    return minor if minor < 10**12 else None


def amount_text(minor: int, currency: str) -> str:
    """Minor units as typed into an amount field, in the page's language: ``"598.00"`` USD in
    English, ``"598,00"`` in Vietnamese, ``"499000"`` VND."""
    digits = minor_unit_exponent(currency)
    return format_typed(Decimal(minor).scaleb(-digits), digits)
